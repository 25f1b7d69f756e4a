/// archway.dev/v1alpha1 BackendTrafficPolicy: how hard the gateway may lean on a Service's endpoints
/// (circuit breaker), when it stops sending to one that keeps failing (outlier detection), and how it
/// checks them on its own (active health checks). Attached with `targetRefs` to Services, in the
/// Gateway API policy-attachment style.
public struct BackendTrafficPolicy: Codable, Sendable, Equatable {
    public static let group = "archway.dev"

    public struct CircuitBreaker: Codable, Sendable, Equatable {
        /// Open connections to the Service's endpoints, all endpoints together.
        public var maxConnections: Int?
        /// Requests waiting for a connection.
        public var maxPendingRequests: Int?
        /// Requests in flight to the Service.
        public var maxRequests: Int?
    }
    public struct OutlierDetection: Codable, Sendable, Equatable {
        public var consecutive5xx: Int?
        public var consecutiveConnectFailures: Int?
        /// Ejection time for a first ejection; each further ejection of the endpoint lasts one more multiple.
        public var baseEjectionTime: String?
        public var maxEjectionTime: String?
    }
    public struct HealthCheck: Codable, Sendable, Equatable {
        public var path: String?
        public var interval: String?
        public var timeout: String?
        public var unhealthyThreshold: Int?
        public var healthyThreshold: Int?
        public var expectedStatuses: [Int]?
    }
    public struct Spec: Codable, Sendable, Equatable {
        public var targetRefs: [BackendTLSPolicy.TargetRef]
        public var circuitBreaker: CircuitBreaker?
        public var outlierDetection: OutlierDetection?
        public var healthCheck: HealthCheck?
    }
    public var metadata: ObjectMeta
    public var spec: Spec

    func validate(into problems: inout Problems) {
        problems.require(!spec.targetRefs.isEmpty, "spec.targetRefs", "must name at least one Service")
        func positive(_ value: Int?, _ field: String) {
            if let value { problems.require(value >= 1, field, "must be at least 1") }
        }
        func duration(_ value: String?, _ field: String) {
            if let value { problems.require((parseGatewayDuration(value) ?? 0) > 0, field, "\"\(value)\" is not a Gateway API duration above 0 (e.g. 30s)") }
        }
        if let breaker = spec.circuitBreaker {
            positive(breaker.maxConnections, "spec.circuitBreaker.maxConnections")
            positive(breaker.maxPendingRequests, "spec.circuitBreaker.maxPendingRequests")
            positive(breaker.maxRequests, "spec.circuitBreaker.maxRequests")
        }
        if let outlier = spec.outlierDetection {
            positive(outlier.consecutive5xx, "spec.outlierDetection.consecutive5xx")
            positive(outlier.consecutiveConnectFailures, "spec.outlierDetection.consecutiveConnectFailures")
            duration(outlier.baseEjectionTime, "spec.outlierDetection.baseEjectionTime")
            duration(outlier.maxEjectionTime, "spec.outlierDetection.maxEjectionTime")
        }
        if let check = spec.healthCheck {
            problems.require(check.path?.hasPrefix("/") ?? true, "spec.healthCheck.path", "must be an absolute path")
            duration(check.interval, "spec.healthCheck.interval")
            duration(check.timeout, "spec.healthCheck.timeout")
            positive(check.unhealthyThreshold, "spec.healthCheck.unhealthyThreshold")
            positive(check.healthyThreshold, "spec.healthCheck.healthyThreshold")
            for status in check.expectedStatuses ?? [] where !(100...599).contains(status) {
                problems.add("spec.healthCheck.expectedStatuses", "\(status) is not an HTTP status")
            }
        }
    }
}
