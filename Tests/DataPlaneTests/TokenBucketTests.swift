import Foundation
import Providers
import Synchronization
import Testing

/// The token bucket alone, on a clock the test moves.
struct TokenBucketTests {
    final class TestClock: Sendable {
        let time = Mutex<Duration>(.zero)
        let slept = Mutex<[Duration]>([])
        func advance(_ by: Duration) { time.withLock { $0 += by } }
        func bucket(qps: Double, burst: Int) -> TokenBucket {
            TokenBucket(qps: qps, burst: burst, now: { self.time.withLock { $0 } }, sleep: { delay in self.slept.withLock { $0.append(delay) } })
        }
    }

    @Test func aFullBucketLetsTheBurstGoThenSpacesRequestsAtQPS() {
        let clock = TestClock()
        let bucket = clock.bucket(qps: 10, burst: 5)
        #expect((0..<5).map { _ in bucket.reserve() } == Array(repeating: .zero, count: 5))
        // Further requests queue 1/qps apart: each is told to wait until its own turn.
        #expect(bucket.reserve() == .milliseconds(100))
        #expect(bucket.reserve() == .milliseconds(200))
        // 250 ms later both queued turns have passed and half a token has built up: the next waits 50 ms.
        clock.advance(.milliseconds(250))
        #expect(bucket.reserve() == .milliseconds(50))
    }

    @Test func anIdleSpellRefillsTheBucketButNotPastTheBurst() {
        let clock = TestClock()
        let bucket = clock.bucket(qps: 10, burst: 3)
        for _ in 0..<3 { _ = bucket.reserve() }
        #expect(bucket.reserve() == .milliseconds(100))
        clock.advance(.seconds(100))  // a thousand tokens' worth of time
        #expect((0..<3).map { _ in bucket.reserve() } == Array(repeating: .zero, count: 3))
        #expect(bucket.reserve() == .milliseconds(100))
        // 150 ms pay back the token owed and half of the next: 50 ms to wait.
        clock.advance(.milliseconds(150))
        #expect(bucket.reserve() == .milliseconds(50))
    }

    @Test func waitSleepsOnlyWhenTheBucketIsEmpty() async throws {
        let clock = TestClock()
        let bucket = clock.bucket(qps: 4, burst: 2)
        for _ in 0..<4 { try await bucket.wait() }
        #expect(clock.slept.withLock { $0 } == [.milliseconds(250), .milliseconds(500)])
    }
}
