/// What an edge policy sees of a request. Header lookups go through closures so the guards stay free
/// of any HTTP library's types.
public struct EdgeRequest {
    /// "http" or "https", as the client reached the gateway.
    public var scheme: String
    public var method: String
    public var host: String
    public var path: Substring
    public var query: Substring?
    /// The connection's peer address.
    public var peerAddress: String
    /// The first value of a header (lowercased name), or nil.
    public var header: (String) -> String?
    /// Every value of a header, in order (X-Forwarded-For may come as several fields).
    public var headerValues: (String) -> [String]
    /// Identifies the route for route-keyed rate limits.
    public var routeKey: String

    public init(scheme: String, method: String, host: String, path: Substring, query: Substring?, peerAddress: String,
                header: @escaping (String) -> String?, headerValues: @escaping (String) -> [String], routeKey: String) {
        self.scheme = scheme
        self.method = method
        self.host = host
        self.path = path
        self.query = query
        self.peerAddress = peerAddress
        self.header = header
        self.headerValues = headerValues
        self.routeKey = routeKey
    }

    /// The client as the trusted proxies in front saw it: the `depth`-th X-Forwarded-For entry from the
    /// right, or the peer itself when depth is 0 or the header is shorter (nothing trusted wrote it).
    public func clientAddress(trustedProxyDepth depth: Int) -> String {
        guard depth > 0 else { return peerAddress }
        let entries = headerValues("x-forwarded-for").flatMap { $0.split(separator: ",") }
        guard entries.count >= depth else { return peerAddress }
        return entries[entries.count - depth].filter { $0 != " " }
    }
}

/// Changes a policy that let the request through makes to it on its way upstream.
public struct EdgeEdits: Sendable {
    public var setHeaders: [(name: String, value: String)] = []
    public var removeHeaders: [String] = []
    public var maxRequestBody: Int?
    public init() {}

    public mutating func merge(_ other: EdgeEdits) {
        setHeaders += other.setHeaders
        removeHeaders += other.removeHeaders
        if let limit = other.maxRequestBody { maxRequestBody = min(maxRequestBody ?? limit, limit) }
    }
}

/// The answer given instead of forwarding. `message` is the body an anonymous client reads, so it
/// says what to do (send credentials, slow down) and never which policy or what configuration
/// refused it; `detail` names the policy and the exact reason, for the access log and the operator.
public struct EdgeRefusal: Sendable {
    public var status: Int
    public var message: String
    public var detail: String
    public var headers: [(name: String, value: String)]
    public init(status: Int, message: String, detail: String, headers: [(name: String, value: String)] = []) {
        self.status = status
        self.message = message
        self.detail = detail
        self.headers = headers
    }
}

public enum EdgeDecision: Sendable {
    case pass(EdgeEdits)
    case refuse(EdgeRefusal)
    /// The decision needs I/O or a slow hash: the guard calls `resume` exactly once, from any thread.
    case later(@Sendable (_ resume: @escaping @Sendable (EdgeDecision) -> Void) -> Void)
}

/// The data plane's implementation of one EdgeRule. Instances outlive table swaps while their rule is
/// unchanged (`LiveState` carries them over), so rate-limit buckets, verified-credential caches and
/// fetched key sets survive a reload.
public protocol EdgeGuard: AnyObject, Sendable {
    func check(_ request: EdgeRequest) -> EdgeDecision
}
