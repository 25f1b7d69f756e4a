import Foundation

/// archway.dev/v1alpha1 Rollout: a canary that walks itself through its steps on one rule of an
/// HTTPRoute or GRPCRoute, judged against the stable backend on archway's own signals, and rolled
/// back the moment it fails (what Flagger and Argo Rollouts do with a separate controller and a
/// Prometheus). The route is never rewritten: archway serves the rule with the current step's
/// traffic, and the route's status says a Rollout manages it.
public struct Rollout: Codable, Sendable, Equatable {
    public struct TargetRef: Codable, Sendable, Equatable {
        public var group: String?
        /// HTTPRoute (default) or GRPCRoute.
        public var kind: String?
        public var name: String
        /// The rule's `name`; may be left out when the route has one rule.
        public var sectionName: String?
    }

    /// A backendRef of the target rule, by Service name (and port when the rule names one Service twice).
    public struct BackendName: Codable, Sendable, Equatable {
        public var name: String
        public var port: Int?
    }

    /// Requests that carry the header (or cookie) go to the canary; everyone else to stable.
    public struct Testers: Codable, Sendable, Equatable {
        public var header: HTTPRoute.ValueMatch?
        /// `name=value`, matched in the Cookie header.
        public var cookie: String?
    }

    /// One step. Exactly one of `weight`, `shadow`, `testers`.
    public struct Step: Codable, Sendable, Equatable {
        /// Percent of live traffic to the canary.
        public var weight: Int?
        /// Percent of live requests copied to the canary (its answers thrown away); stable answers all.
        public var shadow: Int?
        public var testers: Testers?
        /// The least time on this step (a Gateway API duration, "1m"); default: one analysis interval.
        public var duration: String?
        /// The least canary requests seen on this step before the next; default 0.
        public var minRequests: Int?
    }

    /// What the canary must keep to, judged every `interval` on that interval's requests.
    public struct Analysis: Codable, Sendable, Equatable {
        /// Default 10s.
        public var interval: String?
        /// Canary requests an interval needs before it is judged at all; default 20.
        public var minRequests: Int?
        /// Most percent of the canary's requests answered 5xx (or a gRPC error), e.g. 1 for 1%.
        public var maxErrorRate: Double?
        /// Most percentage points the canary's error rate may exceed stable's in the same interval.
        public var maxErrorRateOverStable: Double?
        /// Most p99 latency of the canary (a duration, "500ms").
        public var maxLatencyP99: String?
        /// Most canary p99 as a multiple of stable's p99 in the same interval (stable needs
        /// `minRequests` too).
        public var maxLatencyP99Ratio: Double?
        /// Most 5-minute burn rate of the route's ServiceLevelObjectives.
        public var maxBurnRate: Double?

        public init(interval: String? = nil, minRequests: Int? = nil, maxErrorRate: Double? = nil, maxErrorRateOverStable: Double? = nil,
                    maxLatencyP99: String? = nil, maxLatencyP99Ratio: Double? = nil, maxBurnRate: Double? = nil) {
            self.interval = interval
            self.minRequests = minRequests
            self.maxErrorRate = maxErrorRate
            self.maxErrorRateOverStable = maxErrorRateOverStable
            self.maxLatencyP99 = maxLatencyP99
            self.maxLatencyP99Ratio = maxLatencyP99Ratio
            self.maxBurnRate = maxBurnRate
        }
    }

    public struct Spec: Codable, Sendable, Equatable {
        public var targetRef: TargetRef
        public var stable: BackendName
        public var canary: BackendName
        public var steps: [Step]
        public var analysis: Analysis?
    }

    /// What archway reads back of its own status in a cluster: where the rollout stands, which the
    /// leader writes and every replica serves (file mode keeps it in the state directory instead).
    public struct SharedStatus: Codable, Sendable, Equatable {
        public var progress: RolloutProgress?
    }

    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: SharedStatus?

    public var analysisInterval: Duration {
        .milliseconds(spec.analysis?.interval.flatMap(parseGatewayDuration) ?? 10_000)
    }

    func validate(into problems: inout Problems) {
        problems.require(["HTTPRoute", "GRPCRoute"].contains(spec.targetRef.kind ?? "HTTPRoute"), "spec.targetRef.kind", "must be HTTPRoute or GRPCRoute")
        problems.require(spec.stable != spec.canary, "spec.canary", "must differ from spec.stable")
        problems.require(!spec.steps.isEmpty, "spec.steps", "must list at least one step")
        for (index, step) in spec.steps.enumerated() {
            let field = "spec.steps[\(index)]"
            let kinds = [step.weight != nil, step.shadow != nil, step.testers != nil].filter { $0 }.count
            problems.require(kinds == 1, field, "must have exactly one of weight, shadow, testers")
            if let weight = step.weight { problems.require((0...100).contains(weight), "\(field).weight", "must be a percentage 0–100") }
            if let shadow = step.shadow { problems.require((1...100).contains(shadow), "\(field).shadow", "must be a percentage 1–100") }
            if let testers = step.testers {
                problems.require((testers.header == nil) != (testers.cookie == nil), "\(field).testers", "must have exactly one of header, cookie")
                if let cookie = testers.cookie {
                    problems.require(cookie.split(separator: "=", maxSplits: 1).count == 2, "\(field).testers.cookie", "must be name=value")
                }
            }
            if let duration = step.duration {
                problems.require(parseGatewayDuration(duration) != nil, "\(field).duration", "\"\(duration)\" is not a duration such as 30s or 5m")
            }
            problems.require((step.minRequests ?? 0) >= 0, "\(field).minRequests", "must not be negative")
        }
        if let analysis = spec.analysis {
            for (field, value) in [("interval", analysis.interval), ("maxLatencyP99", analysis.maxLatencyP99)] {
                guard let value else { continue }
                problems.require(parseGatewayDuration(value).map { $0 > 0 } == true, "spec.analysis.\(field)", "\"\(value)\" is not a duration such as 10s or 500ms")
            }
            for (field, value) in [("maxErrorRate", analysis.maxErrorRate), ("maxErrorRateOverStable", analysis.maxErrorRateOverStable)] {
                guard let value else { continue }
                problems.require((0...100).contains(value), "spec.analysis.\(field)", "must be a percentage 0–100")
            }
            for (field, value) in [("maxLatencyP99Ratio", analysis.maxLatencyP99Ratio), ("maxBurnRate", analysis.maxBurnRate)] {
                guard let value else { continue }
                problems.require(value > 0, "spec.analysis.\(field)", "must be positive")
            }
        }
    }

