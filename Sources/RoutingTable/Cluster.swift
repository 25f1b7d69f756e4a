/// One backendRef of a rule: its share of the traffic, where it goes, and its own header filters.
public struct WeightedBackend: Sendable, Codable, Equatable {
    public enum Target: Sendable, Codable, Equatable {
        case cluster(String)
        /// The backendRef could not be resolved; its share of traffic gets 500.
        case invalid(reason: String)
    }
    public var name: String
    public var weight: Int
    public var target: Target
    /// The backendRef's own header filters, applied only to requests sent to it.
    public var requestHeaders: HeaderEdits?
    public var responseHeaders: HeaderEdits?
    public init(name: String, weight: Int, target: Target, requestHeaders: HeaderEdits? = nil, responseHeaders: HeaderEdits? = nil) {
        self.name = name
        self.weight = weight
        self.target = target
        self.requestHeaders = requestHeaders
        self.responseHeaders = responseHeaders
    }
}

public struct Endpoint: Sendable, Codable, Equatable, Hashable {
    public var host: String
    public var port: Int
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
}

public struct Cluster: Sendable, Codable, Equatable {
    /// The Kubernetes appProtocol value for cleartext HTTP/2 with prior knowledge.
    public static let h2cAppProtocol = "kubernetes.io/h2c"

    public var name: String
    /// Ready endpoints only; empty means the Service exists but has nothing ready (503).
    public var endpoints: [Endpoint]
    public var appProtocol: String?
    /// TLS to the endpoints, from a BackendTLSPolicy targeting the Service.
    public var tls: UpstreamTLS?
    /// Circuit breaker, outlier detection and health checks, from a BackendTrafficPolicy.
    public var resilience: BackendResilience?
    /// Why no request may be sent to it at all (a BackendTLSPolicy that asks for TLS but cannot be
    /// used): its backendRefs answer 500 with this reason rather than reach it in plaintext.
    public var refusal: String?
    public init(name: String, endpoints: [Endpoint], appProtocol: String? = nil, tls: UpstreamTLS? = nil,
                resilience: BackendResilience? = nil, refusal: String? = nil) {
        self.name = name
        self.endpoints = endpoints
        self.appProtocol = appProtocol
        self.tls = tls
        self.resilience = resilience
        self.refusal = refusal
    }
}

/// A BackendTrafficPolicy as the data plane applies it to one cluster. Limits are for the whole
/// process (all event loops together); nil means no limit.
public struct BackendResilience: Sendable, Codable, Equatable, Hashable {
    public struct HealthCheck: Sendable, Codable, Equatable, Hashable {
        public var path: String
        public var intervalMillis: Int
        public var timeoutMillis: Int
        public var unhealthyThreshold: Int
        public var healthyThreshold: Int
        public var expectedStatuses: [Int]
        public init(path: String, intervalMillis: Int, timeoutMillis: Int, unhealthyThreshold: Int, healthyThreshold: Int, expectedStatuses: [Int]) {
            self.path = path
            self.intervalMillis = intervalMillis
            self.timeoutMillis = timeoutMillis
            self.unhealthyThreshold = unhealthyThreshold
            self.healthyThreshold = healthyThreshold
            self.expectedStatuses = expectedStatuses
        }
    }
    /// "namespace/name" of the policy, for errors.
    public var policy: String
    public var maxConnections: Int?
    public var maxPendingRequests: Int?
    public var maxRequests: Int?
    public var consecutive5xx: Int?
    public var consecutiveConnectFailures: Int?
    public var baseEjectionMillis: Int
    public var maxEjectionMillis: Int
    public var healthCheck: HealthCheck?

    public init(policy: String, maxConnections: Int? = nil, maxPendingRequests: Int? = nil, maxRequests: Int? = nil,
                consecutive5xx: Int? = nil, consecutiveConnectFailures: Int? = nil, baseEjectionMillis: Int = 30_000,
                maxEjectionMillis: Int = 300_000, healthCheck: HealthCheck? = nil) {
        self.policy = policy
        self.maxConnections = maxConnections
        self.maxPendingRequests = maxPendingRequests
        self.maxRequests = maxRequests
        self.consecutive5xx = consecutive5xx
        self.consecutiveConnectFailures = consecutiveConnectFailures
        self.baseEjectionMillis = baseEjectionMillis
        self.maxEjectionMillis = maxEjectionMillis
        self.healthCheck = healthCheck
    }
}

/// How to reach a cluster's endpoints over TLS: the name sent as SNI and checked in the certificate,
/// and what to trust (PEM CA certificates, or the system's roots when `caPEM` is nil).
public struct UpstreamTLS: Sendable, Codable, Equatable, Hashable {
    public var hostname: String
    public var caPEM: String?
    /// "namespace/name" of the policy, for logs and errors.
    public var policy: String
    /// The names the backend's certificate must carry one of, instead of `hostname` (then only its SNI).
    public var subjectAltNames: [SubjectAltName]
    /// The certificate presented when the backend asks for one: the Gateway's
    /// `spec.tls.backend.clientCertificateRef`.
    public var clientCertificate: CertificatePair?
    public init(hostname: String, caPEM: String?, policy: String, subjectAltNames: [SubjectAltName] = [], clientCertificate: CertificatePair? = nil) {
        self.hostname = hostname
        self.caPEM = caPEM
        self.policy = policy
        self.subjectAltNames = subjectAltNames
        self.clientCertificate = clientCertificate
    }
}

/// A name a backend certificate's subjectAltName extension must hold: a DNS name or a URI.
public struct SubjectAltName: Sendable, Codable, Equatable, Hashable {
    public enum Kind: String, Sendable, Codable { case hostname, uri }
    public var kind: Kind
    public var value: String
    public init(kind: Kind, value: String) {
        self.kind = kind
        self.value = value
    }
}
