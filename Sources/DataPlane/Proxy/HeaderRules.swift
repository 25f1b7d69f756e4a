import NIOHTTP1
import RoutingTable

/// Header handling shared by requests and responses: hop-by-hop removal (RFC 9110 §7.6.1) and the
/// Gateway API header modifier semantics.
enum HeaderRules {
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
        "proxy-authenticate", "proxy-authorization",
    ]

    /// Removes hop-by-hop headers, including any the Connection header names.
    static func stripHopByHop(_ headers: inout HTTPHeaders) {
        var named: [String] = []
        for value in headers[canonicalForm: "connection"] {
            named.append(value.lowercased().trimmingSpaces())
        }
        headers.remove(name: "connection")
        for name in hopByHop { headers.remove(name: name) }
        for name in named where !name.isEmpty { headers.remove(name: name) }
    }

    /// `set` replaces, `add` appends to an existing value with a comma (one field, as the conformance
    /// suite expects), `remove` deletes; names compare case-insensitively.
    static func apply(_ edits: HeaderEdits, to headers: inout HTTPHeaders) {
        for header in edits.set { headers.replaceOrAdd(name: header.name, value: header.value) }
        for header in edits.add {
            let existing = headers[header.name]
            if existing.isEmpty {
                headers.add(name: header.name, value: header.value)
            } else {
                headers.replaceOrAdd(name: header.name, value: (existing + [header.value]).joined(separator: ","))
            }
        }
        for name in edits.remove { headers.remove(name: name) }
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        String(self.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

/// Path edits for URLRewrite and RequestRedirect.
enum PathRules {
    static func rewrite(_ path: Substring, with rewrite: PathRewrite, matchedPrefix: String?) -> String {
        switch rewrite {
        case .replaceFullPath(let replacement):
            return replacement
        case .replacePrefixMatch(let replacement):
            let prefix = matchedPrefix ?? ""
            let rest = path.hasPrefix(prefix) ? path.dropFirst(prefix.count) : path
            // rest is "" or starts with "/": join without doubling or losing the slash.
            var result = replacement.hasSuffix("/") && rest.hasPrefix("/") ? String(replacement.dropLast()) + rest : replacement + rest
            if result.isEmpty { result = "/" }
            return result
        }
    }

    /// Splits an origin-form or absolute-form request target into path and query.
    static func split(_ uri: String) -> (path: Substring, query: Substring?) {
        var target = Substring(uri)
        if target.hasPrefix("http://") || target.hasPrefix("https://") {
            let afterScheme = target.dropFirst(target.hasPrefix("https://") ? 8 : 7)
            target = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" }).map { afterScheme[$0...] } ?? "/"
        }
        if let mark = target.firstIndex(of: "?") {
            return (target[..<mark], target[target.index(after: mark)...])
        }
        return (target, nil)
    }
}

/// The Host header reduced to what routing compares: lowercased, port and trailing dot removed.
func routingHost(_ value: String) -> String {
    var host = Substring(value.lowercased())
    if host.hasPrefix("[") {
        if let end = host.firstIndex(of: "]") { host = host[...end] }
    } else if let colon = host.lastIndex(of: ":") {
        host = host[..<colon]
    }
    if host.hasSuffix(".") { host = host.dropLast() }
    return String(host)
}
