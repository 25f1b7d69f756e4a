import NIOCore
import NIOSSL
import NIOTLS
import Observability

/// Counts downstream TLS handshakes that complete or fail, then leaves the pipeline so requests never
/// pass through it.
final class TLSHandshakeCounter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private let metrics: GatewayMetrics

    init(metrics: GatewayMetrics) { self.metrics = metrics }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        context.fireUserInboundEventTriggered(event)
        if case TLSUserEvent.handshakeCompleted = event {
            metrics.tlsHandshakes.increment()
            context.pipeline.syncOperations.removeHandler(self, promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is NIOSSLError || error is BoringSSLError { metrics.tlsHandshakeFailures.increment() }
        context.fireErrorCaught(error)
    }
}
