import NIOCore
import NIOHTTP2

/// The client side of one HTTP/2 connection, behind NIOHTTP2Handler (which keeps the protocol's
/// state and its defences: rapid resets, CONTINUATION floods, control-frame buffering, header block
/// validation). Streams get no child channel: each is an `HTTP2ServerStream` in a table here, fed its
/// frames directly. This handler owns only what is the connection's: the stream table, one flush per
/// read batch, the connection's receive window, drain (GOAWAY), the idle timeout and the connection gauge.
///
/// Without NIOHTTP2's stream multiplexer nothing sends WINDOW_UPDATEs by itself: the connection
/// window is topped up here as soon as DATA arrives (a stalled stream must not stall the others:
/// each stream's own window bounds what it can make archway hold), the streams' windows by each
/// stream as its backend takes the bytes.
final class HTTP2Connection: ChannelInboundHandler, NIOHTTP2FrameDelegate {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    let tables: TableStore
    private(set) var pipeline: RequestPipeline
    /// The receive window each stream, and the connection, is kept near.
    let targetWindow: Int
    private var context: ChannelHandlerContext?
    private var streams: [HTTP2StreamID: HTTP2ServerStream] = [:]
    /// Streams that received frames in the current read batch.
    private var readBatch: [HTTP2ServerStream] = []
    private var reading = false
    private var needsFlush = false
    /// The connection's receive window as NIOHTTP2Handler last reported it.
    private var connectionWindow = 65535
    private var lastStreamID = HTTP2StreamID(0)
    private var quiescing = false
    private var closing = false
    private var counted = false
    /// Since when the connection has had no open stream (nil while it has one), and the one timer that
    /// closes it once that lasts the idle timeout.
    private var idleSince: NIODeadline? = .now()
    private var idleTimer: Scheduled<Void>?

    init(downstream: Downstream, tables: TableStore, loop: EventLoopContext, targetWindow: Int) {
        self.tables = tables
        self.targetWindow = targetWindow
        pipeline = RequestPipeline(downstream: downstream, loop: loop)
    }

    var eventLoop: (any EventLoop)? { context?.eventLoop }
    var allocator: ByteBufferAllocator { context?.channel.allocator ?? ByteBufferAllocator() }
    var isWritable: Bool { context?.channel.isWritable ?? false }

