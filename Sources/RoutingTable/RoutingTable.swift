/// The immutable routing table: what the translator produces and the data plane serves.
/// Plain values, `Codable` so it can be dumped, diffed and kept as golden test output.
public struct RoutingTable: Sendable, Codable, Equatable {
    /// One entry per port that must be bound; listeners of every served Gateway on that port are merged.
    public var ports: [PortTable]
    /// Upstream clusters keyed by `ClusterID` ("namespace/service:port").
    public var clusters: [String: Cluster]
    /// ServiceLevelObjectives whose budgets archway tracks live, by "namespace/name".
    public var slos: [String: SLOSpec]
    /// Rollouts whose canary and stable archway tracks live, by "namespace/name"; nil when none.
    public var rollouts: [String: RolloutTracking]?

    public init(ports: [PortTable] = [], clusters: [String: Cluster] = [:], slos: [String: SLOSpec] = [:],
                rollouts: [String: RolloutTracking]? = nil) {
        self.ports = ports
        self.clusters = clusters
        self.slos = slos
        self.rollouts = rollouts
    }
}

/// A Rollout as the data plane counts it: its rules' requests, by the backend that answered them.
public struct RolloutTracking: Sendable, Codable, Equatable, Hashable {
    public var name: String
    /// The backendRef (Service) names of stable and canary.
    public var stable: String
    public var canary: String
    /// The ServiceLevelObjectives of the route, whose burn rate analysis may bound.
    public var slos: [String]

    public init(name: String, stable: String, canary: String, slos: [String]) {
        self.name = name
        self.stable = stable
        self.canary = canary
        self.slos = slos
    }
}

/// A ServiceLevelObjective as the data plane counts it.
public struct SLOSpec: Sendable, Codable, Equatable, Hashable {
    public enum Kind: String, Sendable, Codable { case availability, latency, throughput }
    public var name: String
    public var kind: Kind
    /// Share of good requests, 0...1 (99.9% is 0.999).
    public var objective: Double
    public var windowSeconds: Int
    /// Latency objectives: a request slower than this is bad.
    public var latencyThresholdMillis: Int?
    /// Throughput objectives: a minute with fewer requests per second than this is bad.
    public var minRequestsPerSecond: Double?

    public init(name: String, kind: Kind, objective: Double, windowSeconds: Int, latencyThresholdMillis: Int? = nil,
                minRequestsPerSecond: Double? = nil) {
        self.name = name
        self.kind = kind
        self.objective = objective
        self.windowSeconds = windowSeconds
        self.latencyThresholdMillis = latencyThresholdMillis
        self.minRequestsPerSecond = minRequestsPerSecond
    }
}

/// One listening socket: a Gateway's own address and a port, or (address nil) the default bind
/// address shared by every Gateway without an address of its own. The kernel picks the socket by the
/// address a connection was made to, so two Gateways on one port with their own addresses never see
/// each other's requests.
public struct SocketKey: Sendable, Codable, Hashable, Comparable, CustomStringConvertible {
    public var address: String?
    public var port: Int
    public init(address: String? = nil, port: Int) {
        self.address = address
        self.port = port
    }
    public static func < (a: SocketKey, b: SocketKey) -> Bool { (a.port, a.address ?? "") < (b.port, b.address ?? "") }
    public var description: String {
        guard let address else { return "port \(port)" }
        return address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)"
    }
}

public struct PortTable: Sendable, Codable, Equatable {
    public var port: Int
    /// The Gateway address this socket is bound on; nil for the default bind address.
    public var address: String?
    public var socket: SocketKey { SocketKey(address: address, port: port) }
    /// The socket-level family: "HTTP" (cleartext HTTP/1.1 and h2c), "TLS" (HTTPS and TLS listeners,
    /// chosen by SNI), "TCP" or "UDP".
    public var `protocol`: String

    public static func family(of listenerProtocol: String) -> String {
        listenerProtocol == "HTTPS" ? "TLS" : listenerProtocol
    }
    /// Ordered most specific hostname first (exact, longest wildcard, then catch-all): the first whose
    /// hostname covers the request's Host owns the request. This is listener isolation.
    public var listeners: [ListenerTable]
    /// TLS-ALPN-01 certificates (RFC 8737) for archway's own ACME orders being validated, sorted by
    /// name: offered only to a ClientHello that asks for ALPN `acme-tls/1` with one of these names.
    /// nil when none, so a port with no order in progress never looks at a ClientHello's ALPN.
    public var acmeChallenges: [ACMEChallengeCertificate]?

    public init(port: Int, address: String? = nil, protocol: String, listeners: [ListenerTable],
                acmeChallenges: [ACMEChallengeCertificate]? = nil) {
        self.port = port
        self.address = address
        self.protocol = `protocol`
        self.listeners = listeners
        self.acmeChallenges = acmeChallenges
    }
}

/// The self-signed certificate that proves one name for a TLS-ALPN-01 challenge: the CA connects to
/// port 443 with SNI `name` and ALPN `acme-tls/1` and checks its acmeIdentifier extension.
public struct ACMEChallengeCertificate: Sendable, Codable, Equatable, Hashable {
    /// Lowercased, never a wildcard (TLS-ALPN-01 cannot prove one).
    public var name: String
    public var certificate: CertificatePair

