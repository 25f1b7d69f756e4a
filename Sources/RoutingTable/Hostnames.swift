/// Gateway API hostname rules: a wildcard is a leading `*.` label that stands for one or more labels.
public enum Hostnames {
    /// Does `pattern` (exact or `*.` wildcard) cover `host` (exact, or a wildcard that is at least as narrow)?
    public static func covers(_ pattern: String, _ host: String) -> Bool {
        if pattern == host { return true }
        guard pattern.hasPrefix("*.") else { return false }
        let suffix = pattern.dropFirst(1)  // ".example.com"
        return host.count > suffix.count && host.hasSuffix(suffix)
    }

    /// The hostnames a route serves through a listener (nil listener hostname = any host):
    /// `["*"]` when neither restricts, `[]` when they do not intersect.
    public static func intersect(listener: String?, route: [String]) -> [String] {
        guard let listener else { return route.isEmpty ? ["*"] : route }
        if route.isEmpty { return [listener] }
        var result: [String] = []
        for hostname in route {
            let effective: String?
            if covers(listener, hostname) {
                effective = hostname
            } else if covers(hostname, listener) {
                effective = listener
            } else {
                effective = nil
            }
            if let effective, !result.contains(effective) { result.append(effective) }
        }
        return result
    }

    /// Sort key: exact hosts first, then wildcards with more characters, then the catch-all.
    public static func specificityOrder(_ a: String?, _ b: String?) -> Bool {
        specificity(a) < specificity(b)
    }

    /// What `specificityOrder` compares, for sorting many hostnames with each ranked once.
    public static func specificity(_ h: String?) -> Specificity {
        guard let h, h != "*" else { return Specificity(kind: 2, length: 0, name: "") }
        return Specificity(kind: h.hasPrefix("*.") ? 1 : 0, length: -h.count, name: h)
    }

    public struct Specificity: Comparable, Sendable {
        var kind: Int
        var length: Int
        var name: String
        public static func < (a: Specificity, b: Specificity) -> Bool { (a.kind, a.length, a.name) < (b.kind, b.length, b.name) }
    }
}