    /// The traffic the rule gets at this progress: the one rule the translator, the controller and
    /// the status all read. Not started yet, rolled back or aborted: everything to stable. Promoted:
    /// everything to the canary.
    public func traffic(at progress: RolloutProgress?) -> RolloutTraffic {
        guard let progress, progress.fingerprint == fingerprint else { return .weight(0) }
        switch progress.phase {
        case .Waiting, .RolledBack, .Aborted: return .weight(0)
        case .Promoted: return .weight(100)
        case .Progressing, .Paused:
            guard spec.steps.indices.contains(progress.step) else { return .weight(0) }
            let step = spec.steps[progress.step]
            if let weight = step.weight { return .weight(weight) }
            if let shadow = step.shadow { return .shadow(shadow) }
            if let testers = step.testers { return .testers(testers) }
            return .weight(0)
        }
    }

    /// Identifies what the rollout is about (target, backends, steps): progress recorded for another
    /// fingerprint is stale, and the rollout starts again from its first step.
    public var fingerprint: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data = (try? encoder.encode([AnyEncodableSpec(spec: spec)])) ?? Data()
        // FNV-1a: stable across processes and machines, unlike Hasher.
        var hash: UInt64 = 0xcbf29ce484222325
        for byte in data { hash = (hash ^ UInt64(byte)) &* 0x100000001b3 }
        return String(hash, radix: 16)
    }

    private struct AnyEncodableSpec: Encodable {
        var spec: Spec
        // The analysis thresholds are left out: tightening them mid-rollout keeps its place.
        enum CodingKeys: String, CodingKey { case targetRef, stable, canary, steps }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(spec.targetRef, forKey: .targetRef)
            try container.encode(spec.stable, forKey: .stable)
            try container.encode(spec.canary, forKey: .canary)
            try container.encode(spec.steps, forKey: .steps)
        }
    }
}

public enum RolloutTraffic: Sendable, Equatable {
    /// Percent of live traffic to the canary.
    case weight(Int)
    /// Stable answers everything; this percent of requests is copied to the canary.
    case shadow(Int)
    case testers(Rollout.Testers)

    /// The canary's share of live traffic, for metrics and status.
    public var canaryWeight: Int {
        if case .weight(let weight) = self { return weight }
        return 0
    }
}

/// Where a Rollout stands: on its status in a cluster, in the state directory in file mode.
public struct RolloutProgress: Codable, Sendable, Equatable {
    public enum Phase: String, Codable, Sendable {
        /// Not started: the route's error budget is spent (or nothing has judged it yet).
        case Waiting
        case Progressing
        /// Held on its step by `archway rollout pause`, or by a spent error budget.
        case Paused
        /// Analysis failed: everything back to stable.
        case RolledBack
        /// Stopped by `archway rollout abort`: everything back to stable.
        case Aborted
        /// Every step passed: everything to the canary.
        case Promoted
    }

    public var phase: Phase
    public var step: Int
    /// When the current step began (RFC 3339).
    public var stepStartedAt: String
    /// Why it is where it is: the numbers that failed analysis, the budget that paused it.
    public var message: String?
    /// The spec the progress belongs to (`Rollout.fingerprint`).
    public var fingerprint: String
    /// Paused by a person (resume lifts it), not by the budget gate (which lifts itself).
    public var pausedByUser: Bool?

    public init(phase: Phase, step: Int, stepStartedAt: String, message: String? = nil, fingerprint: String) {
        self.phase = phase
        self.step = step
        self.stepStartedAt = stepStartedAt
        self.message = message
        self.fingerprint = fingerprint
    }
}

/// A Rollout's `.status`: its Accepted condition, the progress, the effective weights and what to
/// write into the route once it is promoted.
public struct RolloutStatus: Codable, Sendable, Equatable {
    public var conditions: [Condition]
    public var progress: RolloutProgress?
    /// The canary's share of live traffic now.
    public var canaryWeight: Int?
    public var message: String?

    public init(conditions: [Condition], progress: RolloutProgress? = nil, canaryWeight: Int? = nil, message: String? = nil) {
        self.conditions = conditions
        self.progress = progress
        self.canaryWeight = canaryWeight
        self.message = message
    }
}
