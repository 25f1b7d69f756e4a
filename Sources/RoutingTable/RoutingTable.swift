/// The immutable routing table: what the translator produces and the data plane serves.
/// Plain values, `Codable` so it can be dumped, diffed and kept as golden test output.
public struct RoutingTable: Sendable, Codable, Equatable {
    /// One entry per port that must be bound; listeners of every served Gateway on that port are merged.
    public var ports: [PortTable]
    /// Upstream clusters keyed by `ClusterID` ("namespace/service:port").
    public var clusters: [String: Cluster]
    /// ServiceLevelObjectives whose budgets archway tracks live, by "namespace/name".
    public var slos: [String: SLOSpec]

    public init(ports: [PortTable] = [], clusters: [String: Cluster] = [:], slos: [String: SLOSpec] = [:]) {
        self.ports = ports
        self.clusters = clusters
        self.slos = slos
    }
}

/// A ServiceLevelObjective as the data plane counts it.
public struct SLOSpec: Sendable, Codable, Equatable, Hashable {
    public enum Kind: String, Sendable, Codable { case availability, latency }
    public var name: String
    public var kind: Kind
    /// Share of good requests, 0...1 (99.9% is 0.999).
    public var objective: Double
    public var windowSeconds: Int
    /// Latency objectives: a request slower than this is bad.
    public var latencyThresholdMillis: Int?

    public init(name: String, kind: Kind, objective: Double, windowSeconds: Int, latencyThresholdMillis: Int? = nil) {
        self.name = name
        self.kind = kind
        self.objective = objective
        self.windowSeconds = windowSeconds
        self.latencyThresholdMillis = latencyThresholdMillis
    }
}

public struct PortTable: Sendable, Codable, Equatable {
    public var port: Int
    /// The socket-level family: "HTTP" (cleartext HTTP/1.1 and h2c), "TLS" (HTTPS and TLS listeners,
    /// chosen by SNI), "TCP" or "UDP".
    public var `protocol`: String

    public static func family(of listenerProtocol: String) -> String {
        listenerProtocol == "HTTPS" ? "TLS" : listenerProtocol
    }
    /// Ordered most specific hostname first (exact, longest wildcard, then catch-all): the first whose
    /// hostname covers the request's Host owns the request. This is listener isolation.
    public var listeners: [ListenerTable]

    public init(port: Int, protocol: String, listeners: [ListenerTable]) {
        self.port = port
        self.protocol = `protocol`
        self.listeners = listeners
    }
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

    public init(mode: Mode, certificates: [CertificatePair]) {
        self.mode = mode
        self.certificates = certificates
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

public struct HTTPRouteEntry: Sendable, Codable, Equatable {
    public var origin: RouteOrigin
    public var match: HTTPMatch
    public var filters: [HTTPFilter]
    public var action: RouteAction
    public var timeouts: RouteTimeouts?
    public var retry: RetryPolicy?
    /// The `environment` and `tenant` labels of the route, else of its Gateway, for the access log.
    public var environment: String?
    public var tenant: String?
    /// Names of the ServiceLevelObjectives this entry's requests count towards.
    public var slos: [String] = []
    /// Edge policies (auth, rate limits, allow lists, body size), at most one per kind, in phase order.
    public var edge: [EdgeRule] = []
    /// The rule's sessionPersistence: a client that presents its session goes back to the same endpoint.
    public var session: StickySession?

    public init(origin: RouteOrigin, match: HTTPMatch, filters: [HTTPFilter], action: RouteAction,
                timeouts: RouteTimeouts? = nil, retry: RetryPolicy? = nil, environment: String? = nil, tenant: String? = nil) {
        self.origin = origin
        self.match = match
        self.filters = filters
        self.action = action
        self.timeouts = timeouts
        self.retry = retry
        self.environment = environment
        self.tenant = tenant
    }
}

/// HTTPRoute `timeouts`, in milliseconds; nil or 0 means no limit.
public struct RouteTimeouts: Sendable, Codable, Equatable {
    /// From the request's first byte to the response's last.
    public var requestMillis: Int?
    /// Each try to a backend, until its response has started.
    public var backendRequestMillis: Int?
    public init(requestMillis: Int?, backendRequestMillis: Int?) {
        self.requestMillis = requestMillis
        self.backendRequestMillis = backendRequestMillis
    }
}

/// HTTPRoute `retry`: which response codes are retried, how many retries, the least wait between tries.
public struct RetryPolicy: Sendable, Codable, Equatable {
    public var codes: [Int]
    public var attempts: Int
    public var backoffMillis: Int
    public init(codes: [Int], attempts: Int, backoffMillis: Int) {
        self.codes = codes
        self.attempts = attempts
        self.backoffMillis = backoffMillis
    }
}

/// A RequestMirror filter: a copy of `fraction` (0...1) of the requests goes to the cluster.
public struct RequestMirror: Sendable, Codable, Equatable {
    public var name: String
    public var target: WeightedBackend.Target
    public var fraction: Double
    public init(name: String, target: WeightedBackend.Target, fraction: Double) {
        self.name = name
        self.target = target
        self.fraction = fraction
    }
}

public enum PathMatch: Sendable, Codable, Equatable {
    case exact(String)
    /// Matches whole path segments; stored without a trailing slash ("/" is stored as "").
    case prefix(String)
    case regularExpression(String)
}

public struct ValueMatch: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable { case exact, regularExpression }
    public var name: String
    public var kind: Kind
    public var value: String
    public init(name: String, kind: Kind, value: String) {
        self.name = name
        self.kind = kind
        self.value = value
    }
}

public struct HTTPMatch: Sendable, Codable, Equatable {
    public var path: PathMatch
    /// Header names are lowercased.
    public var headers: [ValueMatch]
    public var queryParams: [ValueMatch]
    public var method: String?