    public init(name: String, certificate: CertificatePair) {
        self.name = name.lowercased()
        self.certificate = certificate
    }

    /// The only protocol the challenge handshake negotiates (RFC 8737 §6.2).
    public static let applicationProtocol = "acme-tls/1"
}

/// Listeners that share a port and a hostname (possibly from several Gateways) merged into one.
public struct ListenerTable: Sendable, Codable, Equatable {
    public struct Ref: Sendable, Codable, Equatable, Hashable {
        public var gatewayNamespace: String
        public var gatewayName: String
        public var listenerName: String
        public init(gatewayNamespace: String, gatewayName: String, listenerName: String) {
            self.gatewayNamespace = gatewayNamespace
            self.gatewayName = gatewayName
            self.listenerName = listenerName
        }
    }
    public var refs: [Ref]
    /// nil: the listener accepts any host.
    public var hostname: String?
    /// Ordered most specific first: exact hosts, then wildcards by length, then `*`.
    public var virtualHosts: [VirtualHost]
    /// How TLS ends on this listener (HTTPS and TLS listeners); nil for cleartext ones.
    public var tls: ListenerTLS?
    /// Set on TCP, UDP and TLS listeners, whose routes carry bytes rather than HTTP requests; ordered
    /// by precedence (oldest route first).
    public var streamRoutes: [StreamRouteEntry]?
    /// true: a host's own rules answer alone (ingress-nginx's server blocks, for served Ingresses).
    /// nil, a Gateway listener: a request no rule of its most specific host matches goes on to the
    /// rules of the less specific hostnames covering it (`*.example.com`, then `*`), as the Gateway
    /// API ranks rules by hostname over all applicable routes and answers 404 only when none matches.
    public var hostRulesAnswerAlone: Bool?

    public init(refs: [Ref], hostname: String?, virtualHosts: [VirtualHost], tls: ListenerTLS? = nil,
                streamRoutes: [StreamRouteEntry]? = nil) {
        self.refs = refs
        self.hostname = hostname
        self.virtualHosts = virtualHosts
        self.tls = tls
        self.streamRoutes = streamRoutes
    }
}

/// A TCPRoute, UDPRoute or TLSRoute attached to a listener: where its connections (or datagrams) go.
public struct StreamRouteEntry: Sendable, Codable, Equatable {
    public var origin: RouteOrigin
    /// The SNI names it takes (TLSRoute, intersected with the listener); "*" for TCP and UDP.
    public var hostnames: [String]
    public var backends: [WeightedBackend]

    public init(origin: RouteOrigin, hostnames: [String], backends: [WeightedBackend]) {
        self.origin = origin
        self.hostnames = hostnames
        self.backends = backends
    }
}

public struct ListenerTLS: Sendable, Codable, Equatable {
    public enum Mode: String, Sendable, Codable {
        /// archway holds the certificate and decrypts.
        case terminate
        /// The TLS stream goes to the backend untouched; only the ClientHello's SNI is read.
        case passthrough
    }
    public var mode: Mode
    /// Resolved certificateRefs in listener order; the first one is offered.
    public var certificates: [CertificatePair]
    /// Client certificates asked for and checked in the handshake (the Gateway's `spec.tls.frontend`).
    public var clientValidation: ClientCertificateValidation?

    public init(mode: Mode, certificates: [CertificatePair], clientValidation: ClientCertificateValidation? = nil) {
        self.mode = mode
        self.certificates = certificates
        self.clientValidation = clientValidation
    }
}

/// A certificate chain and its private key, PEM-encoded, as read from a `kubernetes.io/tls` Secret.
public struct CertificatePair: Sendable, Codable, Equatable, Hashable {
    /// "namespace/name" of the Secret, for logs.
    public var source: String
    public var chainPEM: String
    public var keyPEM: String

    public init(source: String, chainPEM: String, keyPEM: String) {
        self.source = source
        self.chainPEM = chainPEM
        self.keyPEM = keyPEM
    }
}

public struct VirtualHost: Sendable, Codable, Equatable {
    /// An exact host, a `*.` wildcard, or `*` for any host.
    public var hostname: String
    /// Already sorted by Gateway API precedence: the first entry that matches wins.
    public var routes: [HTTPRouteEntry]

    public init(hostname: String, routes: [HTTPRouteEntry]) {
        self.hostname = hostname
        self.routes = routes
    }
}

/// Which resource a routing entry came from: labels metrics and logs, and breaks precedence ties.
public struct RouteOrigin: Sendable, Codable, Equatable, Hashable {
    public var namespace: String
    public var name: String
    public var rule: Int
    public var match: Int
    /// Gateway that the entry was attached through (for metrics labels).
    public var gatewayNamespace: String
    public var gatewayName: String

    public init(namespace: String, name: String, rule: Int, match: Int, gatewayNamespace: String, gatewayName: String) {
        self.namespace = namespace
        self.name = name
        self.rule = rule
        self.match = match
        self.gatewayNamespace = gatewayNamespace
        self.gatewayName = gatewayName
    }
}
