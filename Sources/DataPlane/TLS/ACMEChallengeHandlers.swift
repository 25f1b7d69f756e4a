import NIOCore
import NIOTLS
import RoutingTable

extension ClientHelloALPN {
    static let acmeTLS1 = Array(ACMEChallengeCertificate.applicationProtocol.utf8)

    static func offers(_ protocolName: [UInt8], in buffer: ByteBuffer) -> Bool {
        buffer.withUnsafeReadableBytes { offers(protocolName, in: $0) }
    }
}

/// Before the SNIHandler on a TLS port whose table has TLS-ALPN-01 challenges: notes whether the
/// connection's first read is a ClientHello offering `acme-tls/1`, passes the bytes on untouched and
/// leaves the pipeline. Ports without challenges never get it.
final class ACMEChallengePeek: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// Read by the SNIHandler's callback, which runs after this handler has seen the first read.
    private(set) var offersACMEProtocol = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        offersACMEProtocol = ClientHelloALPN.offers(ClientHelloALPN.acmeTLS1, in: unwrapInboundIn(data))
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

/// After the handshake of a TLS-ALPN-01 challenge: the CA only looks at the certificate and sends no
/// application data (RFC 8737 §3), so the connection is closed; one that stalls before the handshake
/// completes is closed after `timeout`.
final class ACMEChallengeHandshakeCloser: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount) { self.timeout = timeout }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) { deadline?.cancel() }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            deadline?.cancel()
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Whatever a client sends after the handshake is not for anyone.
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
