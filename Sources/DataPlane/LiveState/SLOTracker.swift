import RoutingTable
import Synchronization

/// Counts one ServiceLevelObjective's good and bad requests per minute over its rolling window, so
/// archway can say at any moment how much error budget is left and how fast it is burning. It outlives
/// table swaps while the objective is unchanged. The window covers what this process has seen: after
/// a restart it starts empty.
public final class SLOTracker: Sendable {
    public struct Snapshot: Sendable, Equatable, Codable {
        public var name: String
        public var total: Int
        public var bad: Int
        /// 1 − bad / (allowed bad): 1 is untouched, 0 is spent, negative is overspent.
        public var budgetRemaining: Double
        /// Bad share over the last 5 minutes and hour, divided by the allowed bad share.
        public var burnRate5m: Double
        public var burnRate1h: Double
        /// At the last hour's burn rate, seconds until the budget is gone; nil when not burning.
        public var exhaustionSeconds: Double?
        public var budgetSeconds: Double
        /// What `total` and `bad` count: "requests", or "minutes" for a Throughput objective.
        public var unit: String?
    }

    private struct Minute {
        var index = -1
        var total = 0
        var bad = 0
    }

    public let spec: SLOSpec
    private let minutes: Mutex<[Minute]>
    private let started = ContinuousClock.now

    public init(spec: SLOSpec) {
        self.spec = spec
        minutes = Mutex(Array(repeating: Minute(), count: max(1, spec.windowSeconds / 60)))
    }

    private func minuteIndex(_ now: ContinuousClock.Instant) -> Int {
        let elapsed = now - started
        return Int(elapsed.components.seconds / 60)
    }

    public func isBad(status: Int, durationNanos: Int64) -> Bool {
        switch spec.kind {
        case .availability: status >= 500
        case .latency: durationNanos > Int64(spec.latencyThresholdMillis ?? 0) * 1_000_000
        case .throughput: false
        }
    }

    public func record(status: Int, durationNanos: Int64, now: ContinuousClock.Instant = .now) {
        let bad = isBad(status: status, durationNanos: durationNanos)
        let index = minuteIndex(now)
        minutes.withLock { minutes in
            let slot = index % minutes.count
            if minutes[slot].index != index { minutes[slot] = Minute(index: index) }
            minutes[slot].total += 1
            if bad { minutes[slot].bad += 1 }
        }
    }

    public func snapshot(now: ContinuousClock.Instant = .now) -> Snapshot {
        let current = minuteIndex(now)
        func sums(lastMinutes: Int) -> (total: Int, bad: Int) {
            minutes.withLock { minutes in
                if spec.kind == .throughput {
                    // Whole minutes only (the current one is still counting); a minute with no
                    // request at all has no slot and counts as bad.
                    let floor = (spec.minRequestsPerSecond ?? 0) * 60
                    let first = max(0, current - lastMinutes)
                    return (first..<current).reduce(into: (0, 0)) { sum, index in
                        let slot = minutes[index % minutes.count]
                        sum.0 += 1
                        if Double(slot.index == index ? slot.total : 0) < floor { sum.1 += 1 }
                    }
                }
                return minutes.reduce(into: (0, 0)) { sum, minute in
                    guard minute.index >= 0, current - minute.index < lastMinutes else { return }
                    sum.0 += minute.total
                    sum.1 += minute.bad
                }
            }
        }
        let allowed = 1 - spec.objective
        let window = sums(lastMinutes: max(1, spec.windowSeconds / 60))
        func burn(_ last: Int) -> Double {
            let part = sums(lastMinutes: last)
            return part.total == 0 ? 0 : Double(part.bad) / Double(part.total) / allowed
        }
        let remaining = window.total == 0 ? 1 : 1 - Double(window.bad) / (Double(window.total) * allowed)
        let budgetSeconds = allowed * Double(spec.windowSeconds)
        let hourly = burn(60)
        // At burn rate r the whole budget lasts window / r; what is left lasts remaining × that.
        let exhaustion: Double? = hourly > 0 ? max(0, remaining) * Double(spec.windowSeconds) / hourly : nil
        return Snapshot(name: spec.name, total: window.total, bad: window.bad, budgetRemaining: remaining,
                        burnRate5m: burn(5), burnRate1h: hourly, exhaustionSeconds: exhaustion, budgetSeconds: budgetSeconds,
                        unit: spec.kind == .throughput ? "minutes" : "requests")
    }
}
