import NIOCore
import NIOSSL
import RoutingTable

/// What a raw backend connection tells whoever it is serving.
protocol RawUpstreamUser: AnyObject {
    func upstreamRead(_ buffer: ByteBuffer)
    func upstreamReadComplete()
    /// `error`: what closed it, when it was an error (a refused backend certificate, say).
    func upstreamClosed(error: (any Error)?)
    /// The connection drained what it was sent.
    func upstreamWritable()
    /// While false, the backend is not read (response backpressure).
    var downstreamIsWritable: Bool { get }
}

/// An HTTP/1 backend connection with no HTTP codec in its pipeline: whoever uses it writes request
/// bytes and reads response bytes itself (the fast lane directly, the general path through
/// `HTTP1UpstreamLink`). It is its own (only) handler, above TLS when a BackendTLSPolicy applies.
final class RawUpstreamConnection: ChannelDuplexHandler, RemovableChannelHandler, @unchecked Sendable {  // confined to its event loop
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The endpoint, and the BackendTLSPolicy it is reached under, if any.
    let key: UpstreamKey
    /// Strong: a connection can outlive the gateway that made it (a mirror still waiting after a
    /// stop), and must find its pool then. (Not weak: a weakly referenced pool would take the slow,
    /// side-table path on every retain.)
    let pool: UpstreamPool
    private(set) var channel: (any Channel)?
    private var context: ChannelHandlerContext?
    /// The exchange (lane or general path) or the mirrored copy this connection is serving; nil while pooled.
    var user: (any RawUpstreamUser)?
    var isIdle = false
    private var backendRead = HeldRead()
    private var closeError: (any Error)?

    init(key: UpstreamKey, pool: UpstreamPool) {
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

    /// Written now, sent at the next `flush`.
    func write(_ bytes: ByteBuffer) {
        context?.write(wrapOutboundOut(bytes), promise: nil)
    }

    func flush() { context?.flush() }

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
        user?.upstreamClosed(error: closeError)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is NIOSSLError || error is BoringSSLError || error is BackendIdentity.Mismatch {
            // A refused backend certificate is a configuration problem someone must see.
            pool.logger.error("TLS to backend failed", metadata: [
                "endpoint": "\(key.endpoint.host):\(key.endpoint.port)", "policy": "\(key.tls ?? "")", "error": "\(error)"])
        }
        closeError = error
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

