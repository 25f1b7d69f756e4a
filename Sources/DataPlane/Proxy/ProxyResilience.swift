import NIOCore
import NIOHTTP1
import Observability
import RoutingTable

/// The route's timeouts, retries and mirrors, as they act on one exchange.
extension ProxyHandler {
    func prepareResilience(_ exchange: Exchange, start: NIODeadline, context: ChannelHandlerContext) {
        let route = exchange.route
        if let retry = route.retry {
            exchange.retriesLeft = retry.attempts
            exchange.replay = []
        }
        if let millis = route.requestTimeoutMillis {
            exchange.requestTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: start + .milliseconds(Int64(millis))) {
                self.timedOut(exchange, TimeoutMessages.request(millis))
            }
        }
    }

    /// timeouts.backendRequest bounds each try, from its connect to the end of its response.
    func startTryTimer(_ exchange: Exchange) {
        exchange.tryTimer?.cancel()
        guard let millis = exchange.route.backendTimeoutMillis, let context else { return }
        exchange.tryTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(millis))) {
            guard case .forwarding(let current) = self.state, current === exchange else { return }
            if self.canRetryAgain(exchange) {
                self.retryExchange(exchange)
            } else {
                self.timedOut(exchange, TimeoutMessages.backend(exchange.cluster.id, millis))
            }
        }
    }

    /// Before the response has started the client gets a 504 naming the limit; after, the only
    /// signal left is to cut the connection, as a backend dying mid-response would.
    private func timedOut(_ exchange: Exchange, _ why: String) {
        guard case .forwarding(let current) = state, current === exchange, let context else { return }
        if !exchange.responseStarted {
            return fail(exchange, .gatewayTimeout, why)
        }
        cutMidResponse(exchange, context: context)
    }

    /// A retry is allowed while the policy has attempts left and everything sent so far can be sent
    /// again (the body fits in the replay buffer).
    func canRetryAgain(_ exchange: Exchange) -> Bool {
        exchange.retriesLeft > 0 && exchange.replay != nil && !exchange.responseStarted
    }

    /// Drops the current try (its connection is closed: its response is unread) and sends the request
    /// again after the policy's backoff, to another endpoint when the Service has one.
    func retryExchange(_ exchange: Exchange) {
        exchange.retriesLeft -= 1
        exchange.retries += 1
        exchange.tryTimer?.cancel()
        exchange.dropConnection()
        exchange.pending = [.head(exchange.upstreamHead)] + (exchange.replay ?? [])
        exchange.bodyForwarded = false
        exchange.connectAttempts = 0
        let backoff = exchange.route.retry?.backoffMillis ?? 0
        guard backoff > 0, let context else { return connect(exchange, allowReuse: true) }
        exchange.backoffTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(backoff))) { [weak exchange] in
            guard let exchange, case .forwarding(let current) = self.state, current === exchange else { return }
            exchange.backoffTimer = nil
            self.connect(exchange, allowReuse: true)
        }
    }

    /// One fire-and-forget copy per RequestMirror filter whose fraction this request falls in.
    func startMirrors(_ exchange: Exchange) {
        for mirror in exchange.route.mirrors {
            guard case .cluster(let cluster) = mirror.target, !cluster.endpoints.isEmpty else { continue }
            if mirror.fraction < 1, Double(loop.nextRandom() % 1_000_000) >= mirror.fraction * 1_000_000 { continue }
            let endpoint = cluster.endpoints[loop.nextIndex(cluster: cluster, count: cluster.endpoints.count, table: exchange.record.table)]
            let tls = cluster.tls == nil ? nil : tables.upstreamTLS(cluster: cluster.id)
            let record = exchange.record, metrics = loop.metrics
            exchange.mirrors.append(MirrorRequest(head: exchange.upstreamHead, cluster: cluster, endpoint: endpoint, tls: tls, pool: loop.pool) { abandoned in
                metrics.mirrored(record.metricsKey, mirror: mirror.name, abandoned: abandoned, labels: record.metricLabels)
            })
        }
    }
}

/// Request size limits, checked before anything is forwarded.
extension ProxyHandler {
    func limitExceeded(_ head: HTTPRequestHead) -> (HTTPResponseStatus, String)? {
        let limits = loop.limits
        if head.uri.utf8.count > limits.maxURIBytes {
            return (.uriTooLong, "request target is \(head.uri.utf8.count) bytes; the limit is \(limits.maxURIBytes)")
        }
        if head.headers.count > limits.maxHeaderCount {
            return (.requestHeaderFieldsTooLarge, "request has \(head.headers.count) header fields; the limit is \(limits.maxHeaderCount)")
        }
        var bytes = head.uri.utf8.count
        for (name, value) in head.headers { bytes += name.utf8.count + value.utf8.count + 4 }
        if bytes > limits.maxHeaderBytes {
            return (.requestHeaderFieldsTooLarge, "request head is \(bytes) bytes; the limit is \(limits.maxHeaderBytes)")
        }
        if let limit = limits.maxRequestBodyBytes, let length = head.headers.first(name: "content-length").flatMap({ Int($0) }), length > limit {
            return (.payloadTooLarge, "request body is \(length) bytes; the limit is \(limit)")
        }
        return nil
    }

    /// A body without a (small enough) Content-Length crossed the limit while streaming: 413 if the
    /// backend has not answered yet, and the connection closes either way (the rest is unread).
    func bodyTooLarge(_ limit: Int) {
        guard let context else { return }
        let why = "request body exceeded the limit of \(limit) bytes"
        switch state {
        case .forwarding(let exchange) where !exchange.responseStarted:
            keepAliveOff()
            fail(exchange, .payloadTooLarge, why)
        case .forwarding(let exchange):
            cutMidResponse(exchange, context: context)
        case .idle, .discarding, .authorizing:
            break
        }
    }
}

/// The circuit breaker's connection limits, for a new upstream connection.
extension ProxyHandler {
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
