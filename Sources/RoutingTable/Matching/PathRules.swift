/// Pure request-target helpers shared by matching, rewrites and redirects.

/// Path edits for URLRewrite and RequestRedirect.
public enum PathRules {
    public static func rewrite(_ path: Substring, with rewrite: PathRewrite, matchedPrefix: String?) -> String {
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
        case .regexReplace(let pattern, let template):
            return regexReplace(path, pattern: pattern, template: template)
        }
    }

    /// nginx's `rewrite ^pattern template`: no match leaves the path alone.
    static func regexReplace(_ path: Substring, pattern: String, template: String) -> String {
        guard let regex = try? Regex("^(?:" + pattern + ")"), let match = try? regex.prefixMatch(in: path) else {
            return String(path)
        }
        var result = ""
        var characters = template[...]
        while let first = characters.first {
            characters = characters.dropFirst()
            if first == "$", let digit = characters.first?.wholeNumberValue {
                characters = characters.dropFirst()
                if digit < match.output.count, let group = match.output[digit].substring { result += group }
            } else {
                result.append(first)
            }
        }
        return result.hasPrefix("/") ? result : "/" + result
    }

    /// Splits an origin-form or absolute-form request target into path and query.
    public static func split(_ uri: String) -> (path: Substring, query: Substring?) {
        var target = Substring(uri)
        // Origin form (the usual one) needs no scheme check; the search is over bytes, not Characters.
        if target.utf8.first != UInt8(ascii: "/"), target.hasPrefix("http://") || target.hasPrefix("https://") {
            let afterScheme = target.dropFirst(target.hasPrefix("https://") ? 8 : 7)
            target = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" }).map { afterScheme[$0...] } ?? "/"
        }
        if let mark = target.utf8.firstIndex(of: UInt8(ascii: "?")) {
            return (target[..<mark], target[target.utf8.index(after: mark)...])
        }
        return (target, nil)
    }
}

/// The Host header reduced to what routing compares: lowercased, port and trailing dot removed.
public func routingHost(_ value: String) -> String {
    // Fast path: already lowercase, no port, no trailing dot (the usual Host header) → no allocation.
    var plain = true
    for byte in value.utf8 where (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "[") {
        plain = false
        break
    }
    if plain && value.utf8.last != UInt8(ascii: ".") { return value }
    var host = Substring(value.lowercased())
    if host.hasPrefix("[") {
        if let end = host.firstIndex(of: "]") { host = host[...end] }
    } else if let colon = host.lastIndex(of: ":") {
        host = host[..<colon]
    }
    if host.hasSuffix(".") { host = host.dropLast() }
    return String(host)
}
