/// Exact hosts in a hash map, `*.` wildcards as suffixes tried longest first, then a catch-all:
/// the lookup order the Gateway API gives hostnames, for listeners and virtual hosts alike.
public struct HostIndex<Value: Sendable>: Sendable {
    private var exact: [String: Value] = [:]
    private var wildcards: [(suffix: String, value: Value)] = []
    private var catchAll: Value?

    public init(_ entries: [(hostname: String?, value: Value)]) {
        for (hostname, value) in entries {
            guard let hostname, hostname != "*" else {
                if catchAll == nil { catchAll = value }
                continue
            }
            if hostname.hasPrefix("*.") {
                wildcards.append((String(hostname.dropFirst(1)), value))
            } else if exact[hostname] == nil {
                exact[hostname] = value
            }
        }
        wildcards.sort { $0.suffix.count > $1.suffix.count }
    }

    /// `host` must already be lowercased and stripped of its port.
    public func lookup(_ host: String) -> Value? {
        if let value = exact[host] { return value }
        for wildcard in wildcards where host.count > wildcard.suffix.count && host.hasSuffix(wildcard.suffix) {
            return wildcard.value
        }
        return catchAll
    }

    /// `body`'s first answer over every entry that covers `host`, most specific first: the exact
    /// host, the wildcards longest first, the catch-all. Costs nothing beyond `lookup` when the most
    /// specific entry answers.
    @inlinable
    public func firstAnswer<Answer>(_ host: String, _ body: (Value) -> Answer?) -> Answer? {
        if let value = exactValue(host), let answer = body(value) { return answer }
        for index in wildcardIndices where covers(wildcard: index, host) {
            if let answer = body(wildcardValue(index)) { return answer }
        }
        return catchAllValue.flatMap(body)
    }

    @usableFromInline func exactValue(_ host: String) -> Value? { exact[host] }
    @usableFromInline var wildcardIndices: Range<Int> { wildcards.indices }
    @usableFromInline func covers(wildcard index: Int, _ host: String) -> Bool {
        host.count > wildcards[index].suffix.count && host.hasSuffix(wildcards[index].suffix)
    }
    @usableFromInline func wildcardValue(_ index: Int) -> Value { wildcards[index].value }
    @usableFromInline var catchAllValue: Value? { catchAll }
}
