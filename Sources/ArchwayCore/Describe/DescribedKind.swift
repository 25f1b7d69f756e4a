import GatewayAPI

/// The kinds `archway describe` takes, spelled as kubectl users type them: case-insensitive, singular
/// or plural, or a short name (`gw`, `httproute`, `gc`).
public enum DescribedKind {
    /// Kind → other spellings (lowercased). The kind itself, lowercased and with an "s", is always accepted.
    static let aliases: [String: [String]] = [
        "GatewayClass": ["gc", "gatewayclasses"],
        "Gateway": ["gw"],
        "ListenerSet": ["ls", "lset"],
        "HTTPRoute": ["httproutes", "route", "routes"],
        "GRPCRoute": ["grpcroutes"],
        "TCPRoute": [], "TLSRoute": [], "UDPRoute": [],
        "ReferenceGrant": ["refgrant"],
        "BackendTLSPolicy": ["btlspolicy", "backendtlspolicies"],
        "BackendTrafficPolicy": ["btp", "backendtrafficpolicies"],
        "ServiceLevelObjective": ["slo", "slos"],
        "AddressPool": [], "ACMEIssuer": [], "Rollout": [],
        "Service": ["svc"], "Ingress": ["ing", "ingresses"],
    ]

    /// Every kind describe knows, archway's edge policies included.
    static var all: [String] { Array(aliases.keys) + EdgePolicy.Kind.allCases.map(\.rawValue) }

    /// The kind's canonical name, nil when nothing matches.
    public static func canonical(_ typed: String) -> String? {
        let lowered = typed.lowercased()
        // A group suffix, as in `httproutes.gateway.networking.k8s.io`, is dropped.
        let bare = lowered.split(separator: ".").first.map(String.init) ?? lowered
        for kind in all {
            let name = kind.lowercased()
            if bare == name || bare == name + "s" || bare == name + "es" || aliases[kind, default: []].contains(bare) { return kind }
        }
        return nil
    }

    public static func isClusterScoped(_ kind: String) -> Bool { ["GatewayClass", "AddressPool", "ACMEIssuer"].contains(kind) }

    /// `KIND/NAME` as kubectl takes it, or an error saying what was expected.
    public static func parse(_ text: String) throws(DescribeError) -> (kind: String, name: String) {
        let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw DescribeError("expected KIND/NAME (e.g. gateway/web, httproute/shop), got '\(text)'")
        }
        guard let kind = canonical(parts[0]) else {
            let suggestion = KnownKinds.closest(to: parts[0], among: all).map { "; did you mean \($0)?" } ?? ""
            throw DescribeError("unknown kind '\(parts[0])'\(suggestion) (kinds: \(all.sorted().joined(separator: ", ")))")
        }
        return (kind, parts[1])
    }
}

public struct DescribeError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
