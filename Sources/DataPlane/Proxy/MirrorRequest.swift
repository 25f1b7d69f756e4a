import NIOCore
import NIOHTTP1
import RoutingTable

/// One mirrored copy of a request, fire-and-forget: it gets the same head and body parts as the
/// primary while they pass, and its response is read and thrown away. It never holds the client's
/// reads and never answers the client: a mirror that is slow to connect, refuses, or cannot keep up
/// is abandoned, and the primary exchange does not notice.
final class MirrorRequest: UpstreamExchange {
    /// Bytes held while the mirror connection is being opened; past this the copy is abandoned.
    static let bufferLimit = 64 * 1024
    /// A mirror that has not finished by then is cut off, so idle mirrors cannot pile up.
    static let lifetime = TimeAmount.seconds(60)

    private let pool: UpstreamPool
    private var connection: (any UpstreamLink)?
    private var pending: [HTTPClientRequestPart]
    private var pendingBytes = 0
    private var requestEnded = false
    private var abandoned = false
    private var deadline: Scheduled<Void>?
    /// Called once: the status the copy was answered with, nil when it was abandoned.
    private var onFinish: ((_ status: Int?) -> Void)?
    private var responseStatus = 0

    /// Which RequestMirror filters of the request's route copy this request (each by its fraction),
    /// to which endpoint, and what is counted when the copy finishes. Both paths start their copies from this.
    static func copies(of record: RequestRecord, loop: EventLoopContext)
        -> [(cluster: CompiledCluster, endpoint: Endpoint, finished: (_ status: Int?) -> Void)] {
        guard let route = record.route, !route.mirrors.isEmpty else { return [] }
        return route.mirrors.compactMap { mirror in
            guard case .cluster(let cluster) = mirror.target, !cluster.endpoints.isEmpty else { return nil }
            if mirror.fraction < 1, Double(loop.nextRandom() % 1_000_000) >= mirror.fraction * 1_000_000 { return nil }
            let endpoint = cluster.endpoints[loop.nextIndex(cluster: cluster, count: cluster.endpoints.count, table: record.table)]
            let metrics = loop.metrics
            // A Rollout's shadow step judges the canary on what it answered its copies.
            let shadow = record.table.rolloutTracker(of: route).flatMap { $0.tracking.canary == mirror.name ? $0 : nil }
            let sent = NIODeadline.now()
            return (cluster, endpoint, { status in
                metrics.mirrored(record.metricsKey, mirror: mirror.name, abandoned: status == nil, labels: record.metricLabels)
                shadow?.recordShadow(status: status, durationNanos: (NIODeadline.now() - sent).nanoseconds)
            })
        }
    }

    init(head: HTTPRequestHead, cluster: CompiledCluster, endpoint: Endpoint, tls: UpstreamTLSSetup?, pool: UpstreamPool,
         onFinish: @escaping (_ status: Int?) -> Void) {
        self.pool = pool
        self.onFinish = onFinish
        pending = [.head(head)]
        let key = UpstreamKey(endpoint: endpoint, tls: cluster.tls?.poolKey)
        if !cluster.http2, let idle = pool.idleLink(key) {
            attach(idle)
        } else {
            pool.openLink(to: endpoint, http2: cluster.http2, tls: tls).assumeIsolated().whenComplete { result in
                switch result {
                case .success(let connection) where !self.abandoned: self.attach(connection)
                case .success(let connection): connection.release()
                case .failure: self.abandon()
                }
            }
        }
        deadline = pool.eventLoop.assumeIsolated().scheduleTask(in: Self.lifetime) { self.abandon() }
    }

    private func attach(_ connection: any UpstreamLink) {
        self.connection = connection
        connection.attach(self)
        for part in pending { connection.write(part) }
        pending = []
        connection.flush()
    }

    /// The primary's next request part.
    func send(_ part: HTTPClientRequestPart) {
        guard !abandoned else { return }
        if case .end = part { requestEnded = true }
        guard let connection else {
            if case .body(.byteBuffer(let buffer)) = part { pendingBytes += buffer.readableBytes }
            pendingBytes <= Self.bufferLimit ? pending.append(part) : abandon()
            return
        }
        // Writing to a mirror that is not keeping up would queue without bound.
        guard connection.isWritable else { return abandon() }
        connection.write(part)
        connection.flush()
    }

    private func finished(abandoned: Bool) {
        onFinish?(abandoned ? nil : responseStatus)
        onFinish = nil
    }

    func abandon() {
        guard !abandoned else { return }
        abandoned = true
        finished(abandoned: true)
        pending = []
        deadline?.cancel()
        if let connection {
            self.connection = nil
            connection.close()
        }
    }

    func upstreamReceived(_ part: HTTPClientResponsePart) {
        if case .head(let head) = part { responseStatus = Int(head.status.code) }
        guard case .end = part, let connection else { return }
        self.connection = nil
        deadline?.cancel()
        abandoned = true
        finished(abandoned: false)
        requestEnded ? connection.release() : connection.close()
    }

    func upstreamReadComplete() {}
    func upstreamMalformed(_ why: String) {
        connection = nil
        abandon()
    }
    func upstreamClosed(error: (any Error)?) {
        connection = nil
        abandon()
    }
    func upstreamWritabilityChanged(isWritable: Bool) {}
    var downstreamIsWritable: Bool { true }
}
