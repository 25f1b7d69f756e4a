import DataPlane
import GatewayAPI
import RoutingTable

/// One analysis interval's judgement of a canary against its thresholds: the one place the numbers
/// are read (the tracker only counts). A canary with fewer requests than `minRequests` in the
/// interval is not judged at all: a handful of requests proves nothing either way.
struct RolloutAnalysis {
    var thresholds: Rollout.Analysis
    /// `maxErrorRate` when the Rollout names no analysis at all: 1% of the canary's requests.
    static let defaultMaxErrorRate = 1.0

    struct Outcome {
        /// Why the canary failed, with the numbers; nil when it passed or was not judged.
        var failure: String?
        var judged: Bool
        /// The interval's numbers, for the transition's log line.
        var figures: [String: String]
    }

    init(_ rollout: Rollout) {
        thresholds = rollout.spec.analysis ?? Rollout.Analysis(maxErrorRate: Self.defaultMaxErrorRate)
    }

    var minRequests: Int { thresholds.minRequests ?? 20 }

    func judge(canary: RolloutTracker.Counts, stable: RolloutTracker.Counts, slos: [SLOTracker.Snapshot], interval: String) -> Outcome {
        let canaryRate = canary.total > 0 ? 100 * Double(canary.errors) / Double(canary.total) : 0
        let stableRate = stable.total > 0 ? 100 * Double(stable.errors) / Double(stable.total) : 0
        var figures: [String: String] = [
            "canary_requests": "\(canary.total)", "canary_errors": "\(canary.errors)", "canary_error_rate_pct": Self.rounded(canaryRate),
            "stable_requests": "\(stable.total)", "stable_error_rate_pct": Self.rounded(stableRate),
        ]
        figures["canary_p99_ms"] = canary.p99Millis.map(String.init)
        figures["stable_p99_ms"] = stable.p99Millis.map(String.init)
        for slo in slos { figures["burn_rate_5m \(slo.name)"] = Self.rounded(slo.burnRate5m) }
        guard canary.total >= minRequests else { return Outcome(failure: nil, judged: false, figures: figures) }
        let stableJudged = stable.total >= minRequests
        let over = "over \(interval) (\(canary.errors) of \(canary.total) canary requests failed)"
        if let max = thresholds.maxErrorRate, canaryRate > max {
            return Outcome(failure: "canary error rate \(Self.rounded(canaryRate))% \(over) is above maxErrorRate \(Self.rounded(max))%"
                           + (stableJudged ? " (stable: \(Self.rounded(stableRate))%)" : ""), judged: true, figures: figures)
        }
        if let max = thresholds.maxErrorRateOverStable, stableJudged, canaryRate - stableRate > max {
            return Outcome(failure: "canary error rate \(Self.rounded(canaryRate))% \(over) is \(Self.rounded(canaryRate - stableRate)) points above "
                           + "stable's \(Self.rounded(stableRate))%, more than maxErrorRateOverStable \(Self.rounded(max))", judged: true, figures: figures)
        }
        if let text = thresholds.maxLatencyP99, let max = parseGatewayDuration(text), let p99 = canary.p99Millis, p99 > max {
            return Outcome(failure: "canary p99 latency \(p99) ms over \(interval) is above maxLatencyP99 \(text)"
                           + (stable.p99Millis.map { " (stable p99: \($0) ms)" } ?? ""), judged: true, figures: figures)
        }
        if let ratio = thresholds.maxLatencyP99Ratio, stableJudged, let p99 = canary.p99Millis, let stableP99 = stable.p99Millis,
           Double(p99) > ratio * Double(Swift.max(stableP99, 1)) {
            return Outcome(failure: "canary p99 latency \(p99) ms over \(interval) is more than \(Self.rounded(ratio))× stable's \(stableP99) ms "
                           + "(maxLatencyP99Ratio)", judged: true, figures: figures)
        }
        if let max = thresholds.maxBurnRate, let burning = slos.first(where: { $0.burnRate5m > max }) {
            return Outcome(failure: "ServiceLevelObjective \(burning.name) burns its error budget at \(Self.rounded(burning.burnRate5m))× "
                           + "over 5 minutes, above maxBurnRate \(Self.rounded(max))", judged: true, figures: figures)
        }
        return Outcome(failure: nil, judged: true, figures: figures)
    }

    /// Why the route may not take a canary now: an objective of the route with no error budget left.
    static func budgetBlock(_ slos: [SLOTracker.Snapshot]) -> String? {
        guard let spent = slos.first(where: { $0.total > 0 && $0.budgetRemaining <= 0 }) else { return nil }
        return "ServiceLevelObjective \(spent.name) has no error budget left (\(rounded(spent.budgetRemaining * 100))% remaining): "
            + "fix what spends it before shipping a canary"
    }

    static func rounded(_ value: Double) -> String {
        let tenths = (value * 10).rounded() / 10
        return tenths == tenths.rounded() ? String(Int(tenths)) : String(tenths)
    }
}
