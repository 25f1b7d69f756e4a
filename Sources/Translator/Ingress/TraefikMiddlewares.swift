import GatewayAPI
import RoutingTable

/// The Traefik Middlewares an Ingress names (`router.middlewares`), read once for both readings:
/// what each does, in the order Traefik applies them, and what of it archway can do.
public struct TraefikMiddlewareUse: Sendable, Equatable {
    public enum Effect: Sendable, Equatable {
        /// Removes the first listed prefix the path starts with (what is left gets a leading "/"), and
        /// sends the removed prefix as X-Forwarded-Prefix.
        case stripPrefix([String])
        case addPrefix(String)
        case replacePath(String)
        case replacePathRegex(regex: String, replacement: String)
        /// Request and response header edits (an empty value removes), CORS, security headers.
        case headers(request: HeaderEdits, response: HeaderEdits, cors: CORSPolicy?)
        /// Cleartext requests redirected to `scheme` (HTTPS requests pass).
        case redirectScheme(scheme: String, port: Int?, permanent: Bool)
        /// A redirectRegex that sends every request for `fromHost` to `scheme://host` with its path kept
        /// (the www / domain move it is mostly used for).
        case redirectHost(fromHost: String, scheme: String, host: String, permanent: Bool)
        case basicAuth(secret: String, realm: String?)
        case forwardAuth(address: String, responseHeaders: [String])
        case rateLimit(requests: Int, unit: String, burst: Int)
        case ipAllowList(ranges: [String], depth: Int)
        /// Tries in all (the first included), on connection errors.
        case retry(attempts: Int, intervalMillis: Int?)
        case unsupported(String)
    }

    /// The reference as written (`NAMESPACE-NAME@kubernetescrd`).
    public var reference: String
    /// The Middleware's kind of middleware (`stripPrefix`…), nil when it is not in the input.
    public var type: String?
    public var effect: Effect

    /// Middleware kinds archway does not convert but that cannot keep anyone out.
    static let harmlessTypes: Set<String> = ["compress", "buffering", "circuitBreaker", "inFlightReq", "errors", "contentType",
                                             "grpcWeb", "passTLSClientCert", "redirectRegex"]

    /// Known not to decide who gets in. Anything else — the auth and allow-list middlewares, a chain
    /// (it may hold one), a plugin, a Middleware missing from the input — may, and is not harmless.
    public var isHarmless: Bool {
        switch effect {
        case .stripPrefix, .addPrefix, .replacePath, .replacePathRegex, .headers, .redirectScheme, .redirectHost, .rateLimit, .retry: true
        case .basicAuth, .forwardAuth, .ipAllowList: false
        case .unsupported: type.map(Self.harmlessTypes.contains) ?? false
        }
    }

    public static func uses(_ ingress: Ingress, annotations: TraefikAnnotations, snapshot: ResourceSnapshot) -> [TraefikMiddlewareUse] {
        let namespace = ingress.metadata.namespace ?? "default"
        let middlewares = snapshot.ingressExtensions["Middleware"] ?? [:]
        return annotations.middlewares.map { reference in
            guard reference.hasSuffix("@kubernetescrd") else {
                return TraefikMiddlewareUse(reference: reference, type: nil, effect: .unsupported("only @kubernetescrd Middlewares can be read; file and other providers' middlewares are not in the cluster"))
            }
            let qualified = String(reference.dropLast("@kubernetescrd".count))
            // NAMESPACE-NAME (both may hold dashes: the Ingress's own namespace first), or NAMESPACE_NAME
            // as Traefik writes it with safeNaming.
            let own = qualified.hasPrefix(namespace + "-") ? middlewares[NamespacedName(namespace, String(qualified.dropFirst(namespace.count + 1)))] : nil
            let found = own ?? middlewares.first { ["\($0.key.namespace)-\($0.key.name)", "\($0.key.namespace)_\($0.key.name)"].contains(qualified) }?.value
            guard let found, case .map(let spec)? = found["spec"], let (type, config) = spec.first else {
                return TraefikMiddlewareUse(reference: reference, type: nil, effect: .unsupported("Middleware \(qualified) is not in the input (looked up as NAMESPACE-NAME)"))
            }
            return TraefikMiddlewareUse(reference: reference, type: type, effect: effect(type, config))
        }
    }

