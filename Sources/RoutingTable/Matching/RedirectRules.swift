/// RequestRedirect's Location header, per the spec's port rules: an explicit port wins; otherwise a
/// changed scheme implies its well-known port, and an unchanged one keeps the listener's port; the
/// port is omitted when it is the scheme's default. No scheme means the request's own.
public enum RedirectRules {
    public static func location(_ redirect: Redirect, requestScheme: String = "http", host: String, path: Substring,
                                query: Substring?, listenerPort: Int, matchedPrefix: String?) -> String {
        let scheme = redirect.scheme ?? requestScheme
        let port: Int
        if let explicit = redirect.port {
            port = explicit
        } else if let newScheme = redirect.scheme {
            port = newScheme == "https" ? 443 : 80
        } else {
            port = listenerPort
        }
        let hostname = redirect.hostname ?? host
        let isDefaultPort = (scheme == "http" && port == 80) || (scheme == "https" && port == 443)
        let authority = isDefaultPort ? hostname : "\(hostname):\(port)"
        let newPath = redirect.path.map { PathRules.rewrite(path, with: $0, matchedPrefix: matchedPrefix) } ?? String(path)
        return "\(scheme)://\(authority)\(newPath)" + (query.map { "?" + $0 } ?? "")
    }
}
