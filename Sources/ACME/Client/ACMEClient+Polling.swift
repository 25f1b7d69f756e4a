import Foundation

extension ACMEClient {
    /// Polls an authorization until it is valid. An invalid one throws `authorizationFailed` carrying the
    /// failed challenge's error (e.g. `unauthorized`, `incorrectResponse`, `dns`), which says what to fix.
    public func waitForAuthorization(at url: String) async throws -> ACMEAuthorization {
        try await poll(url) {
            let (authorization, retryAfter) = try await fetchAuthorization(at: url)
            switch authorization.status {
            case .valid:
                return .done(authorization)
            case .pending, .processing:
                return .again(authorization.status, retryAfter)
            default:
                let failed = authorization.challenges.first { $0.error != nil }
                throw ACMEClientError.authorizationFailed(identifier: authorization.identifier.value, authorizationURL: url,
                                                          problem: failed?.error)
            }
        }
    }

    /// Polls an order until its status is one of `targets`; `invalid` throws with the order's error.
    public func waitForOrder(at url: String, until targets: Set<ACMEStatus>) async throws -> ACMEOrder {
        try await poll(url) {
            let (order, retryAfter) = try await fetchOrder(at: url)
            if targets.contains(order.status) { return .done(order) }
            if order.status == .pending || order.status == .ready || order.status == .processing {
                return .again(order.status, retryAfter)
            }
            throw ACMEClientError.orderFailed(orderURL: url, status: order.status, problem: order.error)
        }
    }

    private func poll<Value: Sendable>(_ url: String, _ step: () async throws -> PollStep<Value>) async throws -> Value {
        let clock = ContinuousClock()
        let deadline = clock.now + polling.timeout
        while true {
            switch try await step() {
            case .done(let value):
                return value
            case .again(let status, let retryAfter):
                let wait = min(retryAfter ?? polling.interval, polling.maximumInterval)
                guard clock.now + wait <= deadline else { throw ACMEClientError.deadlineExceeded(waitingFor: url, lastStatus: status) }
                try await Task.sleep(for: wait)
            }
        }
    }
}

private enum PollStep<Value> {
    case done(Value)
    case again(ACMEStatus, Duration?)
}

extension PollStep: Sendable where Value: Sendable {}
