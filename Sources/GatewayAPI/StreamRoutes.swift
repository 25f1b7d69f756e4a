/// TCPRoute, UDPRoute and TLSRoute (gateway.networking.k8s.io v1alpha2/v1) share one shape: parent
/// references, rules that are only weighted backendRefs, and (TLSRoute only) SNI hostnames.
public struct StreamRoute: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case tcp = "TCPRoute"
        case udp = "UDPRoute"
        case tls = "TLSRoute"
    }
    public struct Spec: Codable, Sendable, Equatable {
        public var parentRefs: [ParentReference]?
        public var hostnames: [String]?
        public var rules: [Rule]?
    }
    public struct Rule: Codable, Sendable, Equatable {
        public var name: String?
        public var backendRefs: [BackendReference]?
    }
    /// Not part of the manifest: set from `kind` when decoded.
    public var kind: Kind = .tcp
    public var metadata: ObjectMeta
    public var spec: Spec

    private enum CodingKeys: String, CodingKey { case metadata, spec }
}
