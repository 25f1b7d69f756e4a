/// One edge policy as the data plane runs it, with everything it needs resolved by the translator
/// (Secrets read, durations parsed). `policy` names the source object ("BasicAuth team-a/admins") for
/// answers, logs and `archway status`.
public enum EdgeRule: Sendable, Codable, Equatable, Hashable {
    case ipAllowList(IPAllowListRule)
    case rateLimit(RateLimitRule)
    case bodySize(BodySizeRule)
    case basicAuth(BasicAuthRule)
    case apiKeyAuth(APIKeyAuthRule)
    case jwtAuth(JWTAuthRule)
    case forwardAuth(ForwardAuthRule)
    /// A policy that applies here but cannot be enforced (invalid, or a Secret, ConfigMap or JWKS it
    /// needs is missing or unreadable): the request is refused with 500, never let through unchecked.
    case unenforceable(UnenforceableRule)

    public var policy: String {
        switch self {
        case .ipAllowList(let r): r.policy
        case .rateLimit(let r): r.policy
        case .bodySize(let r): r.policy
        case .basicAuth(let r): r.policy
        case .apiKeyAuth(let r): r.policy
        case .jwtAuth(let r): r.policy
        case .forwardAuth(let r): r.policy
        case .unenforceable(let r): r.policy
        }
    }

    /// The object kind, which is also what "one policy per kind" means when several levels attach one.
    public var kind: String {
        switch self {
        case .ipAllowList: "IPAllowList"
        case .rateLimit: "RateLimit"
        case .bodySize: "BodySize"
        case .basicAuth: "BasicAuth"
        case .apiKeyAuth: "APIKeyAuth"
        case .jwtAuth: "JWTAuth"
        case .forwardAuth: "ForwardAuth"
        // It takes its own kind's place: a broken BasicAuth on a route overrides a working one on
        // the Gateway, because what the route's owner asked for cannot be done.
        case .unenforceable(let r): r.kind
        }
    }

    /// Cheap refusals first: an address outside the allow list or a client over its rate never costs a
    /// password hash or a sub-request.
    public var phase: Int {
        switch self {
        case .ipAllowList: 0
        case .rateLimit: 1
        case .bodySize: 2
        case .apiKeyAuth: 3
        case .basicAuth: 4
        case .jwtAuth: 5
        case .forwardAuth: 6
        case .unenforceable: -1
        }
    }

    public var isEnforceable: Bool {
        if case .unenforceable = self { return false }
        return true
    }
}

public struct UnenforceableRule: Sendable, Codable, Equatable, Hashable {
    public var policy: String
    /// The policy's kind ("BasicAuth").
    public var kind: String
    /// Why it cannot be enforced, for logs and status (never sent to clients).
    public var problem: String
    public init(policy: String, kind: String, problem: String) {
        self.policy = policy
        self.kind = kind
        self.problem = problem
    }
}

public struct IPAllowListRule: Sendable, Codable, Equatable, Hashable {
    public var policy: String
    public var allow: [CIDR]
    public var deny: [CIDR]
    public var trustedProxyDepth: Int
    public init(policy: String, allow: [CIDR], deny: [CIDR], trustedProxyDepth: Int) {
        self.policy = policy
        self.allow = allow
        self.deny = deny
        self.trustedProxyDepth = trustedProxyDepth
    }
}

public struct RateLimitRule: Sendable, Codable, Equatable, Hashable {
    public enum Key: Sendable, Codable, Equatable, Hashable {
        case clientIP(trustedProxyDepth: Int)
        /// Lowercased header name; requests without it share one bucket.
        case header(String)
        case route
    }
    public var policy: String
    public var requests: Int
    public var periodSeconds: Int
    public var burst: Int
    public var key: Key
    public init(policy: String, requests: Int, periodSeconds: Int, burst: Int, key: Key) {
        self.policy = policy
        self.requests = requests
        self.periodSeconds = periodSeconds
        self.burst = burst
        self.key = key
    }
}

public struct BodySizeRule: Sendable, Codable, Equatable, Hashable {
    public var policy: String
    public var maxBytes: Int
    public init(policy: String, maxBytes: Int) {
        self.policy = policy
        self.maxBytes = maxBytes
    }
}

