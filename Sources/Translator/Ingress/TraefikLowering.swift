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
        var rewrites: [PathRewrite] = []
        var request = HeaderEdits(set: [], add: [], remove: [])
        for use in uses {
            switch use.effect {
            case .stripPrefix(let prefixes):
                let alternatives = prefixes.map(escapeRegex).joined(separator: "|")
                rewrites.append(.regexReplace(pattern: "(?:" + alternatives + ")/?(.*)", template: "/$1"))
                // Traefik sends the prefix it removed; with several, only the first is said (the usual case is one).
                request.set.append(HeaderValue(name: "x-forwarded-prefix", value: prefixes[0]))
            case .addPrefix(let prefix): rewrites.append(.regexReplace(pattern: "(.*)", template: prefix + "$1"))
            case .replacePath(let path): rewrites.append(.replaceFullPath(path))
            case .replacePathRegex(let regex, let replacement): rewrites.append(goReplace(regex: regex, replacement: replacement))
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
        if let rewrite = chained(rewrites) { filters.append(.urlRewrite(hostname: nil, path: rewrite)) }
        return filters
    }

    /// Several path middlewares as the one rewrite Traefik's chain amounts to: stripPrefix then
    /// addPrefix is one; a replacePath makes everything before it moot. nil when there is none;
    /// other chains keep the last (`traefikRewritesServedAsWritten` says whether that is exact).
    static func chained(_ rewrites: [PathRewrite]) -> PathRewrite? {
        if rewrites.count == 2, case .regexReplace(let strip, "/$1") = rewrites[0], case .regexReplace("(.*)", let add) = rewrites[1] {
            return .regexReplace(pattern: strip, template: String(add.dropLast(2)) + "/$1")
        }
        return rewrites.last
    }

    /// Whether the served rewrite is the one Traefik's middlewares make (else the Ingress's status says so).
    public static func traefikRewritesServedAsWritten(_ uses: [TraefikMiddlewareUse]) -> Bool {
        let kinds = uses.compactMap { use -> String? in
            switch use.effect {
            case .stripPrefix: "strip"
            case .addPrefix: "add"
            case .replacePath: "replace"
            case .replacePathRegex(let regex, _): regex.hasPrefix("^") ? "regex" : "unanchored"
            default: nil
            }
        }
        return kinds.count <= 1 && kinds != ["unanchored"] || kinds == ["strip", "add"] || kinds.last == "replace"
    }

    /// Traefik's replacePathRegex (Go's ReplaceAllString) for a regex anchored at the start: what it
    /// matched becomes the replacement and the rest of the path stays (`^/api` → `/v2`: /api/x → /v2/x).
    static func goReplace(regex: String, replacement: String) -> PathRewrite {
        let template = replacement.replacing(#/\$\{?([0-9])\}?/#) { "$" + $0.1 }
        let anchored = regex.hasPrefix("^") ? String(regex.dropFirst()) : regex
        // The rest of the path is the group after the regex's own.
        var groups = 0, escaped = false, previous: Character = " "
        for character in anchored {
            if character == "(" && !escaped { groups += 1 }
            if character == "?" && previous == "(" && !escaped { groups -= 1 }  // (?:…), (?i) and the like capture nothing
            escaped = character == "\\" && !escaped
            previous = character
        }
        guard groups < 9 else { return .regexReplace(pattern: anchored, template: template) }
        return .regexReplace(pattern: "(?:" + anchored + ")(.*)", template: template + "$\(groups + 1)")
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
