@testable import DataPlane
import RoutingTable
import Testing

/// What a Rollout's analysis reads: who answered, which answers were failures, and the p99.
struct RolloutTrackerTests {
    @Test func failuresAre5xxAndTheServersGRPCErrorsNotTheCallers() {
        let tracker = RolloutTracker(tracking: RolloutTracking(name: "default/ship", stable: "v1", canary: "v2", slos: []))
        tracker.record(backend: "v2", status: 200, grpcStatus: 0, durationNanos: 1_000_000)
        tracker.record(backend: "v2", status: 200, grpcStatus: 14, durationNanos: 1_000_000)   // UNAVAILABLE
        tracker.record(backend: "v2", status: 200, grpcStatus: 13, durationNanos: 1_000_000)   // INTERNAL
        tracker.record(backend: "v2", status: 200, grpcStatus: 5, durationNanos: 1_000_000)    // NOT_FOUND: the caller's
        tracker.record(backend: "v2", status: 503, durationNanos: 1_000_000)
        tracker.record(backend: "v1", status: 404, durationNanos: 1_000_000)
        tracker.record(backend: "other", status: 500, durationNanos: 1_000_000)                // not the Rollout's
        tracker.recordShadow(status: nil, durationNanos: 1_000_000)                             // a copy never answered
        let counts = tracker.snapshot()
        #expect(counts.canary.total == 5 && counts.canary.errors == 3)
        #expect(counts.stable.total == 1 && counts.stable.errors == 0)
        #expect(counts.shadow.total == 1 && counts.shadow.errors == 1)
    }

    @Test func p99IsTheBucketTheSlowestHundredthFallsIn() {
        var counts = RolloutTracker.Counts()
        for _ in 0..<98 { counts.add(error: false, durationNanos: 4_000_000) }
        #expect(counts.p99Millis == 5)
        counts.add(error: false, durationNanos: 320_000_000)
        counts.add(error: false, durationNanos: 330_000_000)
        // 100 requests: the 99th is one of the slow two, in the 500 ms bucket.
        #expect(counts.p99Millis == 500)
        let later = counts
        for _ in 0..<100 { counts.add(error: false, durationNanos: 1_000_000) }
        // Only what came since `later`: a hundred fast ones.
        #expect(counts.since(later).p99Millis == 1 && counts.since(later).total == 100)
    }
}
