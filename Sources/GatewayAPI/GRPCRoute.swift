/// Gateway API v1 GRPCRoute: HTTP/2 requests matched by gRPC service and method, plus headers.
public struct GRPCRoute: Codable, Sendable, Equatable {
    public struct Spec: Codable, Sendable, Equatable {
        public var parentRefs: [ParentReference]?
        public var hostnames: [String]?
        public var rules: [Rule]?
    }
    public struct Rule: Codable, Sendable, Equatable {
        public var name: String?
        public var matches: [Match]?
        public var filters: [HTTPRoute.Filter]?
        public var backendRefs: [BackendReference]?
        public var sessionPersistence: HTTPRoute.SessionPersistence?
    }
    public struct Match: Codable, Sendable, Equatable {
        public var method: MethodMatch?
        public var headers: [HTTPRoute.ValueMatch]?
        public init(method: MethodMatch? = nil, headers: [HTTPRoute.ValueMatch]? = nil) {
            self.method = method
            self.headers = headers
        }
    }
    public struct MethodMatch: Codable, Sendable, Equatable {
        public enum MatchType: String, Codable, Sendable { case Exact, RegularExpression }
        public var type: MatchType?
        public var service: String?
        public var method: String?
    }
    public var metadata: ObjectMeta
    public var spec: Spec
}
