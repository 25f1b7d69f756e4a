import NIOCore
import NIOHTTP1
import NIOHPACK
import NIOHTTP2

/// One client stream of an HTTP/2 connection, driven by `HTTP2Connection` with the stream's frames:
/// its HEADERS become a request head run through the same `RequestPipeline` as an HTTP/1 request,
/// its DATA the request body of the `UpstreamAttempt`, and the attempt's response goes back as
/// frames. No child channel, no HTTP/1 translation in between.
///
/// Flow control is the backpressure both ways. Request: the stream's window is only reopened
/// (WINDOW_UPDATE) once the backend takes bytes again, so a slow backend holds the client back.
/// Response: NIOHTTP2Handler holds DATA the client's window does not admit yet; while more than
/// `responseHighWater` bytes of this stream are held there (or the socket is full) the backend is
/// not read.
final class HTTP2ServerStream {
    static let responseHighWater = 128 * 1024

    let id: HTTP2StreamID
    /// Strong: the connection drops its streams when they close, and all of them when it does.
    let connection: HTTP2Connection
    var state = RequestState.idle
    private var headSeen = false
    /// Reset or closed: no window is reopened for it any more.
    private var isOver = false
    /// The client has ended its side of the stream (END_STREAM).
    private var requestEnded = false
    /// The stream's receive window as NIOHTTP2Handler last reported it; nil until a DATA frame came.
    var inboundWindow: Int?
    /// Response bytes written into NIOHTTP2Handler and not yet out of it.
    private var bufferedOut = 0
    /// The response's latest body piece, held until the next part says whether it is the last: then
    /// it carries END_STREAM itself, and the response needs no empty DATA frame to end.
    private var heldBody: ByteBuffer?

    init(id: HTTP2StreamID, connection: HTTP2Connection) {
        self.id = id
        self.connection = connection
    }

    // MARK: Frames from the client

    func receivedHeaders(_ headers: HTTP2Frame.FramePayload.Headers) {
        if headers.endStream { requestEnded = true }
        guard !headSeen else {
            // A second HEADERS can only be trailers (NIOHTTP2 refuses one without END_STREAM).
            return take(.end(HTTP2Messages.trailers(headers.headers)))
        }
        headSeen = true
        guard let head = HTTP2Messages.requestHead(headers.headers, endStream: headers.endStream) else {
            isOver = true
            return connection.reset(id, .protocolError)
        }
        var request = RequestContext(head: head, table: tables.current, start: .now(), bodyLimit: pipeline.loop.limits.maxRequestBodyBytes)
        act(on: pipeline.run(&request), request)
        if headers.endStream { take(.end(nil)) }
    }

    func receivedData(_ data: HTTP2Frame.FramePayload.Data) {
        if data.endStream { requestEnded = true }
        if case .byteBuffer(let buffer) = data.data, buffer.readableBytes > 0 { take(.body(buffer)) }
        if data.endStream { take(.end(nil)) }
    }

    /// The connection's read batch that brought frames for this stream is over.
    func readBatchEnded() {
        if case .forwarding(let attempt) = state { attempt.flushRequest() }
        reopenWindow()
    }

    /// Gives the client back the window its body used, once the body has somewhere to go: the backend
    /// takes bytes, or the request was answered and its body is dropped. The window is topped up to
    /// its target when half of it has been used, as NIOHTTP2's own window manager does.
    private func reopenWindow() {
        guard !requestEnded, !isOver, let window = inboundWindow, window <= connection.targetWindow / 2 else { return }
        switch state {
        case .authorizing: return
        case .forwarding(let attempt) where !attempt.takesRequestBytes: return
        case .idle, .discarding, .forwarding: break
        }
        inboundWindow = connection.targetWindow
        connection.write(HTTP2Frame(streamID: id, payload: .windowUpdate(windowSizeIncrement: connection.targetWindow - window)))
        connection.flushSoon()
    }

    /// NIOHTTP2Handler passed `bytes` of this stream's DATA on towards the socket: the client's window admitted them.
    func dataWentOut(_ bytes: Int) {
        let wasHeld = bufferedOut >= Self.responseHighWater
        bufferedOut -= bytes
        if wasHeld, bufferedOut < Self.responseHighWater { connectionBecameWritable() }
    }

    func connectionBecameWritable() {
        if takesResponseBytes, case .forwarding(let attempt) = state { attempt.clientBecameWritable() }
    }

