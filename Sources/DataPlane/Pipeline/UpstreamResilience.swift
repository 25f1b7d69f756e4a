import NIOCore
import NIOHTTP1
import Observability
import RoutingTable

/// The route's timeouts, retries and mirrors, and the circuit breaker's connection limits, as they act
/// on one upstream attempt.
extension UpstreamAttempt {
    func prepareResilience() {
        let route = plan.route
        if let retry = route.retry {
            retriesLeft = retry.attempts
            replay = []
        }
        if let millis = route.requestTimeoutMillis {
            requestTimer = loop.eventLoop.assumeIsolated().scheduleTask(deadline: request.record.start + .milliseconds(Int64(millis))) {
                self.timedOut(TimeoutMessages.request(millis))
            }
        }
    }

    /// timeouts.backendRequest bounds each try, from its connect to the end of its response.
    func startTryTimer() {
        tryTimer?.cancel()
        guard let millis = plan.route.backendTimeoutMillis else { return }
        tryTimer = loop.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(millis))) {
            guard !self.isOver else { return }
            if self.canRetryAgain {
                self.retryAttempt()
            } else {
                self.timedOut(TimeoutMessages.backend(self.cluster.id, millis))
            }
        }
    }

    func cancelTimers() {
        requestTimer?.cancel()
        tryTimer?.cancel()
        backoffTimer?.cancel()
        requestTimer = nil
        tryTimer = nil
        backoffTimer = nil
    }

    /// Before the response has started the client gets a 504 naming the limit; after, the only
    /// signal left is to cut the connection, as a backend dying mid-response would.
    private func timedOut(_ why: String) {
        guard !isOver else { return }
        if !responseStarted { return fail(LocalAnswer(.gatewayTimeout, why)) }
        cut()
    }

    /// A retry is allowed while the policy has attempts left and everything sent so far can be sent
    /// again (the body fits in the replay buffer).
    var canRetryAgain: Bool {
        retriesLeft > 0 && replay != nil && !responseStarted
    }

    /// Drops the current try (its connection is closed: its response is unread) and sends the request
    /// again after the policy's backoff, to another endpoint when the Service has one.
    func retryAttempt() {
        retriesLeft -= 1
        retries += 1
        tryTimer?.cancel()
        dropConnection()
        pending = [.head(plan.head)] + (replay ?? [])
        bodyForwarded = false
        connectAttempts = 0
        let backoff = plan.route.retry?.backoffMillis ?? 0
        guard backoff > 0 else { return connect(allowReuse: true) }
        backoffTimer = loop.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(backoff))) { [weak self] in
            guard let self, !self.isOver else { return }
            self.backoffTimer = nil
            self.connect(allowReuse: true)
        }
    }

    /// One fire-and-forget copy per RequestMirror filter whose fraction this request falls in.
    func startMirrors() {
        for mirror in plan.route.mirrors {
            guard case .cluster(let cluster) = mirror.target, !cluster.endpoints.isEmpty else { continue }
            if mirror.fraction < 1, Double(loop.nextRandom() % 1_000_000) >= mirror.fraction * 1_000_000 { continue }
            let endpoint = cluster.endpoints[loop.nextIndex(cluster: cluster, count: cluster.endpoints.count, table: request.record.table)]
            let tls = cluster.tls == nil ? nil : tables.upstreamTLS(cluster: cluster.id)
            let record = request.record, metrics = loop.metrics
            mirrors.append(MirrorRequest(head: plan.head, cluster: cluster, endpoint: endpoint, tls: tls, pool: loop.pool) { abandoned in
                metrics.mirrored(record.metricsKey, mirror: mirror.name, abandoned: abandoned, labels: record.metricLabels)
            })
        }
    }

    /// Takes a connection slot and a pending slot, or says which limit is reached (taking neither).
    static func reserveConnection(_ health: ClusterHealth) -> String? {
        guard health.acquireConnection() else {
            return "already has its maxConnections (\(health.policy.maxConnections ?? 0)) open"
        }
        guard health.acquirePending() else {
            health.releaseConnection()
            return "already has its maxPendingRequests (\(health.policy.maxPendingRequests ?? 0)) waiting for a connection"
        }
        return nil
    }
}