public struct BasicAuthRule: Sendable, Codable, Equatable, Hashable {
    public var policy: String
    public var realm: String
    /// User name to htpasswd hash, in one of the formats `HtpasswdFormat` accepts.
    public var users: [String: String]
    public var stripAuthorization: Bool
    public init(policy: String, realm: String, users: [String: String], stripAuthorization: Bool) {
        self.policy = policy
        self.realm = realm
        self.users = users
        self.stripAuthorization = stripAuthorization
    }
}

public struct APIKeyAuthRule: Sendable, Codable, Equatable, Hashable {
    public var policy: String
    /// Lowercased.
    public var header: String
    public var queryParameter: String?
    public var clientHeader: String
    /// Hex SHA-256 of each key to its client's name: the table (and its dumps) never hold a key.
    public var clientsByKeyDigest: [String: String]
    public init(policy: String, header: String, queryParameter: String?, clientHeader: String, clientsByKeyDigest: [String: String]) {
        self.policy = policy
        self.header = header
        self.queryParameter = queryParameter
        self.clientHeader = clientHeader
        self.clientsByKeyDigest = clientsByKeyDigest
    }
}

public struct JWTAuthRule: Sendable, Codable, Equatable, Hashable {
    public struct ClaimHeader: Sendable, Codable, Equatable, Hashable {
        public var claim: String
        public var header: String
        public init(claim: String, header: String) {
            self.claim = claim
            self.header = header
        }
    }
    public var policy: String
    /// The JWKS document, when it came from the policy, a Secret or a ConfigMap.
    public var jwks: String?
    /// Otherwise fetched from here, every `refreshSeconds`.
    public var jwksURL: String?
    public var refreshSeconds: Int
    public var issuer: String?
    public var audiences: [String]
    public var claimsToHeaders: [ClaimHeader]
    public var stripAuthorization: Bool
    public init(policy: String, jwks: String?, jwksURL: String?, refreshSeconds: Int, issuer: String?, audiences: [String],
                claimsToHeaders: [ClaimHeader], stripAuthorization: Bool) {
        self.policy = policy
        self.jwks = jwks
        self.jwksURL = jwksURL
        self.refreshSeconds = refreshSeconds
        self.issuer = issuer
        self.audiences = audiences
        self.claimsToHeaders = claimsToHeaders
        self.stripAuthorization = stripAuthorization
    }
}

public struct ForwardAuthRule: Sendable, Codable, Equatable, Hashable {
    public var policy: String
    public var url: String
    /// Lowercased names of the client's headers sent to the auth service.
    public var requestHeaders: [String]
    /// Lowercased names of the auth service's headers copied onto the upstream request.
    public var responseHeaders: [String]
    public var timeoutMillis: Int
    /// Let requests through when the auth service cannot be reached (otherwise 503).
    public var failOpen: Bool
    public init(policy: String, url: String, requestHeaders: [String], responseHeaders: [String], timeoutMillis: Int, failOpen: Bool) {
        self.policy = policy
        self.url = url
        self.requestHeaders = requestHeaders
        self.responseHeaders = responseHeaders
        self.timeoutMillis = timeoutMillis
        self.failOpen = failOpen
    }
}

extension RoutingTable {
    /// Every HTTP route entry of every listener and virtual host.
    /// Walked, not collected: at 10,000 routes a copy of every entry costs more than the walk.
    public var httpRouteEntries: some Sequence<HTTPRouteEntry> { ports.lazy.flatMap(\.listeners).flatMap(\.virtualHosts).flatMap(\.routes) }

    /// Which edge policies (and session persistence) shape each HTTP route ("namespace/name"), one
    /// line per rule that has any: "rule 1: IPAllowList team-a/office, BasicAuth team-a/staff". A rule
    /// reached through listeners with different policies lists each set once.
    public func edgePoliciesByRoute() -> [String: [String]] {
        var lines: [String: [String]] = [:]
        for entry in httpRouteEntries where !entry.edge.isEmpty || entry.session != nil {
            let policies = entry.edge.map { rule in
                if case .unenforceable(let broken) = rule { return "\(broken.policy) (cannot be enforced, requests refused: \(broken.problem))" }
                return rule.policy
            }
            let line = "rule \(entry.origin.rule): " + (policies + [entry.session?.summary].compactMap { $0 }).joined(separator: ", ")
            let key = "\(entry.origin.namespace)/\(entry.origin.name)"
            if !(lines[key]?.contains(line) ?? false) { lines[key, default: []].append(line) }
        }
        return lines.mapValues { $0.sorted() }
    }
}
