import NIOCore
import RoutingTable

/// What a raw backend connection tells whoever it is serving.
protocol RawUpstreamUser: AnyObject {
    func upstreamRead(_ buffer: ByteBuffer)
    func upstreamReadComplete()
    func upstreamClosed()
    /// The connection drained what it was sent.
    func upstreamWritable()
    /// While false, the backend is not read (response backpressure).
    var downstreamIsWritable: Bool { get }
}

/// A backend connection with no HTTP codec in its pipeline: the fast lane writes request bytes and
/// reads response bytes itself. It is its own (only) handler.
final class RawUpstreamConnection: ChannelDuplexHandler, @unchecked Sendable {  // confined to its event loop
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The endpoint, and the BackendTLSPolicy it is reached under, if any.
    let key: UpstreamKey
    /// Strong: a connection can outlive the gateway that made it (a mirror still waiting after a
    /// stop), and must find its pool then. (Not weak: a weakly referenced pool would take the slow,
    /// side-table path on every retain.)
    let pool: RawUpstreamPool
    private(set) var channel: (any Channel)?
    private var context: ChannelHandlerContext?
    /// The fast lane exchange (or the mirrored copy) this connection is serving; nil while pooled.
    var user: (any RawUpstreamUser)?
    var isIdle = false
    private var backendRead = HeldRead()

    init(key: UpstreamKey, pool: RawUpstreamPool) {
        self.key = key
        self.pool = pool
    }

    var isActive: Bool { channel?.isActive ?? false }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        channel = context.channel
    }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    var isWritable: Bool { channel?.isWritable ?? false }

    func send(_ request: ByteBuffer) {
        context?.writeAndFlush(wrapOutboundOut(request), promise: nil)
    }

    /// Two buffers, one flush: one writev.
    func send(_ head: ByteBuffer, _ body: ByteBuffer) {
        guard let context else { return }
        context.write(wrapOutboundOut(head), promise: nil)
        context.writeAndFlush(wrapOutboundOut(body), promise: nil)
    }

    /// Request-body backpressure: the client is read again once the backend drained what it was sent.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { user?.upstreamWritable() }
    }

    func close() { context?.close(promise: nil) }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let user else {
            // Bytes nobody asked for: the connection is out of step, so it is not reused.
            return context.close(promise: nil)
        }
        user.upstreamRead(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        user?.upstreamReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        pool.forget(self)
        let user = self.user
        self.user = nil
        user?.upstreamClosed()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Response backpressure: while the client is slow, the backend is not read.
    func read(context: ChannelHandlerContext) {
        if backendRead.passes(when: user?.downstreamIsWritable ?? true) { context.read() }
    }

    func resumeReading() {
        if let context, backendRead.releases() { context.read() }
    }
}

/// The fast lane's keep-alive connections, one pool per event loop like `UpstreamPool` (whose
/// connect settings and TLS set-up they share), kept apart because their pipelines carry no HTTP
/// codec. With a BackendTLSPolicy the TLS handler sits under the lane's bytes, nothing else changes.
final class RawUpstreamPool: @unchecked Sendable {  // confined to the pool's event loop
    private let connections: UpstreamPool
    private var idle: [UpstreamKey: [RawUpstreamConnection]] = [:]
    private let maxIdlePerEndpoint = 256

    init(connections: UpstreamPool) { self.connections = connections }

    func takeIdle(_ key: UpstreamKey) -> RawUpstreamConnection? {
        while let connection = idle[key]?.popLast() {
            connection.isIdle = false
            if connection.isActive { return connection }
        }
        return nil
    }

    func connect(_ endpoint: Endpoint, tls: UpstreamTLSSetup?) -> EventLoopFuture<RawUpstreamConnection> {
        let connection = RawUpstreamConnection(key: UpstreamKey(endpoint: endpoint, tls: tls?.policy.poolKey), pool: self)
        return connections.openChannel(to: endpoint, tls: tls) { pipeline in
            try pipeline.addHandler(connection)
        }.map { _ in connection }
    }

    func release(_ connection: RawUpstreamConnection) {
        connection.user = nil
        guard connection.isActive, (idle[connection.key]?.count ?? 0) < maxIdlePerEndpoint else { return connection.close() }
        // A read held for a slow client is resumed: an idle connection must see the backend close it,
        // and the next exchange must see its answer.
        connection.resumeReading()
        connection.isIdle = true
        idle[connection.key, default: []].append(connection)
    }

    func forget(_ connection: RawUpstreamConnection) {
        guard connection.isIdle else { return }
        connection.isIdle = false
        idle[connection.key]?.removeAll { $0 === connection }
    }

    func closeAll() -> EventLoopFuture<Void> {
        let closes = idle.values.joined().compactMap { $0.channel?.close() }
        idle.removeAll()
        return EventLoopFuture.andAllComplete(closes, on: connections.eventLoop)
    }
}

extension ResponseHeadScanner {
    /// The final response head at the start of what a backend sent (`held`, the start of a head
    /// that had not all arrived, then `buffer`). Interim answers (103 Early Hints, a stray 100) stay
    /// between archway and the backend and are skipped; a 101 is returned for the caller to judge.
    /// On `.head`, `buffer` starts with that head; on `.incomplete`, it is all in `held`.
    static func finalHead(_ buffer: inout ByteBuffer, held: inout ByteBuffer?, requestIsHEAD: Bool) -> ResponseHeadScan {
        if var start = held {
            start.writeBuffer(&buffer)
            buffer = start
            held = nil
        }
        while true {
            let scan = buffer.withUnsafeReadableBytes { ResponseHeadScanner().scan($0, requestIsHEAD: requestIsHEAD) }
            switch scan {
            case .incomplete:
                held = buffer
                return .incomplete
            case .head(let head) where head.status < 200 && head.status != 101:
                buffer.moveReaderIndex(forwardBy: head.length)
                if buffer.readableBytes == 0 { return .incomplete }
            case .head, .malformed:
                return scan
            }
        }
    }
}
