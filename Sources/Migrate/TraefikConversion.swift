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
                // Traefik sends no Access-Control-Max-Age unless told: Gateway API's default then.
                if let cors { filters.append(Manifest.corsFilter(cors, maxAge: cors.maxAge > 0 ? cors.maxAge : nil)) }
            case .stripPrefix(let prefixes):
                requestSet.append(HeaderValue(name: "X-Forwarded-Prefix", value: prefixes[0]))
            default: break
            }
        }
        return filters + [Manifest.headerModifier(response: false, set: requestSet.map { ($0.name, $0.value) }, remove: requestRemove),
                          Manifest.headerModifier(response: true, set: responseSet.map { ($0.name, $0.value) }, remove: responseRemove)].compactMap { $0 }
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
                return Self.rateLimitSpec(requests: requests, unit: unit, burst: burst)
            case .ipAllowList(let ranges, let depth):
                return Self.ipAllowListSpec(allow: ranges, deny: [], trustedProxyDepth: depth)
            default:
                return nil
            }
        }
    }
}
