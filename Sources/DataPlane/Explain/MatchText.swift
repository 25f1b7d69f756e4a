import RoutingTable

/// How explain words a route's match conditions and filters, in the Gateway API's own terms.
enum MatchText {
    static func conditions(_ match: HTTPMatch) -> String {
        var parts: [String]
        switch match.path {
        case .exact(let value): parts = ["path Exact \(value)"]
        case .prefix(let value): parts = ["path PathPrefix \(value.isEmpty ? "/" : value)"]
        case .regularExpression(let value): parts = ["path RegularExpression \(value)"]
        }
        if let method = match.method { parts.append("method \(method)") }
        parts += match.headers.map { "header \(value($0))" }
        parts += match.queryParams.map { "query \(value($0))" }
        return "(" + parts.joined(separator: ", ") + ")"
    }

    /// Why the request failed the condition `mismatch` names.
    static func why(_ mismatch: MatchMismatch, _ match: HTTPMatch) -> String {
        switch mismatch {
        case .path:
            switch match.path {
            case .exact(let value): "the path is not exactly \(value)"
            case .prefix(let value): "the path does not start with the segments \(value)"
            case .regularExpression(let value): "the path does not match the regular expression \(value)"
            }
        case .method: "the method is not \(match.method ?? "")"
        case .header(let index, let present):
            present ? "header \(match.headers[index].name) is not \(value(match.headers[index], named: false))"
                : "header \(match.headers[index].name) is absent"
        case .queryParam(let index, let present):
            present ? "query parameter \(match.queryParams[index].name) is not \(value(match.queryParams[index], named: false))"
                : "query parameter \(match.queryParams[index].name) is absent"
        }
    }

    static func value(_ match: ValueMatch, named: Bool = true) -> String {
        let name = named ? "\(match.name) " : ""
        return match.kind == .exact ? "\(name)= \(match.value)" : "\(name)~ /\(match.value)/"
    }

    static func edits(_ edits: HeaderEdits) -> String {
        let parts = edits.set.map { "set \($0.name): \($0.value)" } + edits.add.map { "add \($0.name): \($0.value)" }
            + edits.remove.map { "remove \($0)" }
        return parts.joined(separator: "; ")
    }

    static func rewrite(_ rewrite: PathRewrite) -> String {
        switch rewrite {
        case .replaceFullPath(let path): "ReplaceFullPath \(path)"
        case .replacePrefixMatch(let prefix): "ReplacePrefixMatch \(prefix)"
        case .regexReplace(let pattern, let template): "rewrite-target \(pattern) → \(template)"
        }
    }
}