    public init(path: PathMatch, headers: [ValueMatch] = [], queryParams: [ValueMatch] = [], method: String? = nil) {
        self.path = path
        self.headers = headers
        self.queryParams = queryParams
        self.method = method
    }
}

public struct HeaderEdits: Sendable, Codable, Equatable {
    public var set: [HeaderValue]
    public var add: [HeaderValue]
    public var remove: [String]
    public init(set: [HeaderValue], add: [HeaderValue], remove: [String]) {
        self.set = set
        self.add = add
        self.remove = remove
    }
}

public struct HeaderValue: Sendable, Codable, Equatable {
    public var name: String
    public var value: String
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

public enum PathRewrite: Sendable, Codable, Equatable {
    case replaceFullPath(String)
    /// Replaces the prefix matched by the entry's PathPrefix match.
    case replacePrefixMatch(String)
    /// ingress-nginx's `rewrite-target`: the path matched against `pattern` (anchored at the start)
    /// and rebuilt from `template`, where `$1`…`$9` are its capture groups. Ingress semantics only;
    /// Gateway API has no equivalent.
    case regexReplace(pattern: String, template: String)
}

public enum HTTPFilter: Sendable, Codable, Equatable {
    case requestHeaders(HeaderEdits)
    case responseHeaders(HeaderEdits)
    case urlRewrite(hostname: String?, path: PathRewrite?)
    case cors(CORSPolicy)
    case requestMirror(RequestMirror)
}

public struct Redirect: Sendable, Codable, Equatable {
    public var scheme: String?
    public var hostname: String?
    public var port: Int?
    public var path: PathRewrite?
    public var statusCode: Int
    public init(scheme: String?, hostname: String?, port: Int?, path: PathRewrite?, statusCode: Int) {
        self.scheme = scheme
        self.hostname = hostname
        self.port = port
        self.path = path
        self.statusCode = statusCode
    }
}

public enum RouteAction: Sendable, Codable, Equatable {
    case forward([WeightedBackend])
    case redirect(Redirect)
    /// An answer the gateway gives itself, e.g. 500 for a rule whose backends are all invalid.
    case direct(status: Int, reason: String)
}

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
    public init(name: String, endpoints: [Endpoint], appProtocol: String? = nil, tls: UpstreamTLS? = nil,
                resilience: BackendResilience? = nil) {
        self.name = name
        self.endpoints = endpoints
        self.appProtocol = appProtocol
        self.tls = tls
        self.resilience = resilience
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
    public init(hostname: String, caPEM: String?, policy: String) {
        self.hostname = hostname
        self.caPEM = caPEM
        self.policy = policy
    }
}
