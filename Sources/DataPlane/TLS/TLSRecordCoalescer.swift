import NIOCore

/// Sits above NIOSSLHandler and joins the small writes made before one flush into a single buffer.
/// NIOSSL seals every write as its own TLS record, so an HTTP response written as head + body would
/// otherwise cost two records (two AEAD seals, two headers on the wire) where one does.
final class TLSRecordCoalescer: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// One TLS record carries at most 16 KiB; larger writes gain nothing from joining and pass as they are.
    private static let limit = 16 * 1024
    private var pending: ByteBuffer?
    private var promises: [EventLoopPromise<Void>] = []
    /// HTTP/2: many streams may answer in one event-loop tick, each flushing; the flushes are joined
    /// into one at the end of the tick, so the responses share TLS records and one write syscall.
    var defersFlushes = false
    private var flushScheduled = false
    private var removed = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var buffer = unwrapOutboundIn(data)
        if buffer.readableBytes + (pending?.readableBytes ?? 0) > Self.limit {
            writePending(context: context)
            context.write(data, promise: promise)
            return
        }
        if pending == nil {
            pending = buffer
        } else {
            pending!.writeBuffer(&buffer)
        }
        if let promise { promises.append(promise) }
    }

    func flush(context: ChannelHandlerContext) {
        guard defersFlushes else {
            writePending(context: context)
            return context.flush()
        }
        guard !flushScheduled else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolated().execute {
            self.flushScheduled = false
            guard !self.removed else { return }
            self.writePending(context: context)
            context.flush()
        }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        writePending(context: context)
        if flushScheduled { context.flush() }
        context.close(mode: mode, promise: promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        removed = true
        writePending(context: context)
        if flushScheduled { context.flush() }
    }

    private func writePending(context: ChannelHandlerContext) {
        guard let buffer = pending else { return }
        pending = nil
        let promise: EventLoopPromise<Void>?
        switch promises.count {
        case 0: promise = nil
        case 1: promise = promises[0]
        default:
            promise = context.eventLoop.makePromise()
            let waiting = promises
            promise!.futureResult.assumeIsolated().whenComplete { result in
                for promise in waiting { promise.completeWith(result) }
            }
        }
        promises.removeAll(keepingCapacity: true)
        context.write(wrapOutboundOut(buffer), promise: promise)
    }
}
