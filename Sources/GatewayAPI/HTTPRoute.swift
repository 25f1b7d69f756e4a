/// Gateway API v1 HTTPRoute. Enums that the CRD schema closes are Swift enums, so a value the API
/// server would reject fails decoding with its field path; filter types stay strings so that a type
/// archway does not implement reaches the translator and is reported in status as the spec asks.

public struct ParentReference: Codable, Sendable, Equatable, Hashable {
    public var group: String?
    public var kind: String?
    public var namespace: String?
    public var name: String
    public var sectionName: String?
    public var port: Int?

    public init(group: String? = nil, kind: String? = nil, namespace: String? = nil, name: String,
                sectionName: String? = nil, port: Int? = nil) {
        self.group = group
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.sectionName = sectionName
        self.port = port
    }
}

public struct BackendReference: Codable, Sendable, Equatable {
    public var group: String?
    public var kind: String?
    public var name: String
    public var namespace: String?
    public var port: Int?
    public var weight: Int?
    public var filters: [HTTPRoute.Filter]?
}

public struct HTTPHeaderPair: Codable, Sendable, Equatable {
    public var name: String
    public var value: String
}

public struct HeaderModifier: Codable, Sendable, Equatable {
    public var set: [HTTPHeaderPair]?
    public var add: [HTTPHeaderPair]?
    public var remove: [String]?
}

public struct HTTPRoute: Codable, Sendable, Equatable {
    public struct Spec: Codable, Sendable, Equatable {
        public var parentRefs: [ParentReference]?
        public var hostnames: [String]?
        public var rules: [Rule]?
        public init(parentRefs: [ParentReference]?, hostnames: [String]?, rules: [Rule]?) {
            self.parentRefs = parentRefs
            self.hostnames = hostnames
            self.rules = rules
        }
    }
    public struct Rule: Codable, Sendable, Equatable {
        public var name: String?
        public var matches: [Match]?
        public var filters: [Filter]?
        public var backendRefs: [BackendReference]?
        public var timeouts: Timeouts?
        public var retry: Retry?
        public var sessionPersistence: SessionPersistence?
        public init(name: String? = nil, matches: [Match]? = nil, filters: [Filter]? = nil,
                    backendRefs: [BackendReference]? = nil, sessionPersistence: SessionPersistence? = nil) {
            self.name = name
            self.matches = matches
            self.filters = filters
            self.backendRefs = backendRefs
            self.sessionPersistence = sessionPersistence
        }
    }
    /// Gateway API (experimental) sticky sessions, shared with GRPCRoute rules.
    public struct SessionPersistence: Codable, Sendable, Equatable {
        public struct CookieConfig: Codable, Sendable, Equatable {
            /// "Permanent" (the cookie outlives the browser session; needs absoluteTimeout) or "Session".
            public var lifetimeType: String?
        }
        public var sessionName: String?
        public var absoluteTimeout: String?
        public var idleTimeout: String?
        /// "Cookie" (the default) or "Header".
        public var type: String?
        public var cookieConfig: CookieConfig?
    }
    public struct Timeouts: Codable, Sendable, Equatable {
        public var request: String?
        public var backendRequest: String?
    }
    /// Gateway API v1.4 retries: `attempts` is the number of retries after the first try.
    public struct Retry: Codable, Sendable, Equatable {
        public var codes: [Int]?
        public var attempts: Int?
        public var backoff: String?
    }
    public struct RequestMirror: Codable, Sendable, Equatable {
        public struct Fraction: Codable, Sendable, Equatable {
            public var numerator: Int
            public var denominator: Int?
        }
        public var backendRef: BackendReference
        public var percent: Int?
        public var fraction: Fraction?
        public init(backendRef: BackendReference, percent: Int?) {
            self.backendRef = backendRef
            self.percent = percent
        }
    }
    public struct Match: Codable, Sendable, Equatable {
        public var path: PathMatch?
        public var headers: [ValueMatch]?
        public var queryParams: [ValueMatch]?
        public var method: Method?
        public init(path: PathMatch? = nil, headers: [ValueMatch]? = nil, queryParams: [ValueMatch]? = nil, method: Method? = nil) {
            self.path = path
            self.headers = headers
            self.queryParams = queryParams
            self.method = method
        }
    }
    public struct PathMatch: Codable, Sendable, Equatable {
        public enum MatchType: String, Codable, Sendable { case Exact, PathPrefix, RegularExpression }
        public var type: MatchType?
        public var value: String?
        public init(type: MatchType?, value: String?) {
            self.type = type
            self.value = value
        }
    }
    public struct ValueMatch: Codable, Sendable, Equatable {
        public enum MatchType: String, Codable, Sendable { case Exact, RegularExpression }
        public var type: MatchType?
        public var name: String
        public var value: String
        public init(type: MatchType?, name: String, value: String) {
            self.type = type
            self.name = name
            self.value = value
        }
    }
    public enum Method: String, Codable, Sendable {
        case GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH
    }
    public struct Filter: Codable, Sendable, Equatable {
        public var type: String
        public var requestHeaderModifier: HeaderModifier?
        public var responseHeaderModifier: HeaderModifier?
        public var requestRedirect: Redirect?
        public var urlRewrite: URLRewrite?
        public var cors: CORS?
        public var requestMirror: RequestMirror?
        public var extensionRef: LocalObjectReference?
        public init(requestMirror: RequestMirror) {
            type = "RequestMirror"
            self.requestMirror = requestMirror
        }
    }
    /// The CORS filter (standard channel since Gateway API v1.5).
    public struct CORS: Codable, Sendable, Equatable {
        public var allowOrigins: [String]?
        public var allowCredentials: Bool?
        public var allowMethods: [String]?
        public var allowHeaders: [String]?
        public var exposeHeaders: [String]?
        public var maxAge: Int?
    }
    public struct PathModifier: Codable, Sendable, Equatable {
        public enum ModifierType: String, Codable, Sendable { case ReplaceFullPath, ReplacePrefixMatch }
        public var type: ModifierType
        public var replaceFullPath: String?
        public var replacePrefixMatch: String?
    }
    public struct Redirect: Codable, Sendable, Equatable {
        public enum Scheme: String, Codable, Sendable { case http, https }
        public var scheme: Scheme?
        public var hostname: String?
        public var path: PathModifier?
        public var port: Int?
        public var statusCode: Int?
    }
    public struct URLRewrite: Codable, Sendable, Equatable {
        public var hostname: String?
        public var path: PathModifier?
    }
    public struct LocalObjectReference: Codable, Sendable, Equatable {
        public var group: String
        public var kind: String
        public var name: String
    }

