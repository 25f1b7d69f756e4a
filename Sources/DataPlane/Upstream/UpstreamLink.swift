import NIOCore
import NIOHTTP1
import RoutingTable

/// What a backend connection tells the general-path exchange it serves (a request's attempt, a
/// mirrored copy, a health probe).
protocol UpstreamExchange: AnyObject {
    func upstreamReceived(_ part: HTTPClientResponsePart)
    func upstreamReadComplete()
    /// The backend's bytes are not an HTTP response (`why` says where): the connection is closed.
    func upstreamMalformed(_ why: String)
    func upstreamClosed(error: (any Error)?)
    func upstreamWritabilityChanged(isWritable: Bool)
    /// False while the downstream client cannot take more bytes: the upstream stops reading.
    var downstreamIsWritable: Bool { get }
}

/// The general path's hold on a backend: request parts go in, response parts come out, whether the
/// backend speaks HTTP/1 (a pooled raw connection) or HTTP/2 (a stream of a shared connection).
protocol UpstreamLink: AnyObject, Sendable {
    /// The channel the bytes go through (the stream's, for HTTP/2).
    var channel: (any Channel)? { get }
    func attach(_ exchange: any UpstreamExchange)
    func write(_ part: HTTPClientRequestPart)
    func flush()
    var isWritable: Bool { get }
    /// Response backpressure is over: the backend is read again.
    func resumeReading()
    /// The exchange is done with a backend in an unknown state: closed, never reused.
    func close()
    /// The exchange finished cleanly: pooled if the backend can take another request, else closed.
    func release()
    /// After a 101: the link lets go of its connection, to become a tunnel's end, with the bytes the
    /// backend sent after the 101. Nil when the link cannot become a tunnel (an HTTP/2 stream).
    func handOverForTunnel() -> (channel: any Channel, firstBytes: ByteBuffer?)?
}

extension UpstreamPool {
    /// An idle HTTP/1 connection to `key`, taken from the pool the fast lane shares.
    func idleLink(_ key: UpstreamKey) -> HTTP1UpstreamLink? {
        takeIdle(key).map(HTTP1UpstreamLink.init)
    }

    /// A new link to `endpoint`: a stream for HTTP/2 backends, a new connection otherwise.
    func openLink(to endpoint: Endpoint, http2: Bool, tls: UpstreamTLSSetup?) -> EventLoopFuture<any UpstreamLink> {
        http2 ? openStream(to: endpoint, tls: tls).map { $0 } : connect(endpoint, tls: tls).map { HTTP1UpstreamLink($0) }
    }
}

/// A general-path exchange on a raw HTTP/1 connection of the shared pool: the request written by
/// `HTTP1RequestWriter`, the response read by `HTTP1ResponseReader` (the lane's scanners).
final class HTTP1UpstreamLink: UpstreamLink, RawUpstreamUser, @unchecked Sendable {  // confined to its event loop
    private let connection: RawUpstreamConnection
    private var exchange: (any UpstreamExchange)?
    private var writer = HTTP1RequestWriter()
    private var reader = HTTP1ResponseReader(requestIsHEAD: false)
    /// The backend sent bytes past the end of its response: the connection is out of step.
    private var outOfStep = false
    private var tunnelBytes: ByteBuffer?
    /// A connection that carried no request is as good as new (the client left while it was opened).
    private var wroteRequest = false

    init(_ connection: RawUpstreamConnection) {
        self.connection = connection
        connection.user = self
    }

    var channel: (any Channel)? { connection.channel }
    var isWritable: Bool { connection.isWritable }

    func attach(_ exchange: any UpstreamExchange) { self.exchange = exchange }

    func write(_ part: HTTPClientRequestPart) {
        if case .head(let head) = part {
            reader = HTTP1ResponseReader(requestIsHEAD: head.method == .HEAD)
            wroteRequest = true
        }
        guard let allocator = connection.channel?.allocator else { return }
        writer.encode(part, allocator: allocator) { connection.write($0) }
    }

