import GatewayAPI
import RoutingTable
import Translator
import Yams

/// Kong Ingress Controller's paths, conditions, plugins and annotations as Gateway API (what Kong
/// does with them is in KongAnnotations and KongPluginUse).
extension PathConversion {
    static func kong(_ path: Ingress.Path, _ annotations: KongAnnotations) -> PathConversion {
        let value = path.path ?? "/"
        let strip = annotations.stripPath
        switch path.pathType {
        case .Exact:
            return PathConversion(matches: [.exact(value)], rewrite: strip ? .fullPath("/") : nil)
        case .Prefix:
            return PathConversion(matches: [.prefix(value)], rewrite: strip && value != "/" ? .prefixMatch("/") : nil)
        case .ImplementationSpecific:
            if let regex = KongAnnotations.regexPath(value) {
                var conversion = PathConversion(matches: [.regex("(?:" + regex + ").*")])
                if strip {
                    conversion.accepted = [(.pathNotRewritten, "strip-path removes what the regex \(regex) matched; Gateway API cannot rewrite by a regular expression, so the backend gets the whole path")]
                }
                return conversion
            }
            var conversion = PathConversion(matches: [.prefix(value)], rewrite: strip && value != "/" ? .prefixMatch("/") : nil)
            if value != "/" && !value.hasSuffix("/") {
                conversion.accepted = [(.segmentPrefix(value), "Kong's plain path \(value) is a string prefix (it also matches \(value)x); PathPrefix \(value) matches whole path segments")]
            }
            return conversion
        }
    }
}

extension KongAnnotations {
    /// Each path match with every method and header value combination Kong accepts.
    func expand(_ pathMatches: [Node]) -> [Node] {
        var headerSets: [[Node]] = [[]]
        for header in headers {
            headerSets = headerSets.flatMap { set in
                header.values.map { written in
                    let (regex, text) = Self.headerValue(written)
                    return set + [Manifest.map([("type", regex ? Manifest.str("RegularExpression") : nil), ("name", Manifest.str(header.name)),
                                                ("value", Manifest.str(text))])]
                }
            }
        }
        let methodList: [String?] = methods.isEmpty ? [nil] : methods
        return pathMatches.flatMap { match in
            guard case .mapping(let mapping) = match else { return [match] }
            let path = mapping["path"]
            return methodList.flatMap { method in
                headerSets.map { set in
                    Manifest.map([("path", path), ("headers", set.isEmpty ? nil : Manifest.seq(set)), ("method", method.map(Manifest.str))])
                }
            }
        }
    }
}

extension KongPluginUse {
    /// The HTTPRoute CORS filter of a cors plugin.
    var corsFilter: Node? {
        guard case .cors(let policy) = effect else { return nil }
        return Manifest.corsFilter(policy, maxAge: policy.maxAge)
    }
}

extension EdgeAnnotations {
    /// The archway policies of an Ingress's Kong plugins, and the Secrets the user must create for them.
    func kongPolicies(_ uses: [KongPluginUse]) -> [Made] {
        uses.compactMap { use -> Made? in
            switch use.effect {
            case .rateLimit(let requests, let unit, _):
                return Self.rateLimitSpec(requests: requests, unit: unit, burst: nil)
            case .ipRestriction(let allow, let deny):
                return Self.ipAllowListSpec(allow: allow, deny: deny)
            case .keyAuth(let names):
                return ("APIKeyAuth", [("secretRef", Manifest.map([("name", Manifest.str("\(ingress.metadata.name)-api-keys"))])),
                                       ("header", Manifest.str(names[0]))])
            case .basicAuth:
                return ("BasicAuth", [("secretRef", Manifest.map([("name", Manifest.str("\(ingress.metadata.name)-htpasswd")),
                                                                  ("key", Manifest.str("auth"))]))])
            case .cors, .unsupported:
                return nil
            }
        }
    }
}