    /// A route's fields live in one immutable object, so that copying a route retains one reference
    /// instead of each of its strings and arrays. An apply copies every route several times (the
    /// load, the snapshot, its sort, the status items): at 10,000 routes those retains, each a cache
    /// miss, were a fifth of what one changed route cost. Setting a field makes a new object.
    @usableFromInline final class Fields: Sendable {
        @usableFromInline let metadata: ObjectMeta
        @usableFromInline let spec: Spec
        @usableFromInline init(metadata: ObjectMeta, spec: Spec) {
            self.metadata = metadata
            self.spec = spec
        }
    }
    @usableFromInline var fields: Fields

    // Inlinable, so that a reader borrows the field where it lies: through an opaque accessor the
    // caller copied the whole field (each of its strings retained) to read one thing of it.
    @inlinable public var metadata: ObjectMeta {
        _read { yield fields.metadata }
        set { fields = Fields(metadata: newValue, spec: fields.spec) }
    }
    @inlinable public var spec: Spec {
        _read { yield fields.spec }
        set { fields = Fields(metadata: fields.metadata, spec: newValue) }
    }

    public init(metadata: ObjectMeta, spec: Spec) {
        fields = Fields(metadata: metadata, spec: spec)
    }

    private enum CodingKeys: String, CodingKey { case metadata, spec }
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(metadata: try container.decode(ObjectMeta.self, forKey: .metadata), spec: try container.decode(Spec.self, forKey: .spec))
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(metadata, forKey: .metadata)
        try container.encode(spec, forKey: .spec)
    }

    /// The same object is equal without a look inside: a route an apply did not touch is compared
    /// with itself when the translation's memo looks for what changed.
    public static func == (a: Self, b: Self) -> Bool {
        a.fields === b.fields || (a.metadata == b.metadata && a.spec == b.spec)
    }
}

/// The origin forms the CORS filter accepts: `*`, or `scheme://host[:port]` where the host may begin
/// with `*.` (any number of labels).
public enum CORSOrigin {
    public static func isValidPattern(_ pattern: String) -> Bool {
        if pattern == "*" { return true }
        guard let split = pattern.range(of: "://") else { return false }
        let scheme = pattern[..<split.lowerBound], rest = pattern[split.upperBound...]
        guard !scheme.isEmpty, scheme.allSatisfy({ $0.isLetter || $0.isNumber || "+-.".contains($0) }) else { return false }
        var host = Substring(rest)
        if let colon = host.lastIndex(of: ":") {
            guard let port = Int(host[host.index(after: colon)...]), (1...65535).contains(port) else { return false }
            host = host[..<colon]
        }
        if host.hasPrefix("*.") { host = host.dropFirst(2) }
        return !host.isEmpty && host.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }
    }
}
