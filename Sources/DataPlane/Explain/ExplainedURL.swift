import Foundation

/// The URL explain was given, as a client would split it.
struct ExplainedURL {
    var tls: Bool
    var hostname: String
    var port: Int
    /// What the Host field carries: host, and the port when it is not the scheme's default.
    var authority: String
    var requestTarget: String

    init(_ query: ExplainQuery) {
        var rest = Substring(query.url)
        tls = rest.lowercased().hasPrefix("https://")
        if let schemeEnd = rest.range(of: "://") { rest = rest[schemeEnd.upperBound...] }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        authority = String(rest[..<authorityEnd])
        let target = rest[authorityEnd...]
        requestTarget = target.isEmpty ? "/" : (target.first == "?" ? "/" + target : String(target))
        let defaultPort = tls ? 443 : 80
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]"), let port = Int(authority[authority.index(after: colon)...]) {
            hostname = String(authority[..<colon])
            self.port = port
            if port == defaultPort { authority = hostname }
        } else {
            hostname = authority
            port = defaultPort
        }
        hostname = hostname.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
    }
}
