/// One match of a route rule, as the table holds it: its filters, its action and the policies that
/// act on it.
///
/// Its fields live in one shared object (copied on write): the translator's memo, the table builder
/// and the table each hold the same entry, and copying one retains a reference instead of copying
/// every field inline. At 10,000 routes the inline copies were ~40 MB of the resident memory.
@dynamicMemberLookup
public struct HTTPRouteEntry: Sendable, Codable, Equatable {
    public struct Fields: Sendable, Codable, Equatable {
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
        /// The Rollout ("namespace/name") whose analysis counts this entry's requests; nil when none.
        public var rollout: String?

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

    /// Changed only while no other entry shares it (`isKnownUniquelyReferenced`), as arrays are.
    @usableFromInline final class Storage: @unchecked Sendable {
        @usableFromInline var fields: Fields
        @usableFromInline init(_ fields: Fields) { self.fields = fields }
    }
    @usableFromInline var storage: Storage

    public init(origin: RouteOrigin, match: HTTPMatch, filters: [HTTPFilter], action: RouteAction,
                timeouts: RouteTimeouts? = nil, retry: RetryPolicy? = nil, environment: String? = nil, tenant: String? = nil) {
        storage = Storage(Fields(origin: origin, match: match, filters: filters, action: action, timeouts: timeouts, retry: retry,
                                 environment: environment, tenant: tenant))
    }

    @inlinable public subscript<Value>(dynamicMember field: WritableKeyPath<Fields, Value>) -> Value {
        _read { yield storage.fields[keyPath: field] }
        _modify {
            if !isKnownUniquelyReferenced(&storage) { storage = Storage(storage.fields) }
            yield &storage.fields[keyPath: field]
        }
    }

    /// Encoded as its fields, as before they were shared.
    public init(from decoder: any Decoder) throws { storage = Storage(try Fields(from: decoder)) }
    public func encode(to encoder: any Encoder) throws { try storage.fields.encode(to: encoder) }

    public static func == (a: Self, b: Self) -> Bool { a.storage === b.storage || a.storage.fields == b.storage.fields }
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
    /// The wait between tries when the route names none: Envoy's 25 ms base interval, so a retry does
    /// not hit a failing backend in the same instant (and a request timeout still has room).
    public static let defaultBackoffMillis = 25
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
