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
}
