import NIOCore
import NIOHTTP1
import Observability
import RoutingTable

/// The route's timeouts, retries and mirrors, and the circuit breaker's connection limits, as they act
/// on one upstream attempt.
extension UpstreamAttempt {
    func prepareResilience() {
        if let millis = plan.route.requestTimeoutMillis {
            requestTimer = loop.eventLoop.assumeIsolated().scheduleTask(deadline: request.record.start + .milliseconds(Int64(millis))) {
                self.act(on: self.tries.deadlinePassed(.request))
            }
        }
    }

    /// timeouts.backendRequest bounds each try, from its connect to the end of its response.
    func startTryTimer() {
        tryTimer?.cancel()
        guard let millis = plan.route.backendTimeoutMillis else { return }
        tryTimer = loop.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(millis))) {
            self.act(on: self.tries.deadlinePassed(.backend))
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

    /// Drops the current try (its connection is closed: its response is unread) and sends the request
    /// again after the policy's back-off, to another endpoint when the Service has one.
    func retry(after backoffMillis: Int) {
        tryTimer?.cancel()
        dropConnection()
        pending = [.head(plan.head)] + (replay ?? [])
        guard backoffMillis > 0 else { return connect(allowReuse: true) }
        backoffTimer = loop.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(backoffMillis))) { [weak self] in
            guard let self else { return }
            self.act(on: self.tries.backoffElapsed())
        }
    }

    /// One fire-and-forget copy per RequestMirror filter whose fraction this request falls in.
    func startMirrors() {
        for copy in MirrorRequest.copies(of: request.record, loop: loop) {
            mirrors.append(MirrorRequest(head: plan.head, cluster: copy.cluster, endpoint: copy.endpoint, tls: tables.upstreamTLS(for: copy.cluster),
                                         pool: loop.pool, onFinish: copy.finished))
        }
    }

}
