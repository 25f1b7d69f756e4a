import RoutingTable
import Synchronization

/// The live side of a cluster with a BackendTrafficPolicy, shared by every event loop: the circuit
/// breaker's counters and, per endpoint, the failure streaks, ejections and health-check verdicts.
/// It outlives table swaps while the cluster and its policy stay the same, so a reload does not
/// forgive an endpoint that is failing.
public final class ClusterHealth: Sendable {
    public enum Outcome: Sendable { case success, serverError, connectFailure }

    private struct EndpointState {
        var consecutive5xx = 0
        var consecutiveConnectFailures = 0
        var ejectedUntil: ContinuousClock.Instant?
        var ejections = 0
        /// False after `unhealthyThreshold` failed checks in a row, true again after `healthyThreshold` passes.
        var passesChecks = true
        var checkStreak = 0
    }

    public let policy: BackendResilience
    public let endpoints: [Endpoint]
    private let states: Mutex<[Endpoint: EndpointState]>
    private let requests = Atomic<Int>(0)
    private let pending = Atomic<Int>(0)
    private let connections = Atomic<Int>(0)

    public init(policy: BackendResilience, endpoints: [Endpoint]) {
        self.policy = policy
        self.endpoints = endpoints
        states = Mutex([:])
    }

    /// Whether requests may go to `endpoint` now: not ejected, not failing its health checks.
    public func isUsable(_ endpoint: Endpoint, now: ContinuousClock.Instant = .now) -> Bool {
        states.withLock { states in
            guard let state = states[endpoint] else { return true }
            if let until = state.ejectedUntil, until > now { return false }
            return state.passesChecks
        }
    }

    /// Passive outlier detection: `consecutive5xx` server errors or `consecutiveConnectFailures`
    /// failed connections in a row eject the endpoint for base × (times ejected), up to the maximum.
    /// True when this outcome ejected the endpoint.
    @discardableResult
    public func record(_ outcome: Outcome, endpoint: Endpoint, now: ContinuousClock.Instant = .now) -> Bool {
        guard policy.consecutive5xx != nil || policy.consecutiveConnectFailures != nil else { return false }
        return states.withLock { states in
            var state = states[endpoint] ?? EndpointState()
            switch outcome {
            case .success:
                state.consecutive5xx = 0
                state.consecutiveConnectFailures = 0
            case .serverError:
                state.consecutive5xx += 1
            case .connectFailure:
                state.consecutiveConnectFailures += 1
            }
            let tripped = policy.consecutive5xx.map { state.consecutive5xx >= $0 } == true
                || policy.consecutiveConnectFailures.map { state.consecutiveConnectFailures >= $0 } == true
            if tripped {
                state.ejections += 1
                let millis = min(policy.baseEjectionMillis * state.ejections, max(policy.maxEjectionMillis, policy.baseEjectionMillis))
                state.ejectedUntil = now + .milliseconds(millis)
                state.consecutive5xx = 0
                state.consecutiveConnectFailures = 0
            }
            states[endpoint] = state
            return tripped
        }
    }

    /// An active health check's verdict on `endpoint`.
    public func recordCheck(passed: Bool, endpoint: Endpoint) {
        guard let check = policy.healthCheck else { return }
        states.withLock { states in
            var state = states[endpoint] ?? EndpointState()
            if passed == state.passesChecks {
                state.checkStreak = 0
            } else {
                state.checkStreak += 1
                if state.checkStreak >= (passed ? check.healthyThreshold : check.unhealthyThreshold) {
                    state.passesChecks = passed
                    state.checkStreak = 0
                }
            }
            states[endpoint] = state
        }
    }

    // MARK: Circuit breaker. Each acquire that returns true is paired with one release.

    public func acquireRequest() -> Bool { acquire(requests, limit: policy.maxRequests) }
    public func releaseRequest() { release(requests, limit: policy.maxRequests) }
    public func acquirePending() -> Bool { acquire(pending, limit: policy.maxPendingRequests) }
    public func releasePending() { release(pending, limit: policy.maxPendingRequests) }
    public func acquireConnection() -> Bool { acquire(connections, limit: policy.maxConnections) }
    public func releaseConnection() { release(connections, limit: policy.maxConnections) }

    private func acquire(_ counter: borrowing Atomic<Int>, limit: Int?) -> Bool {
        guard let limit else { return true }
        if counter.wrappingAdd(1, ordering: .relaxed).newValue > limit {
            counter.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    private func release(_ counter: borrowing Atomic<Int>, limit: Int?) {
        guard limit != nil else { return }
        counter.wrappingSubtract(1, ordering: .relaxed)
    }
}
