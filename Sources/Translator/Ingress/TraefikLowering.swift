import GatewayAPI
import RoutingTable

/// Traefik's reading of an Ingress (TraefikAnnotations, TraefikMiddlewareUse), for IngressLowering.
extension Translator {
    /// `Path` for Exact (and `router.pathmatcher: Path`), a string prefix for `PathPrefix`, a regex
    /// from the start for `PathRegexp`. Traefik ranks routers by the length of their rule: longest first.
    static func traefikLocation(_ path: Ingress.Path, annotations: TraefikAnnotations, ingress: String, index: Int) -> (match: HTTPMatch, order: IngressOrder) {
        let value = path.path ?? "/"
        let matcher = path.pathType == .Exact ? "Path" : path.pathType == .Prefix ? "PathPrefix" : annotations.pathMatcher
        let order = IngressOrder(length: value.count, typeRank: matcher == "Path" ? 0 : 1, ingress: ingress, index: index)
        switch matcher {
        case "Path": return (HTTPMatch(path: .exact(value)), order)
        case "PathRegexp": return (HTTPMatch(path: .regularExpression("(?:" + value + ").*")), order)
        default: return (HTTPMatch(path: value == "/" ? .prefix("") : .regularExpression(escapeRegex(value) + ".*")), order)
        }
    }

    /// The Middlewares' filters, in Traefik's order; path rewrites chain as Traefik applies them.
    static func traefikFilters(_ uses: [TraefikMiddlewareUse]) -> [HTTPFilter] {
        var filters: [HTTPFilter] = []
        var rewrite: PathRewrite?
        var request = HeaderEdits(set: [], add: [], remove: [])
        for use in uses {
            switch use.effect {
            case .stripPrefix(let prefixes):
                let alternatives = prefixes.map(escapeRegex).joined(separator: "|")
                rewrite = .regexReplace(pattern: "(?:" + alternatives + ")/?(.*)", template: "/$1")
                // Traefik sends the prefix it removed; with several, only the first is said (the usual case is one).
                request.set.append(HeaderValue(name: "x-forwarded-prefix", value: prefixes[0]))
            case .addPrefix(let prefix): rewrite = .regexReplace(pattern: "(.*)", template: prefix + "$1")
            case .replacePath(let path): rewrite = .replaceFullPath(path)
            case .replacePathRegex(let regex, let replacement):
                rewrite = .regexReplace(pattern: regex, template: replacement.replacing(#/\$\{?([0-9])\}?/#) { "$" + $0.1 })
            case .headers(let requestEdits, let response, let cors):
                if let cors { filters.append(.cors(cors)) }
                request.set += requestEdits.set
                request.remove += requestEdits.remove
                if !response.set.isEmpty || !response.remove.isEmpty { filters.append(.responseHeaders(response)) }
            default: break
            }
        }
        // One request header filter: the table keeps one per entry.
        if !request.set.isEmpty || !request.remove.isEmpty { filters.append(.requestHeaders(request)) }
        if let rewrite { filters.append(.urlRewrite(hostname: nil, path: rewrite)) }
        return filters
    }

    /// The retry middleware: Traefik's attempts count the first try; retried on connection errors only.
    public static func traefikRetry(_ uses: [TraefikMiddlewareUse]) -> RetryPolicy? {
        for use in uses {
            if case .retry(let attempts, let interval) = use.effect, attempts > 1 {
                return RetryPolicy(codes: [], attempts: attempts - 1, backoffMillis: interval ?? RetryPolicy.defaultBackoffMillis)
            }
        }
        return nil
    }
}
