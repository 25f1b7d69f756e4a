import NIOCore

/// One end of a byte tunnel between two channels on the same event loop: what one side reads, the
/// other writes, untouched. Used after a WebSocket (or any HTTP/1.1 Upgrade) 101 and for TCP and TLS
/// passthrough routes. Backpressure: a side stops reading while its partner cannot write. When either
/// side closes, the other is closed too. An optional idle timeout closes a tunnel that carried nothing
/// in either direction for that long; no request timeout applies once bytes flow.
final class TunnelHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: TunnelHandler?
    private var context: ChannelHandlerContext?
    private var readPending = false
    private let onClose: (() -> Void)?
    private let idleTimeout: TimeAmount?
    private var idleTimer: Scheduled<Void>?
    private var lastActivity = NIODeadline.now()

    private init(idleTimeout: TimeAmount?, onClose: (() -> Void)?) {
        self.idleTimeout = idleTimeout
        self.onClose = onClose
    }

    /// Two joined ends: put the first in the client's pipeline and the second in the backend's. The
    /// idle timeout and `onClose` belong to the client side.
    static func pair(idleTimeout: TimeAmount? = nil, onClose: (() -> Void)? = nil) -> (TunnelHandler, TunnelHandler) {
        let first = TunnelHandler(idleTimeout: idleTimeout, onClose: onClose)
        let second = TunnelHandler(idleTimeout: nil, onClose: nil)
        first.partner = second
        second.partner = first
        return (first, second)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { scheduleIdleCheck() }
        // The channel may have stopped reading while the tunnel was being built.
        context.read()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
        idleTimer?.cancel()
    }

    /// Bytes for this end's channel that its partner read before the tunnel was built.
    func send(_ bytes: ByteBuffer) {
        touch()
        context?.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        touch()
        partner?.context?.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.context?.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        let partner = self.partner
        self.partner = nil
        partner?.partner = nil
        partner?.context?.close(promise: nil)
        onClose?()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if partner?.context?.channel.isWritable ?? true {
            context.read()
        } else {
            readPending = true
        }
    }

    private func resumeReading() {
        guard readPending, let context else { return }
        readPending = false
        context.read()
    }

    // MARK: Idle timeout

    private func touch() {
        lastActivity = .now()
        partner?.lastActivity = lastActivity
    }

    private func scheduleIdleCheck() {
        guard let idleTimeout, let context else { return }
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: idleTimeout) { [weak self] in
            guard let self, let context = self.context else { return }
            let quiet = NIODeadline.now() - max(self.lastActivity, self.partner?.lastActivity ?? self.lastActivity)
            if quiet >= idleTimeout {
                context.close(promise: nil)
            } else {
                self.scheduleIdleCheck()
            }
        }
    }
}