    func flush() { connection.flush() }
    func resumeReading() { connection.resumeReading() }

    func close() {
        exchange = nil
        connection.user = nil
        connection.close()
    }

    func release() {
        exchange = nil
        guard !wroteRequest || reader.isDone && reader.reusable && !outOfStep else { return close() }
        connection.pool.release(connection)
    }

    func handOverForTunnel() -> (channel: any Channel, firstBytes: ByteBuffer?)? {
        exchange = nil
        connection.user = nil
        return connection.channel.map { ($0, tunnelBytes) }
    }

    // MARK: RawUpstreamUser

    func upstreamRead(_ buffer: ByteBuffer) {
        let events = reader.read(buffer)
        // What follows the response is known before the response is delivered, because the exchange
        // acts on it at once: after an end, bytes mean the connection cannot be pooled (the end
        // releases it); after a 101, they are the tunnel's first (the 101 hands the connection over).
        if case .rest(let bytes) = events.last {
            if events.contains(where: { if case .end = $0 { true } else { false } }) { outOfStep = true } else { tunnelBytes = bytes }
        }
        for event in events {
            switch event {
            case .head(let head): exchange?.upstreamReceived(.head(head))
            case .body(let body): exchange?.upstreamReceived(.body(body))
            case .end(let trailers): exchange?.upstreamReceived(.end(trailers))
            case .rest: break
            case .malformed(let why):
                let exchange = self.exchange
                close()
                exchange?.upstreamMalformed(why)
            }
        }
    }

    func upstreamReadComplete() { exchange?.upstreamReadComplete() }

    func upstreamClosed(error: (any Error)?) {
        for case .end(let trailers) in reader.closed() { exchange?.upstreamReceived(.end(trailers)) }
        let exchange = self.exchange
        self.exchange = nil
        exchange?.upstreamClosed(error: error)
    }

    func upstreamWritable() { exchange?.upstreamWritabilityChanged(isWritable: true) }
    var downstreamIsWritable: Bool { exchange?.downstreamIsWritable ?? true }
}

/// A general-path exchange on one stream of an HTTP/2 backend connection. The stream speaks HTTP/1
/// parts through NIOHTTP2's codec; it is used once, then closed.
final class HTTP2StreamLink: UpstreamLink, @unchecked Sendable {  // confined to its event loop
    private let stream: any Channel
    private let handler: UpstreamHandler

    init(stream: any Channel, handler: UpstreamHandler) {
        self.stream = stream
        self.handler = handler
    }

    var channel: (any Channel)? { stream }
    var isWritable: Bool { stream.isWritable }
    func attach(_ exchange: any UpstreamExchange) { handler.exchange = exchange }
    func write(_ part: HTTPClientRequestPart) { stream.write(part, promise: nil) }
    func flush() { stream.flush() }
    func resumeReading() { handler.resumeReading() }

    func close() {
        handler.exchange = nil
        stream.close(promise: nil)
    }

    func release() { close() }

    /// Upgrades are HTTP/1.1 only.
    func handOverForTunnel() -> (channel: any Channel, firstBytes: ByteBuffer?)? { nil }
}

/// Sits at the end of an HTTP/2 stream's pipeline and hands everything to the current exchange.
final class UpstreamHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    var exchange: (any UpstreamExchange)?
    private var context: ChannelHandlerContext?
    private var backendRead = HeldRead()
    private var closeError: (any Error)?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        exchange?.upstreamReceived(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        exchange?.upstreamReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let exchange = self.exchange
        self.exchange = nil
        exchange?.upstreamClosed(error: closeError)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        closeError = error
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        exchange?.upstreamWritabilityChanged(isWritable: context.channel.isWritable)
    }

    /// Response backpressure: while the client is slow, stop reading from the backend.
    func read(context: ChannelHandlerContext) {
        if backendRead.passes(when: exchange?.downstreamIsWritable ?? true) { context.read() }
    }

    func resumeReading() {
        if let context, backendRead.releases() { context.read() }
    }
}