    /// The client reset the stream, or the connection ended: an exchange still under way is abandoned
    /// as when an HTTP/1 client leaves (mirrors with the whole request may finish).
    func closed() {
        heldBody = nil
        if case .forwarding(let attempt) = state { attempt.abandon(mirrorsWithWholeRequestFinish: true) }
        state = .idle
        isOver = true
    }

    private func finished() {
        state = requestEnded ? .idle : .discarding
        reopenWindow()
    }

    private func writeHeaders(_ block: HPACKHeaders, endStream: Bool) {
        connection.write(HTTP2Frame(streamID: id, payload: .headers(.init(headers: block, endStream: endStream))))
    }

    private func writeData(_ buffer: ByteBuffer, endStream: Bool) {
        bufferedOut += buffer.readableBytes
        connection.write(HTTP2Frame(streamID: id, payload: .data(.init(data: .byteBuffer(buffer), endStream: endStream))))
    }
}

// MARK: What the phases decided

extension HTTP2ServerStream: RequestDriver {
    var pipeline: RequestPipeline { connection.pipeline }
    var tables: TableStore { connection.tables }
    var eventLoop: (any EventLoop)? { connection.eventLoop }

    func answer(_ answer: LocalAnswer, for request: RequestContext) {
        let body = answer.body
        LogPhase.run(request.record, status: Int(answer.status.code), bytesIn: request.bodyBytes, bytesOut: request.isGRPC ? 0 : body.utf8.count,
                     client: pipeline.downstream.clientAddress, attempt: nil, loop: pipeline.loop)
        finished()
        if request.isGRPC {
            writeHeaders(HTTP2Messages.grpcTrailersOnly(answer), endStream: true)
        } else {
            writeHeaders(HTTP2Messages.responseBlock(answer.textHead(version: .http2, keepAlive: true)), endStream: false)
            writeData(connection.allocator.buffer(string: body), endStream: true)
        }
        // An answer that would close an HTTP/1 connection (a body past its limit, say) ends only this
        // stream: what the client still sends is refused with NO_ERROR after the complete answer
        // (RFC 9113 §8.1) rather than read and dropped.
        if answer.closesConnection && !requestEnded {
            state = .idle
            isOver = true
            connection.reset(id, .noError)
        }
        connection.flushSoon()
    }

    func resumeAfterPolicy(replaying parts: [HTTPServerRequestPart]) {
        for part in parts { take(part) }
        if case .forwarding(let attempt) = state { attempt.flushRequest() }
        reopenWindow()
    }
}

// MARK: The response, as the upstream attempt hands it over

extension HTTP2ServerStream: ClientConnection {
    var takesResponseBytes: Bool { bufferedOut < Self.responseHighWater && connection.isWritable }

    func backendTakesBytes() { reopenWindow() }

    func sendContinue(version: HTTPVersion) {
        writeHeaders(HTTP2Messages.responseBlock(HTTPResponseHead(version: .http2, status: .continue)), endStream: false)
        connection.flushSoon()
    }

    func startResponse(_ head: HTTPResponseHead, framedByLength: Bool) {
        writeHeaders(HTTP2Messages.responseBlock(head), endStream: false)
    }

    func sendResponseBody(_ buffer: ByteBuffer) {
        if let held = heldBody { writeData(held, endStream: false) }
        heldBody = buffer
    }

    /// The backend's read is over: what it brought goes out, without waiting for the next one.
    func flushResponse() {
        if let held = heldBody {
            heldBody = nil
            writeData(held, endStream: false)
        }
        connection.flushSoon()
    }

    func endResponse(_ attempt: UpstreamAttempt, trailers: HTTPHeaders?) {
        let held = heldBody
        heldBody = nil
        // The state changes first: ending the stream may close it, and the close comes back at once.
        finished()
        if let trailers {
            if let held { writeData(held, endStream: false) }
            writeHeaders(HPACKHeaders(httpHeaders: trailers), endStream: true)
        } else {
            writeData(held ?? connection.allocator.buffer(capacity: 0), endStream: true)
        }
        connection.flushSoon()
    }

    func answerInstead(_ attempt: UpstreamAttempt, _ answer: LocalAnswer) {
        self.answer(answer, for: attempt.request)
    }

    /// The response cannot be finished: the stream is reset, as closing a child stream channel did.
    func cutResponse() {
        heldBody = nil
        state = .idle
        isOver = true
        connection.reset(id, .cancel)
    }

    /// Upgrades are HTTP/1.1 only (`RequestContext.upgrade`): an HTTP/2 request never asks for one.
    func switchProtocols(_ head: HTTPResponseHead, backend: any Channel, firstBytes: ByteBuffer?) {
        backend.close(promise: nil)
        cutResponse()
    }
}
