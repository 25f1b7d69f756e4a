/// archway.dev/v1alpha1 ServiceLevelObjective: what share of a route's (or a Gateway's) requests must
/// be good over a rolling window. `Availability`: good means any status below 500. `Latency`: good
/// means answered within `latencyThreshold`, which must be one of the latency histogram's bucket
/// bounds so that the generated PromQL is exact. `Throughput` counts minutes instead of requests: a
/// minute is good when the target served at least `minRequestsPerSecond` on average ("handle 10,000
/// requests a second; may drop below it 10% of the time" is 10000 and 90).
public struct ServiceLevelObjective: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case Availability, Latency, Throughput }
    public struct TargetRef: Codable, Sendable, Equatable {
        public var group: String?
        public var kind: String
        public var name: String
    }
    public struct Spec: Codable, Sendable, Equatable {
        public var targetRef: TargetRef
        public var type: Kind
        /// Percent of good requests, e.g. 99.9.
        public var objective: Double
        /// Rolling window: a number of days or hours, e.g. 30d, 7d, 24h.
        public var window: String
        public var latencyThreshold: String?
        public var minRequestsPerSecond: Double?
    }
    public var metadata: ObjectMeta
    public var spec: Spec

    /// The latency histogram's bucket bounds, in milliseconds (GatewayMetrics uses the same).
    public static let latencyBucketMillis = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000]

    func validate(into problems: inout Problems) {
        problems.require(spec.objective > 0 && spec.objective < 100, "spec.objective", "must be a percentage between 0 and 100 (exclusive), e.g. 99.9")
        problems.require(Self.windowSeconds(spec.window) != nil, "spec.window", "\"\(spec.window)\" is not a window such as 30d, 7d or 24h")
        problems.require(["HTTPRoute", "GRPCRoute", "Gateway"].contains(spec.targetRef.kind), "spec.targetRef.kind", "must be HTTPRoute, GRPCRoute or Gateway")
        switch spec.type {
        case .Latency:
            if let threshold = spec.latencyThreshold {
                let millis = parseGatewayDuration(threshold)
                problems.require(millis.map(Self.latencyBucketMillis.contains) == true, "spec.latencyThreshold",
                                 "\"\(threshold)\" must be one of the latency buckets: \(Self.latencyBucketMillis.map { "\($0)ms" }.joined(separator: ", "))")
            } else {
                problems.add("spec.latencyThreshold", "is required for type Latency")
            }
        case .Availability, .Throughput:
            problems.require(spec.latencyThreshold == nil, "spec.latencyThreshold", "only applies to type Latency")
        }
        if spec.type == .Throughput {
            problems.require((spec.minRequestsPerSecond ?? 0) > 0, "spec.minRequestsPerSecond", "is required for type Throughput: the requests per second a minute must reach, above 0")
        } else {
            problems.require(spec.minRequestsPerSecond == nil, "spec.minRequestsPerSecond", "only applies to type Throughput")
        }
    }

    /// "30d" → 2,592,000; "24h" → 86,400.
    public static func windowSeconds(_ text: String) -> Int? {
        guard let unit = text.last, let number = Int(text.dropLast()), number > 0, number <= 400 * 24 else { return nil }
        switch unit {
        case "d": return number <= 400 ? number * 86_400 : nil
        case "h": return number * 3_600
        default: return nil
        }
    }

    /// The error budget as time: the share of the window that may be bad. 99.9% over 30 days is
    /// 0.001 × 720 h = 0.72 h (43.2 minutes).
    public static func budgetSeconds(objectivePercent: Double, windowSeconds: Int) -> Double {
        (1 - objectivePercent / 100) * Double(windowSeconds)
    }
}
