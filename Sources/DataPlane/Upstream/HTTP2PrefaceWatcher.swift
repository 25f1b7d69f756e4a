import NIOCore

/// Waits for a backend's HTTP/2 connection preface (its first frame is SETTINGS on stream 0) before
/// the connection is used. A backend that only speaks HTTP/1 (answers `HTTP/1.1 400`, closes, or says
/// nothing) would otherwise leave every stream on it waiting for ever; here the connection fails
/// within the connect timeout, so the request gets a 502 (gRPC: UNAVAILABLE) naming why.
final class HTTP2PrefaceWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    struct NotHTTP2: Error, CustomStringConvertible {
        var description: String
    }

    private let promise: EventLoopPromise<Void>
    private let timeout: TimeAmount
    private var timer: Scheduled<Void>?

    init(promise: EventLoopPromise<Void>, timeout: TimeAmount) {
        self.promise = promise
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let promise = self.promise, channel = context.channel, timeout = self.timeout
        timer = context.eventLoop.scheduleTask(in: timeout) {
            promise.fail(NotHTTP2(description: "backend sent no HTTP/2 preface within \(timeout.nanoseconds / 1_000_000) ms (does it speak HTTP/2 / h2c?)"))
            channel.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        // A frame header is 9 bytes: length (3), type (1), flags (1), stream id (4). Enough of it to
        // judge arrives in the first read from any real server.
        if let type = bytes.getInteger(at: bytes.readerIndex + 3, as: UInt8.self), type != 0x04 {
            let start = String(decoding: bytes.readableBytesView.prefix(40), as: UTF8.self)
                .map { $0.isASCII && !$0.isNewline ? $0 : " " }
            fail(context, "backend does not speak HTTP/2: it answered \"\(String(start))\"")
            return
        }
        timer?.cancel()
        promise.succeed()
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(context, "backend closed the connection before its HTTP/2 preface (does it speak HTTP/2 / h2c?)")
        context.fireChannelInactive()
    }

    private func fail(_ context: ChannelHandlerContext, _ why: String) {
        timer?.cancel()
        promise.fail(NotHTTP2(description: why))
        context.close(promise: nil)
    }
}
