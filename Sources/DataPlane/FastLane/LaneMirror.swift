import NIOCore
import RoutingTable

/// One mirrored copy of a fast-lane request, by `MirrorRequest`'s rules (fire-and-forget; it never
/// holds the client's reads or answers the client; slow to connect, refused or not keeping up, it is
/// abandoned; cut off after `MirrorRequest.lifetime`), carried as the primary's own bytes over the
/// raw pool. The response is read only to find its end, so the connection can go back to the pool.
final class LaneMirror: RawUpstreamUser {
    private let pool: UpstreamPool
    private var connection: RawUpstreamConnection?
    /// The head and body bytes held while the connection is being opened.
    private var pending: ByteBuffer?
    private var requestEnded: Bool
    private var abandoned = false
    private var deadline: Scheduled<Void>?
    private var onFinish: ((_ status: Int?) -> Void)?
    private var responseStatus = 0
    private var heldResponse: ByteBuffer?
    private var responseBody: BodyFollower?
    private var reusable = true
    private let isHEAD: Bool

    init(request: ByteBuffer, requestEnded: Bool, isHEAD: Bool, cluster: CompiledCluster, endpoint: Endpoint, tls: UpstreamTLSSetup?, pool: UpstreamPool,
         eventLoop: any EventLoop, onFinish: @escaping (_ status: Int?) -> Void) {
        self.pool = pool
        self.onFinish = onFinish
        self.requestEnded = requestEnded
        self.isHEAD = isHEAD
        pending = request
        if let idle = pool.takeIdle(UpstreamKey(endpoint: endpoint, tls: cluster.tls?.poolKey)) {
            attach(idle)
        } else {
            pool.connect(endpoint, tls: tls).assumeIsolated().whenComplete { result in
                switch result {
                case .success(let connection) where !self.abandoned: self.attach(connection)
                case .success(let connection): connection.close()
                case .failure: self.abandon()
                }
            }
        }
        deadline = eventLoop.assumeIsolated().scheduleTask(in: MirrorRequest.lifetime) { self.abandon() }
    }

    private func attach(_ connection: RawUpstreamConnection) {
        self.connection = connection
        connection.user = self
        if let pending { connection.send(pending) }
        pending = nil
    }

    /// The primary's next body bytes; `ended` once the body is complete.
    func send(_ body: ByteBuffer, ended: Bool) {
        guard !abandoned else { return }
        if ended { requestEnded = true }
        guard let connection else {
            var body = body
            pending?.writeBuffer(&body)
            if (pending?.readableBytes ?? 0) > MirrorRequest.bufferLimit { abandon() }
            return
        }
        // Writing to a mirror that is not keeping up would queue without bound.
        guard connection.isWritable else { return abandon() }
        if body.readableBytes > 0 { connection.send(body) }
    }

    /// Mirrors that have the whole request may still finish when the client merely left.
    func clientLeft() {
        if !requestEnded { abandon() }
    }

    func abandon() {
        guard !abandoned else { return }
        abandoned = true
        finish(abandoned: true)
        pending = nil
        if let connection {
            self.connection = nil
            connection.user = nil
            connection.close()
        }
    }

    private func finish(abandoned: Bool) {
        deadline?.cancel()
        onFinish?(abandoned ? nil : responseStatus)
        onFinish = nil
    }

    // MARK: The mirror's response, read to its end and dropped

    func upstreamRead(_ buffer: ByteBuffer) {
        guard !abandoned else { return }
        var buffer = buffer
        if responseBody == nil {
            switch ResponseHeadScanner.finalHead(&buffer, held: &heldResponse, requestIsHEAD: isHEAD) {
            case .incomplete:
                return
            case .malformed:
                return abandon()
            case .head(let head) where head.status == 101:
                return abandon()  // no upgrade was asked for
            case .head(let head):
                responseStatus = head.status
                buffer.moveReaderIndex(forwardBy: head.length)
                responseBody = BodyFollower(head.framing)
                reusable = head.reusable
            }
        }
        guard let (_, rest) = responseBody!.split(buffer) else { return abandon() }
        if rest != nil { reusable = false }
        if responseBody!.ended { answered() }
    }

    private func answered() {
        guard let connection else { return }
        self.connection = nil
        abandoned = true
        finish(abandoned: false)
        if requestEnded && reusable { pool.release(connection) } else {
            connection.user = nil
            connection.close()
        }
    }

    func upstreamReadComplete() {}

    func upstreamClosed(error: (any Error)?) {
        connection = nil
        if case .untilClose? = responseBody?.framing, !abandoned {
            abandoned = true
            return finish(abandoned: false)
        }
        abandon()
    }

    func upstreamWritable() {}
    var downstreamIsWritable: Bool { true }
}