    private static func effect(_ type: String, _ config: ConfigValue) -> Effect {
        switch type {
        case "stripPrefix":
            let prefixes = config["prefixes"]?.texts ?? []
            return prefixes.isEmpty ? .unsupported("no prefixes") : .stripPrefix(prefixes)
        case "addPrefix":
            return config["prefix"]?.text.map { .addPrefix($0) } ?? .unsupported("no prefix")
        case "replacePath":
            return config["path"]?.text.map { .replacePath($0) } ?? .unsupported("no path")
        case "replacePathRegex":
            guard let regex = config["regex"]?.text, let replacement = config["replacement"]?.text else { return .unsupported("regex and replacement are both needed") }
            return .replacePathRegex(regex: regex, replacement: replacement)
        case "headers":
            return headers(config)
        case "redirectScheme":
            return .redirectScheme(scheme: config["scheme"]?.text ?? "https", port: config["port"]?.int, permanent: config["permanent"]?.bool ?? false)
        case "redirectRegex":
            guard let regex = config["regex"]?.text, let replacement = config["replacement"]?.text else { return .unsupported("regex and replacement are both needed") }
            return hostRedirect(regex: regex, replacement: replacement, permanent: config["permanent"]?.bool ?? false)
                ?? .unsupported("only a redirect of a whole host keeping the path (^https?://HOST/(.*) to SCHEME://HOST/${1}) can be said by Gateway API's RequestRedirect")
        case "basicAuth":
            return config["secret"]?.text.map { .basicAuth(secret: $0, realm: config["realm"]?.text) } ?? .unsupported("no secret")
        case "forwardAuth":
            return config["address"]?.text.map { .forwardAuth(address: $0, responseHeaders: config["authResponseHeaders"]?.texts ?? []) } ?? .unsupported("no address")
        case "rateLimit":
            return rateLimit(config)
        case "ipAllowList", "ipWhiteList":
            let ranges = config["sourceRange"]?.texts ?? []
            return ranges.isEmpty ? .unsupported("no sourceRange") : .ipAllowList(ranges: ranges, depth: config["ipStrategy"]?["depth"]?.int ?? 0)
        case "retry":
            guard let attempts = config["attempts"]?.int, attempts > 0 else { return .unsupported("no positive attempts") }
            return .retry(attempts: attempts, intervalMillis: config["initialInterval"]?.text.flatMap(durationMillis))
        default:
            return .unsupported("the \(type) middleware has no archway equivalent")
        }
    }

