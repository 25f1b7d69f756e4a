import Synchronization

/// Client-side rate limiting of API server requests, as client-go's
/// `flowcontrol.NewTokenBucketRateLimiter(qps, burst)` does: the bucket holds up to `burst` tokens,
/// refills at `qps` tokens a second, and starts full, so a quiet client may send `burst` requests at
/// once and then `qps` a second. Each request takes a token; when none is left the caller waits for
/// its turn. Turns are handed out in order: a token taken ahead of time is owed (the count goes
/// below zero), so concurrent callers queue rather than all waking at the same moment.
public final class TokenBucket: Sendable {
    public let qps: Double
    public let burst: Int
    private let now: @Sendable () -> Duration
    private let sleep: @Sendable (Duration) async throws -> Void
    private let state: Mutex<(tokens: Double, at: Duration)>

    /// `now` is any monotonic time (an offset from an origin); `sleep` waits that long. Both are the
    /// continuous clock's unless a test gives its own.
    public init(qps: Double, burst: Int, now: @escaping @Sendable () -> Duration, sleep: @escaping @Sendable (Duration) async throws -> Void) {
        precondition(qps > 0 && burst >= 1, "a token bucket needs qps > 0 and burst >= 1")
        self.qps = qps
        self.burst = burst
        self.now = now
        self.sleep = sleep
        state = Mutex((Double(burst), now()))
    }

    public convenience init(qps: Double, burst: Int) {
        let clock = ContinuousClock()
        let origin = clock.now
        self.init(qps: qps, burst: burst, now: { clock.now - origin }, sleep: { try await Task.sleep(for: $0) })
    }

    /// Takes a token and tells how long to wait before using it (zero: at once).
    public func reserve() -> Duration {
        let time = now()
        return state.withLock { state in
            let nanoseconds = max(0, (time - state.at) / .nanoseconds(1))
            state.tokens = min(Double(burst), state.tokens + nanoseconds * qps / 1e9)
            state.at = max(state.at, time)
            state.tokens -= 1
            guard state.tokens < 0 else { return .zero }
            return .nanoseconds(Int64((-state.tokens * 1e9 / qps).rounded()))
        }
    }

    /// Waits for a token. Throws `CancellationError` if the task is cancelled while waiting (the
    /// token stays spent: the next caller waits as if it had been used).
    public func wait() async throws {
        let delay = reserve()
        if delay > .zero { try await sleep(delay) }
    }
}
