import GatewayAPI
import RoutingTable
import Translator
import Yams

/// Traefik's paths and Middlewares as Gateway API (what Traefik does with them is in
/// TraefikAnnotations and TraefikMiddlewareUse).
extension PathConversion {
    static func traefik(_ path: Ingress.Path, _ annotations: TraefikAnnotations, _ uses: [TraefikMiddlewareUse]) -> PathConversion {
        let value = path.path ?? "/"
        let matcher = path.pathType == .Exact ? "Path" : path.pathType == .Prefix ? "PathPrefix" : annotations.pathMatcher
        var conversion: PathConversion
        switch matcher {
        case "Path": conversion = PathConversion(matches: [.exact(value)])
        case "PathRegexp": conversion = PathConversion(matches: [.regex("(?:" + value + ").*")])
        default:
            conversion = PathConversion(matches: [.prefix(value)])
            if value.hasSuffix("/") && value != "/" {
                conversion.accepted = [(.prefixWithoutSlash(String(value.dropLast())), "PathPrefix \(value) also matches \(value.dropLast()), which Traefik's PathPrefix(`\(value)`) does not")]
            } else if value != "/" {
                conversion.accepted = [(.segmentPrefix(value), "Traefik's PathPrefix(`\(value)`) is a string prefix (it also matches \(value)x, traefik/traefik#11200); Gateway API's PathPrefix matches whole path segments, as the Ingress spec defines Prefix")]
            }
        }
        let rewrites = uses.filter {
            switch $0.effect { case .stripPrefix, .addPrefix, .replacePath, .replacePathRegex: true; default: false }
        }
        guard let only = rewrites.first else { return conversion }
        let prefixRule = matcher == "PathPrefix"
        let trimmed = value.count > 1 && value.hasSuffix("/") ? String(value.dropLast()) : value
        switch (only.effect, rewrites.count) {
        case (.stripPrefix(let prefixes), 1) where prefixRule && prefixes.contains(trimmed) && value != "/":
            conversion.rewrite = .prefixMatch("/")
        case (.addPrefix(let prefix), 1) where prefixRule:
            conversion.rewrite = .prefixMatch(value == "/" ? prefix : prefix + trimmed)
        case (.replacePath(let replacement), 1):
            conversion.rewrite = .fullPath(replacement)
        default:
            conversion.accepted.append((.pathNotRewritten,
                                        "the Middlewares \(rewrites.map(\.reference).joined(separator: ", ")) rewrite the path in a way Gateway API's URLRewrite cannot say for \(matcher)(`\(value)`); the backend gets the path unchanged"))
        }
        return conversion
    }
}

extension TraefikMiddlewareUse {
    /// The HTTPRoute filters of the headers middlewares and of stripPrefix (X-Forwarded-Prefix).
    static func filterNodes(_ uses: [TraefikMiddlewareUse]) -> [Node] {
        var requestSet: [HeaderValue] = [], requestRemove: [String] = [], responseSet: [HeaderValue] = [], responseRemove: [String] = []
        var filters: [Node] = []
        for use in uses {
            switch use.effect {
            case .headers(let request, let response, let cors):
                requestSet += request.set; requestRemove += request.remove
                responseSet += response.set; responseRemove += response.remove
                if let cors {
                    filters.append(Manifest.map([("type", Manifest.str("CORS")), ("cors", Manifest.map([
                        ("allowOrigins", Manifest.seq(cors.allowOrigins.map(Manifest.str))),
                        ("allowMethods", cors.allowMethods.isEmpty ? nil : Manifest.seq(cors.allowMethods.map(Manifest.str))),
                        ("allowHeaders", cors.allowHeaders.isEmpty ? nil : Manifest.seq(cors.allowHeaders.map(Manifest.str))),
                        ("exposeHeaders", cors.exposeHeaders.isEmpty ? nil : Manifest.seq(cors.exposeHeaders.map(Manifest.str))),
                        ("allowCredentials", Manifest.bool(cors.allowCredentials)), ("maxAge", cors.maxAge > 0 ? Manifest.int(cors.maxAge) : nil),
                    ]))]))
                }
            case .stripPrefix(let prefixes):
                requestSet.append(HeaderValue(name: "X-Forwarded-Prefix", value: prefixes[0]))
            default: break
            }
        }
        func modifier(_ type: String, _ key: String, set: [HeaderValue], remove: [String]) -> Node? {
            guard !set.isEmpty || !remove.isEmpty else { return nil }
            return Manifest.map([("type", Manifest.str(type)), (key, Manifest.map([
                ("set", set.isEmpty ? nil : Manifest.seq(set.map { Manifest.map([("name", Manifest.str($0.name)), ("value", Manifest.str($0.value))]) })),
                ("remove", remove.isEmpty ? nil : Manifest.seq(remove.map(Manifest.str))),
            ]))])
        }
        return filters + [modifier("RequestHeaderModifier", "requestHeaderModifier", set: requestSet, remove: requestRemove),
                          modifier("ResponseHeaderModifier", "responseHeaderModifier", set: responseSet, remove: responseRemove)].compactMap { $0 }
    }

    /// The rule's `retry` of a retry middleware (Gateway API counts retries, Traefik tries).
    static func retryNode(_ uses: [TraefikMiddlewareUse]) -> Node? {
        guard let policy = Translator.traefikRetry(uses) else { return nil }
        return Manifest.map([("attempts", Manifest.int(policy.attempts)),
                             ("backoff", Manifest.str("\(policy.backoffMillis)ms"))])
    }
}

extension EdgeAnnotations {
    /// The archway policies of an Ingress's Traefik Middlewares.
    func traefikPolicies(_ uses: [TraefikMiddlewareUse]) -> [Made] {
        uses.compactMap { use -> Made? in
            switch use.effect {
            case .basicAuth(let secret, let realm):
                return ("BasicAuth", [("secretRef", Manifest.map([("name", Manifest.str(secret)), ("key", Manifest.str("users"))])),
                                      ("realm", realm.map(Manifest.str))])
            case .forwardAuth(let address, let headers):
                return ("ForwardAuth", [("url", Manifest.str(address)), ("responseHeaders", headers.isEmpty ? nil : Manifest.seq(headers.map(Manifest.str)))])
            case .rateLimit(let requests, let unit, let burst):
                return ("RateLimit", [("requests", Manifest.int(requests)), ("unit", Manifest.str(unit)), ("burst", Manifest.int(burst)),
                                      ("key", Manifest.map([("type", Manifest.str("ClientIP"))]))])
            case .ipAllowList(let ranges, let depth):
                return ("IPAllowList", [("allow", Manifest.seq(ranges.map(Manifest.str))), ("trustedProxyDepth", depth > 0 ? Manifest.int(depth) : nil)])
            default:
                return nil
            }
        }
    }
}