    private static func headers(_ config: ConfigValue) -> Effect {
        func edits(_ key: String) -> HeaderEdits {
            guard case .map(let values)? = config[key] else { return HeaderEdits(set: [], add: [], remove: []) }
            let sorted = values.sorted { $0.key < $1.key }
            return HeaderEdits(set: sorted.compactMap { name, value in value.text.flatMap { $0.isEmpty ? nil : HeaderValue(name: name.lowercased(), value: $0) } },
                               add: [], remove: sorted.filter { $0.value.text?.isEmpty ?? true }.map { $0.key.lowercased() })
        }
        var response = edits("customResponseHeaders")
        // The security headers Traefik writes on every response.
        if let seconds = config["stsSeconds"]?.int, seconds > 0 {
            let value = "max-age=\(seconds)" + (config["stsIncludeSubdomains"]?.bool == true ? "; includeSubDomains" : "")
                + (config["stsPreload"]?.bool == true ? "; preload" : "")
            response.set.append(HeaderValue(name: "strict-transport-security", value: value))
        }
        if let frame = config["customFrameOptionsValue"]?.text { response.set.append(HeaderValue(name: "x-frame-options", value: frame)) }
        else if config["frameDeny"]?.bool == true { response.set.append(HeaderValue(name: "x-frame-options", value: "DENY")) }
        if config["contentTypeNosniff"]?.bool == true { response.set.append(HeaderValue(name: "x-content-type-options", value: "nosniff")) }
        if config["browserXssFilter"]?.bool == true { response.set.append(HeaderValue(name: "x-xss-protection", value: "1; mode=block")) }
        for (key, header) in [("contentSecurityPolicy", "content-security-policy"), ("referrerPolicy", "referrer-policy"),
                              ("permissionsPolicy", "permissions-policy")] {
            if let value = config[key]?.text { response.set.append(HeaderValue(name: header, value: value)) }
        }
        let origins = config["accessControlAllowOriginList"]?.texts ?? []
        let cors = origins.isEmpty ? nil : CORSPolicy(
            allowOrigins: origins, allowCredentials: config["accessControlAllowCredentials"]?.bool ?? false,
            allowMethods: config["accessControlAllowMethods"]?.texts ?? [], allowHeaders: config["accessControlAllowHeaders"]?.texts ?? [],
            exposeHeaders: config["accessControlExposeHeaders"]?.texts ?? [], maxAge: config["accessControlMaxAge"]?.int ?? 0)
        return .headers(request: edits("customRequestHeaders"), response: response, cors: cors)
    }

    private static func rateLimit(_ config: ConfigValue) -> Effect {
        guard let average = config["average"]?.int, average > 0 else { return .unsupported("average 0 means no limit in Traefik") }
        let written = config["period"]?.text
        guard let period = written.map(durationMillis) ?? 1000 else { return .unsupported("period \(written ?? "") is not a duration") }
        let burst = config["burst"]?.int ?? 1
        for (millis, unit) in [(1000, "Second"), (60_000, "Minute"), (3_600_000, "Hour")] where period == millis {
            return .rateLimit(requests: average, unit: unit, burst: max(burst, average))
        }
        return .unsupported("a period of \(config["period"]?.text ?? "?") is not one second, minute or hour")
    }

    /// redirectRegex as a scheme or host redirect keeping the path: `REGEX` is `^SCHEMES://HOST/(.*)`
    /// (SCHEMES `http`, `https`, `https?` or `(http|https)`, `$` allowed at the end) and the replacement
    /// `SCHEME://HOST2/${N}` with N the `(.*)` group. From cleartext only to https on the same host, it is
    /// redirectScheme; from both schemes, a host redirect. nil for anything else.
    static func hostRedirect(regex: String, replacement: String, permanent: Bool) -> Effect? {
        guard let source = regex.wholeMatch(of: #/\^(https\?|http|https|\(https\?\)|\(http\|https\))://((?:[A-Za-z0-9-]|\\.)+)/\(\.\*\)\$?/#),
              let target = replacement.wholeMatch(of: #/(https?)://([A-Za-z0-9.-]+)/\$\{?([0-9])\}?/#) else { return nil }
        let schemes = String(source.output.1), host = source.output.2.replacingOccurrences(of: "\\.", with: ".")
        guard Int(target.output.3) == (schemes.hasPrefix("(") ? 2 : 1) else { return nil }
        let (toScheme, toHost) = (String(target.output.1), String(target.output.2))
        switch schemes {
        case "http" where toScheme == "https" && toHost == host: return .redirectScheme(scheme: "https", port: nil, permanent: permanent)
        case "http", "https": return nil
        default: return .redirectHost(fromHost: host, scheme: toScheme, host: toHost, permanent: permanent)
        }
    }

    /// Traefik's durations: Go's, or a bare number of seconds.
    static func durationMillis(_ text: String) -> Int? {
        Int(text).map { $0 * 1000 } ?? GoDuration.millis(text)
    }
}
