import GatewayAPI
import RoutingTable

/// Kong Ingress Controller's reading of an Ingress (KongAnnotations says what it does), for
/// IngressLowering: the matches each path becomes and the filters its annotations and plugins add.
extension Translator {
    /// One match per method and header value combination (Kong: any listed method, any listed
    /// value of each header). Exact first (group -2), then regexes (-1), then prefixes longest
    /// first, as in Gateway API; routes with more conditions first within a path.
    static func kongLocations(_ path: Ingress.Path, annotations: KongAnnotations, ingress: String, index: Int) -> [(match: HTTPMatch, order: IngressOrder)] {
        let value = path.path ?? "/"
        let (match, order): (PathMatch, IngressOrder)
        switch path.pathType {
        case .Exact: (match, order) = (.exact(value), IngressOrder(group: -2, length: value.count, ingress: ingress, index: index))
        case .Prefix: (match, order) = (.prefix(value == "/" ? "" : value.hasSuffix("/") ? String(value.dropLast()) : value),
                                        IngressOrder(length: value.count, typeRank: 1, ingress: ingress, index: index))
        case .ImplementationSpecific:
            if let regex = KongAnnotations.regexPath(value) {
                (match, order) = (.regularExpression("(?:" + regex + ").*"), IngressOrder(group: -1, length: regex.count, ingress: ingress, index: index))
            } else {
                // Kong's plain path: a string prefix.
                (match, order) = (value == "/" ? .prefix("") : .regularExpression(escapeRegex(value) + ".*"),
                                  IngressOrder(length: value.count, typeRank: 2, ingress: ingress, index: index))
            }
        }
        var headerSets: [[ValueMatch]] = [[]]
        for header in annotations.headers {
            headerSets = headerSets.flatMap { set in
                header.values.map { written in
                    let (regex, text) = KongAnnotations.headerValue(written)
                    return set + [ValueMatch(name: header.name, kind: regex ? .regularExpression : .exact, value: text)]
                }
            }
        }
        let methods: [String?] = annotations.methods.isEmpty ? [nil] : annotations.methods
        return methods.flatMap { method in headerSets.map { (HTTPMatch(path: match, headers: $0, method: method), order) } }
    }

    /// strip-path, preserve-host and the cors plugin.
    static func kongFilters(_ annotations: KongAnnotations, plugins: [KongPluginUse], path: Ingress.Path, namespace: String) -> [HTTPFilter] {
        var filters: [HTTPFilter] = []
        for use in plugins {
            if case .cors(let policy) = use.effect { filters.append(.cors(policy)) }
        }
        let rewrite = annotations.stripPath ? kongStrip(path) : nil
        let host = annotations.preserveHost ? nil : path.backend.service.map { "\($0.name).\(namespace).svc" }
        if rewrite != nil || host != nil { filters.append(.urlRewrite(hostname: host, path: rewrite)) }
        return filters
    }

    /// What strip-path leaves of the path: the matched part removed, a "/" in front of the rest.
    static func kongStrip(_ path: Ingress.Path) -> PathRewrite {
        let value = path.path ?? "/"
        switch path.pathType {
        case .Exact: return .replaceFullPath("/")
        case .Prefix: return .replacePrefixMatch("/")
        case .ImplementationSpecific:
            let pattern = KongAnnotations.regexPath(value).map { "(?:" + $0 + ")" } ?? escapeRegex(value)
            return .regexReplace(pattern: pattern + "/?(.*)", template: "/$1")
        }
    }
}
