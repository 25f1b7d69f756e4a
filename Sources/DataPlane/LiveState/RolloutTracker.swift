import RoutingTable
import Synchronization

/// Counts a Rollout's requests by who answered them: stable, the canary (live), and the canary's
/// answers to shadow copies. Counters only grow; the rollout controller reads them every analysis
/// interval and judges the difference, so the counting stays a few additions under a lock and every
/// judgement (error rates, p99, thresholds) lives in one place, the controller. It outlives table
/// swaps while the Rollout tracks the same backends, which every step changes the weights of.
public final class RolloutTracker: Sendable {
    /// Latency bucket bounds in milliseconds: fine enough that a p99 read from them is off by at most
    /// one bucket (a request slower than the last bound counts in an open last bucket).
    public static let bucketMillis: [Int] = [1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750,
                                             1000, 1500, 2000, 3000, 5000, 10000, 30000]

    public struct Counts: Sendable, Equatable, Codable {
        public var total = 0
        /// 5xx answers, abandoned shadow copies, and gRPC calls that ended with a server-side error
        /// status (`serverErrorGRPCStatuses`).
        public var errors = 0
        /// One count per `bucketMillis` bound plus the open last bucket.
        public var buckets = [Int](repeating: 0, count: RolloutTracker.bucketMillis.count + 1)

        public init() {}

        /// What was counted since `earlier`.
        public func since(_ earlier: Counts) -> Counts {
            var difference = Counts()
            difference.total = total - earlier.total
            difference.errors = errors - earlier.errors
            difference.buckets = zip(buckets, earlier.buckets).map { $0 - $1 }
            return difference
        }

        /// The upper bound (ms) of the bucket the 99th percentile falls in; nil without requests.
        /// The open last bucket reads as twice the last bound.
        public var p99Millis: Int? {
            guard total > 0 else { return nil }
            let rank = Int((Double(total) * 0.99).rounded(.up))
            var seen = 0
            for (index, count) in buckets.enumerated() {
                seen += count
                if seen >= rank { return index < RolloutTracker.bucketMillis.count ? RolloutTracker.bucketMillis[index] : 2 * RolloutTracker.bucketMillis.last! }
            }
            return 2 * RolloutTracker.bucketMillis.last!
        }

        mutating func add(error: Bool, durationNanos: Int64) {
            total += 1
            if error { errors += 1 }
            let millis = durationNanos / 1_000_000
            buckets[RolloutTracker.bucketMillis.firstIndex { Int64($0) >= millis } ?? RolloutTracker.bucketMillis.count] += 1
        }
    }

    public struct Snapshot: Sendable, Equatable, Codable {
        public var stable = Counts()
        public var canary = Counts()
        public var shadow = Counts()
        public init() {}
    }

    public let tracking: RolloutTracking
    private let counts = Mutex(Snapshot())

    public init(tracking: RolloutTracking) {
        self.tracking = tracking
    }

    /// The grpc-status codes that are the server's failure, as gRPC-to-HTTP mappings send them to 5xx:
    /// UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS. A caller's mistake
    /// (NOT_FOUND, INVALID_ARGUMENT, PERMISSION_DENIED...) is no fault of the canary's.
    public static let serverErrorGRPCStatuses: Set<Int> = [2, 4, 12, 13, 14, 15]

    /// A request of the Rollout's rules, answered by `backend` (a backendRef name); others are not counted.
    func record(backend: String, status: Int, grpcStatus: Int? = nil, durationNanos: Int64) {
        let error = status >= 500 || grpcStatus.map(Self.serverErrorGRPCStatuses.contains) == true
        if backend == tracking.canary {
            counts.withLock { $0.canary.add(error: error, durationNanos: durationNanos) }
        } else if backend == tracking.stable {
            counts.withLock { $0.stable.add(error: error, durationNanos: durationNanos) }
        }
    }

    /// A shadow copy the canary answered with `status`, or nil when it never answered.
    func recordShadow(status: Int?, durationNanos: Int64) {
        counts.withLock { $0.shadow.add(error: (status ?? 500) >= 500, durationNanos: durationNanos) }
    }

    public func snapshot() -> Snapshot { counts.withLock { $0 } }
}
