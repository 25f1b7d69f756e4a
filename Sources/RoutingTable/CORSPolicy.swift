/// A route's CORS filter: which origins may call it cross-origin, and what the browser is told.
/// Preflights are answered by the gateway; other requests from an allowed origin get the
/// Access-Control-* headers added to the backend's response.
public struct CORSPolicy: Sendable, Codable, Equatable {
    public var allowOrigins: [String]
    public var allowCredentials: Bool
    public var allowMethods: [String]
    public var allowHeaders: [String]
    public var exposeHeaders: [String]
    public var maxAge: Int

    public init(allowOrigins: [String], allowCredentials: Bool, allowMethods: [String], allowHeaders: [String],
                exposeHeaders: [String], maxAge: Int) {
        self.allowOrigins = allowOrigins
        self.allowCredentials = allowCredentials
        self.allowMethods = allowMethods
        self.allowHeaders = allowHeaders
        self.exposeHeaders = exposeHeaders
        self.maxAge = maxAge
    }

    /// Origins compare case-insensitively; `https://*.example.com` takes any depth of subdomain.
    public func allows(origin: String) -> Bool {
        let origin = origin.lowercased()
        return allowOrigins.contains { (configured: String) -> Bool in
            let pattern = configured.lowercased()
            if pattern == "*" || pattern == origin { return true }
            let parts = pattern.split(separator: "://", maxSplits: 1)
            guard parts.count == 2, parts[1].hasPrefix("*.") else { return false }
            let scheme = parts[0] + "://", suffix = parts[1].dropFirst()
            return origin.hasPrefix(scheme) && origin.hasSuffix(suffix) && origin.count > scheme.count + suffix.count
        }
    }

    /// The answer to a preflight from an allowed origin. A `*` in the configuration echoes what was
    /// asked, because browsers ignore a literal `*` on credentialed requests.
    public func preflightHeaders(origin: String, requestedMethod: String, requestedHeaders: String?) -> [(String, String)] {
        var headers = originHeaders(origin)
        let methods = allowMethods.contains("*") ? requestedMethod : allowMethods.joined(separator: ", ")
        if !methods.isEmpty { headers.append(("access-control-allow-methods", methods)) }
        let allowed = allowHeaders.contains("*") ? (requestedHeaders ?? "") : allowHeaders.joined(separator: ", ")
        if !allowed.isEmpty { headers.append(("access-control-allow-headers", allowed)) }
        headers.append(("access-control-max-age", String(maxAge)))
        return headers
    }

    /// Headers added to a non-preflight response for an allowed origin.
    public func responseHeaders(origin: String) -> [(String, String)] { originHeaders(origin) }

    private func originHeaders(_ origin: String) -> [(String, String)] {
        var headers = [("access-control-allow-origin", origin), ("vary", "Origin")]
        if allowCredentials { headers.append(("access-control-allow-credentials", "true")) }
        if !exposeHeaders.isEmpty { headers.append(("access-control-expose-headers", exposeHeaders.joined(separator: ", "))) }
        return headers
    }
}
