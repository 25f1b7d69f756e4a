import GatewayAPI
import RoutingTable

/// APISIX Ingress Controller's reading of an Ingress (APISIXAnnotations says what it does), for
/// IngressLowering: the matches each path becomes and the filters its annotations add.
extension Translator {
    /// One match per allowed method (none: any method). Exact first (group -2), use-regex paths
    /// next (-1), then the URIs longest first, as APISIX's router tries the most specific first.
    static func apisixLocations(_ path: Ingress.Path, annotations: APISIXAnnotations, ingress: String, index: Int) -> [(match: HTTPMatch, order: IngressOrder)] {
        let value = path.path ?? "/"
        let (match, order): (PathMatch, IngressOrder)
        switch path.pathType {
        case .Exact:
            (match, order) = (.exact(value), IngressOrder(group: -2, length: value.count, ingress: ingress, index: index))
        case .Prefix:
            // "/foo" is "/foo" and "/foo/*"; "/foo/" is "/foo/" and "/foo/*", which leaves "/foo" out.
            (match, order) = (ingressPathMatch(value, type: .Prefix).path, IngressOrder(length: value.count, typeRank: 1, ingress: ingress, index: index))
        case .ImplementationSpecific where annotations.useRegex:
            (match, order) = (.regularExpression(APISIXAnnotations.searchRegex(value)), IngressOrder(group: -1, length: value.count, ingress: ingress, index: index))
        case .ImplementationSpecific where value.hasSuffix("*"):
            let stem = String(value.dropLast())
            (match, order) = (.regularExpression(escapeRegex(stem) + ".*"), IngressOrder(length: stem.count, typeRank: 2, ingress: ingress, index: index))
        case .ImplementationSpecific:
            (match, order) = (.exact(value), IngressOrder(group: -2, length: value.count, ingress: ingress, index: index))
        }
        let methods: [String?] = annotations.methods ?? [nil]
        return methods.map { (HTTPMatch(path: match, method: $0), order) }
    }

    /// enable-cors, and rewrite-target (the whole path) or rewrite-target-regex (its first match).
    static func apisixFilters(_ annotations: APISIXAnnotations) -> [HTTPFilter] {
        var filters: [HTTPFilter] = []
        if let cors = annotations.cors { filters.append(.cors(cors)) }
        // The proxy-rewrite plugin takes `uri` before `regex_uri`.
        if let target = annotations.rewriteTarget {
            filters.append(.urlRewrite(hostname: nil, path: .replaceFullPath(target)))
        } else if let (pattern, template) = annotations.regexReplace {
            filters.append(.urlRewrite(hostname: nil, path: .regexReplace(pattern: pattern, template: template)))
        }
        return filters
    }
}
