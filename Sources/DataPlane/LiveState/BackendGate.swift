import NIOCore
import RoutingTable

/// A BackendTrafficPolicy as it acts on one request's tries: which endpoint may be tried, whether a
/// new connection may be opened, and what each try's outcome does to the endpoint's record. The
/// general path and the HTTP/1 fast lane both go through here, so the breaker and outlier detection
/// behave the same whichever path carries a request.
struct BackendGate {
    let health: ClusterHealth
    let cluster: String
    let loop: EventLoopContext

    /// The request's maxRequests slot, taken when its backend is picked (the tries give it back);
    /// nil when taken, else the 503 that says the breaker is open.
    static func admit(_ health: ClusterHealth?, cluster: String) -> LocalAnswer? {
        guard let health, !health.acquireRequest() else { return nil }
        return LocalAnswer(.serviceUnavailable,
                           "circuit breaker open: Service \(cluster) already has its maxRequests (\(health.policy.maxRequests ?? 0)) in flight")
    }

    /// The first usable endpoint from `index` on, in round-robin order: ejected endpoints and those
    /// failing health checks are skipped. With none left (nil) the answer is `noneUsable`, at once,
    /// rather than a wait on a backend known to be down.
    func usableIndex(from index: Int, of endpoints: [Endpoint]) -> Int? {
        (0..<endpoints.count).lazy.map { (index + $0) % endpoints.count }.first { health.isUsable(endpoints[$0]) }
    }

    var noneUsable: LocalAnswer {
        LocalAnswer(.serviceUnavailable, "every endpoint of Service \(cluster) is ejected or failing its health checks")
    }

    /// Before opening a connection: a connection slot and a pending slot, or the 503 naming the limit
    /// reached (taking neither).
    func reserveConnection() -> LocalAnswer? {
        guard health.acquireConnection() else {
            return LocalAnswer(.serviceUnavailable,
                               "circuit breaker open: Service \(cluster) already has its maxConnections (\(health.policy.maxConnections ?? 0)) open")
        }
        guard health.acquirePending() else {
            health.releaseConnection()
            return LocalAnswer(.serviceUnavailable,
                               "circuit breaker open: Service \(cluster) already has its maxPendingRequests (\(health.policy.maxPendingRequests ?? 0)) waiting for a connection")
        }
        return nil
    }

    /// The connect finished: the pending slot goes back now, the connection slot when the connection
    /// closes (at once when there is none); a failed connect counts against the endpoint.
    func connectFinished(_ channel: (any Channel)?, endpoint: Endpoint) {
        health.releasePending()
        if let channel {
            let health = self.health
            channel.closeFuture.whenComplete { _ in health.releaseConnection() }
        } else {
            health.releaseConnection()
            record(.connectFailure, endpoint: endpoint)
        }
    }

    /// A try's outcome on the endpoint's record; an ejection it causes is counted.
    func record(_ outcome: ClusterHealth.Outcome, endpoint: Endpoint) {
        if health.record(outcome, endpoint: endpoint) { loop.metrics.gauges.ejection(service: cluster) }
    }

    /// The try's connection closed and `UpstreamTries` decided `next`: unless the request is simply
    /// resent (a stale pooled connection) or the response had already begun, the endpoint failed it.
    func connectionClosed(deciding next: UpstreamTries.Next, endpoint: Endpoint?) {
        guard next != .resend, next != .cut, let endpoint else { return }
        record(.connectFailure, endpoint: endpoint)
    }

    /// What a response status says about the endpoint.
    func recordResponse(status: Int, endpoint: Endpoint) {
        record(status >= 500 ? .serverError : .success, endpoint: endpoint)
    }
}