    // MARK: Connection life

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let address = context.channel.remoteAddress?.ipAddress ?? ""
        pipeline.downstream.clientAddress = address
        pipeline.downstream.forwardedNode = ForwardedHeaders.node(client: address)
        // Added once the first bytes (or ALPN) chose HTTP/2: the connection is already active.
        if context.channel.isActive { becameActive() }
    }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelActive(context: ChannelHandlerContext) {
        becameActive()
        context.fireChannelActive()
    }

    /// An HTTP/2 connection with no stream open for the idle timeout gets a GOAWAY and is closed, as an
    /// idle HTTP/1 connection is (RFC 9113 §6.8). One timer: when it fires early (streams came and
    /// went meanwhile) it is set again for the current idle period.
    private func armIdleTimer() {
        guard idleTimer == nil, let since = idleSince, let context else { return }
        let timeout = pipeline.loop.limits.idleTimeout
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: since + timeout) {
            self.idleTimer = nil
            guard let since = self.idleSince, let context = self.context else { return }
            if NIODeadline.now() >= since + timeout {
                self.closeAfterGoAway(context: context)
            } else {
                self.armIdleTimer()
            }
        }
    }

    private func becameActive() {
        guard !counted else { return }
        counted = true
        pipeline.loop.metrics.gauges.activeConnections.increment()
        armIdleTimer()
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
        if counted { pipeline.loop.metrics.gauges.activeConnections.decrement() }
        counted = false
        let open = streams.values
        streams = [:]
        for stream in open { stream.closed() }
        context.fireChannelInactive()
    }

    // MARK: Frames

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        reading = true
        switch frame.payload {
        case .headers(let headers):
            let stream: HTTP2ServerStream
            if let known = streams[frame.streamID] {
                stream = known
            } else {
                guard !quiescing || frame.streamID <= lastStreamID else { return reset(frame.streamID, .refusedStream) }
                stream = HTTP2ServerStream(id: frame.streamID, connection: self)
                streams[frame.streamID] = stream
                idleSince = nil
                lastStreamID = max(lastStreamID, frame.streamID)
            }
            noteRead(stream)
            stream.receivedHeaders(headers)
        case .data(let data):
            guard let stream = streams[frame.streamID] else { return }
            noteRead(stream)
            stream.receivedData(data)
        default:
            break  // the rest is NIOHTTP2Handler's business; resets arrive as StreamClosedEvent
        }
    }

    private func noteRead(_ stream: HTTP2ServerStream) {
        if readBatch.last !== stream { readBatch.append(stream) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        for stream in readBatch { stream.readBatchEnded() }
        readBatch.removeAll(keepingCapacity: true)
        // Once a stream has come the preface is through, and the connection window can be topped up
        // (from the protocol's initial 65535 the first time).
        if lastStreamID != .rootStream, connectionWindow <= targetWindow / 2 {
            write(HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: targetWindow - connectionWindow)))
            connectionWindow = targetWindow
        }
        reading = false
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let window as NIOHTTP2WindowUpdatedEvent:
            guard let inbound = window.inboundWindowSize else { return }
            if window.streamID == .rootStream {
                connectionWindow = inbound
            } else {
                streams[window.streamID]?.inboundWindow = inbound
            }
        case let change as NIOHTTP2BulkStreamWindowChangeEvent:
            // Our SETTINGS_INITIAL_WINDOW_SIZE took effect: every open stream's window moved by it.
            for stream in streams.values { stream.inboundWindow = stream.inboundWindow.map { $0 + change.delta } }
        case let closed as StreamClosedEvent:
            streams.removeValue(forKey: closed.streamID)?.closed()
            if streams.isEmpty {
                idleSince = .now()
                armIdleTimer()
            }
            if quiescing && streams.isEmpty { closeAfterGoAway(context: context) }
        case is ChannelShouldQuiesceEvent:
            drain(context: context)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// Draining: GOAWAY tells the client which streams will still be answered; the connection closes
    /// once they have been.
    private func drain(context: ChannelHandlerContext) {
        guard !quiescing else { return }
        quiescing = true
        if streams.isEmpty { return closeAfterGoAway(context: context) }
        write(goAway)
        flushSoon()
    }

    private var goAway: HTTP2Frame {
        HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: lastStreamID, errorCode: .noError, opaqueData: nil))
    }

    /// A (final) GOAWAY, then the close once it has left: closing at once would drop what the last
    /// streams still have waiting to be written. The output is closed first: the client reads to
    /// the end before our FIN, and what it still sends meanwhile (WINDOW_UPDATEs) does not turn the
    /// close into a reset that could discard the end of the last response. It then closes its side,
    /// or the grace period ends.
    private func closeAfterGoAway(context: ChannelHandlerContext) {
        guard !closing, context.channel.isActive else { return }
        closing = true
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(goAway), promise: written)
        let channel = context.channel
        written.futureResult.whenComplete { _ in
            channel.close(mode: .output).whenFailure { _ in channel.close(promise: nil) }
            _ = channel.eventLoop.scheduleTask(in: Self.closeGrace) { channel.close(promise: nil) }
        }
    }

    static let closeGrace = TimeAmount.seconds(2)

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            for stream in streams.values { stream.connectionBecameWritable() }
        }
        context.fireChannelWritabilityChanged()
    }

    /// NIOHTTP2Handler has sent RST_STREAM or GOAWAY for what it refused, and the streams concerned
    /// hear of it as StreamClosedEvent: nothing is left to do here but pass the error on.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.fireErrorCaught(error)
    }

    // MARK: Writing, for the streams

    func write(_ frame: HTTP2Frame) {
        context?.write(wrapOutboundOut(frame), promise: nil)
        needsFlush = true
    }

    /// Within a read batch the flush waits for its end: one flush for every stream it answered.
    func flushSoon() {
        guard !reading, needsFlush, let context else { return }
        needsFlush = false
        context.flush()
    }

    func reset(_ streamID: HTTP2StreamID, _ code: HTTP2ErrorCode) {
        write(HTTP2Frame(streamID: streamID, payload: .rstStream(code)))
        flushSoon()
    }

    /// Response backpressure: NIOHTTP2Handler tells when a DATA frame leaves its flow-control buffer.
    func wroteFrame(_ frame: HTTP2Frame) {
        guard case .data(let data) = frame.payload, let stream = streams[frame.streamID] else { return }
        stream.dataWentOut(data.data.readableBytes)
    }
}
