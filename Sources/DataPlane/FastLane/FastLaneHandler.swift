import NIOCore
import NIOHTTP1
import RoutingTable

/// The HTTP/1.1 fast lane (Pingora's and nginx's way of proxying: bytes in, edited bytes out). It
/// sits where NIOHTTP1's codec would and serves the common request — a route that forwards, with
/// header filters and timeouts, with or without a body — by scanning the head in place, streaming
/// the body as it came (Content-Length or chunked, framing checked on the way) and writing the
/// backend's response through as bytes: no HTTPRequestHead, no HTTPHeaders, no encoder on either side.
///
/// Everything else leaves the lane for good: at the first request the lane will not take (or cannot
/// yet see whole), the codec is put in front of `ProxyHandler`, gets the bytes untouched, and the
/// lane removes itself. So the general path keeps sole charge of bodies, upgrades, filters, policies,
/// every locally made answer and every malformed request; the lane only ever answers a backend
/// failure it met itself (502), the way the general path words it.
final class FastLaneHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private let proxy: ProxyHandler
    private let loop: EventLoopContext
    private let tables: TableStore
    private let listenerPort: Int
    private let scheme: String
    private let scanner: RequestHeadScanner
    private var context: ChannelHandlerContext?
    /// Bytes read from the client and not yet served (a pipelined request waits here).
    private var inbound: ByteBuffer?
    private var exchange: FastExchange?
    /// The connection's one timer for `timeouts:`, and when it fires.
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    /// The rest of a request body the backend no longer wants (it answered early, or the lane did),
    /// read and dropped so that the connection can carry the next request.
    private var discarding: BodyFollower?
    private var clientRead = HeldRead()
    private var quiescing = false
    private var closing = false
    private var needsFlush = false

    init(proxy: ProxyHandler, loop: EventLoopContext, tables: TableStore, listenerPort: Int, scheme: String) {
        self.proxy = proxy
        self.loop = loop
        self.tables = tables
        self.listenerPort = listenerPort
        self.scheme = scheme
        scanner = RequestHeadScanner(maxHeaderBytes: loop.limits.maxHeaderBytes, maxHeaderCount: loop.limits.maxHeaderCount,
                                     maxURIBytes: loop.limits.maxURIBytes, maxBodyBytes: loop.limits.maxRequestBodyBytes)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        cancelTimer()
    }

    // MARK: Client side

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        if let exchange, !exchange.requestBody.ended {
            return takeRequestBody(bytes, for: exchange, context: context)
        }
        if discarding != nil { return discard(bytes, context: context) }
        buffer(bytes)
        if exchange == nil { serveBuffered(context: context) }
    }

    /// Bytes after the current request: the next pipelined one, served when this one is answered.
    private func buffer(_ bytes: ByteBuffer) {
        if inbound == nil {
            inbound = bytes
        } else {
            var bytes = bytes
            inbound!.writeBuffer(&bytes)
        }
    }

    /// ProxyHandler behind has seen no bytes; telling it a read completed would only start its
    /// slow-head clock.
    func channelReadComplete(context: ChannelHandlerContext) {}

    func read(context: ChannelHandlerContext) {
        if clientRead.passes(when: mayReadClient) { context.read() }
    }

    /// A request body flows as fast as the backend takes it (a little is buffered while it connects);
    /// pipelined requests wait for the answer before them, since reading more would only pile them up.
    private var mayReadClient: Bool {
        guard let exchange else { return true }
        if !exchange.requestBody.ended {
            if let upstream = exchange.upstream { return upstream.isWritable }
            return (exchange.pendingBody?.readableBytes ?? 0) < Self.maxPendingBody
        }
        return inbound == nil
    }

    private static let maxPendingBody = 64 * 1024

    /// The backend connection drained what the lane wrote to it: the client's body may flow again.
    func upstreamWritable() {
        if let context, mayReadClient, clientRead.releases() { context.read() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { exchange?.upstream?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    var downstreamIsWritable: Bool { context?.channel.isWritable ?? true }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            quiescing = true
            // Mid-exchange the answer goes out with `connection: close`; idle, ProxyHandler closes now.
            if exchange != nil { return }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let exchange {
            // The client left mid-exchange: the backend connection is in an unknown state.
            self.exchange = nil
            exchange.dropUpstream()
            proxy.fastLane(busy: false)
        }
        cancelTimer()
        context.fireChannelInactive()
    }

    private func serveBuffered(context: ChannelHandlerContext) {
        while exchange == nil, discarding == nil, !closing, let buffer = inbound {
            let scan = buffer.withUnsafeReadableBytes { scanner.scan($0) }
            guard case .head(let head) = scan, let request = admit(head, bytes: buffer, context: context) else {
                return leaveLane(context: context)
            }
            inbound!.moveReaderIndex(forwardBy: head.length)
            let afterHead = inbound!
            inbound = nil
            start(request, then: afterHead, context: context)
        }
        if mayReadClient, clientRead.releases() { context.read() }
    }

    // MARK: Request body

    /// Splits what the client sent into this request's body (on to the backend, or held while it
    /// connects) and whatever follows it (the next request).
    private func takeRequestBody(_ bytes: ByteBuffer, for exchange: FastExchange, context: ChannelHandlerContext) {
        guard let (body, rest) = exchange.requestBody.split(bytes) else {
            // What llhttp answers on the general path: 400, and the connection closes.
            exchange.keepAlive = false
            exchange.upstreamReusable = false
            if case .streaming = exchange.response { return cutMidResponse(exchange, context: context) }
            return fail(exchange, .badRequest, "malformed HTTP request: invalid chunked body")
        }
        if body.readableBytes > 0 {
            if let upstream = exchange.upstream {
                exchange.bodyBytesForwarded += body.readableBytes
                upstream.send(body)
            } else if exchange.pendingBody == nil {
                exchange.pendingBody = body
            } else {
                var body = body
                exchange.pendingBody!.writeBuffer(&body)
            }
        }
        if let rest { buffer(rest) }
    }

    /// Drops the rest of a body nobody will read, then serves what follows it.
    private func discard(_ bytes: ByteBuffer, context: ChannelHandlerContext) {
        guard let (_, rest) = discarding!.split(bytes) else {
            closing = true
            return context.close(promise: nil)
        }
        guard discarding!.ended else { return }
        discarding = nil
        if let rest { buffer(rest) }
        serveBuffered(context: context)
    }

    /// Puts the codec in behind, hands it what is buffered, unread, and steps out of the pipeline.
    private func leaveLane(context: ChannelHandlerContext) {
        do {
            try HTTPPipelines.addServerCodec(to: context.pipeline.syncOperations, position: .after(self))
        } catch {
            return context.close(promise: nil)
        }
        if let bytes = inbound {
            inbound = nil
            context.fireChannelRead(wrapInboundOut(bytes))
            context.fireChannelReadComplete()
        }
        if clientRead.releases() { context.read() }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    // MARK: Admission

    /// Routes the request and decides whether the lane may carry it; nil sends it to the general path.
    private func admit(_ head: ScannedRequestHead, bytes: ByteBuffer, context: ChannelHandlerContext) -> FastExchange? {
        let start = NIODeadline.now()
        let table = tables.current
        let host = routingHost(head.host)
        let (rawPath, query) = PathRules.split(head.target)
        guard case .success(let path) = PathNormalization.normalize(rawPath) else { return nil }
        let view = RequestView(path: path, query: query, method: head.method) { name in
            bytes.withUnsafeReadableBytes { RequestHeadScanner.value(of: name, in: $0, head) }
        }
        guard case .matched(let route) = table.route(port: listenerPort, host: host, request: view), route.fastLaneCarries,
              case .forward(let choice) = route.action else { return nil }
        let index = choice.pick(loop.nextRandom())
        let picked = choice.targets[index]
        guard case .cluster(let cluster) = picked.target, !cluster.endpoints.isEmpty, !cluster.http2, cluster.tls == nil,
              cluster.resilience == nil else { return nil }

        var record = RequestRecord(table: table, method: head.method, start: start)
        record.route = route
        record.backend = index
        record.backendName = picked.name
        // The id is only needed as a String for the access log; otherwise it is written as bytes.
        record.requestID = head.requestID ?? (loop.accessLog == nil ? "" : RequestIdentity.newRequestID(loop: loop))
        if loop.accessLog != nil {
            record.host = host
            record.path = path
            record.tenantHeader = head.tenant
        }
        let requestEdits = [route.requestHeaders, picked.requestHeaders].compactMap { $0 }
        let request = upstreamRequest(head, bytes: bytes, path: path, query: query, requestID: record.requestID, edits: requestEdits,
                                      allocator: context.channel.allocator)
        return FastExchange(record: record, cluster: cluster, request: request, requestBody: head.body, isHEAD: head.method == "HEAD",
                            keepAlive: !head.closeRequested && !quiescing,
                            responseEdits: [route.responseHeaders, picked.responseHeaders].compactMap { $0 })
    }

    /// The request line with the normalised path, the client's fields minus the hop-by-hop ones,
    /// then the X-Forwarded-*, Forwarded, X-Request-Id and traceparent fields, as the general path
    /// writes them.
    /// Header filters (`edits`, the route's then the backendRef's) act on those fields last, through
    /// the general path's own `HeaderRules.apply`.
    private func upstreamRequest(_ head: ScannedRequestHead, bytes: ByteBuffer, path: Substring, query: Substring?,
                                 requestID: String, edits: [HeaderEdits], allocator: ByteBufferAllocator) -> ByteBuffer {
        var out = allocator.buffer(capacity: head.length + 384)
        out.writeString(head.method)
        out.writeStaticString(" ")
        out.writeSubstring(path)
        if let query {
            out.writeStaticString("?")
            out.writeSubstring(query)
        }
        out.writeStaticString(" HTTP/1.1\r\n")
        let fieldsStart = out.writerIndex
        bytes.withUnsafeReadableBytes { raw in
            for span in head.keptSpans { out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[span])) }
        }
        let client = proxy.clientAddress
        out.writeStaticString("x-forwarded-for: ")
        out.writeString(client)
        out.writeStaticString("\r\nx-forwarded-proto: ")
        out.writeString(scheme)
        out.writeStaticString("\r\nx-forwarded-host: ")
        out.writeString(head.host)
        out.writeStaticString("\r\nforwarded: for=")
        out.writeString(proxy.forwardedNode)
        out.writeStaticString(";proto=")
        out.writeString(scheme)
        out.writeStaticString(";host=\"")
        out.writeString(head.host)
        out.writeStaticString("\"\r\n")
        if head.requestID == nil {
            out.writeStaticString("x-request-id: ")
            if requestID.isEmpty { RequestIdentity.writeNewRequestID(into: &out, loop: loop) } else { out.writeString(requestID) }
            out.writeStaticString("\r\n")
        }
        out.writeStaticString("traceparent: ")
        RequestIdentity.writeTraceparent(given: head.traceparent, into: &out, loop: loop)
        out.writeStaticString("\r\n")
        if !edits.isEmpty { FieldLines.edit(&out, from: fieldsStart, with: edits) }
        out.writeStaticString("\r\n")
        return out
    }

    // MARK: Backend side

    /// Starts the exchange with what followed its head: the start of its body, or the next request.
    private func start(_ exchange: FastExchange, then bytes: ByteBuffer, context: ChannelHandlerContext) {
        self.exchange = exchange
        proxy.fastLane(busy: true)
        if !exchange.requestBody.ended {
            takeRequestBody(bytes, for: exchange, context: context)
            guard self.exchange === exchange else { return }  // a malformed body, answered already
        } else if bytes.readableBytes > 0 {
            buffer(bytes)
        }
        if let millis = exchange.record.route?.requestTimeoutMillis {
            exchange.requestDeadline = exchange.record.start + .milliseconds(Int64(millis))
        }
        connect(exchange, allowReuse: true)
    }

    /// Makes sure the connection's one timer fires no later than the exchange's next deadline. A
    /// timer already due earlier is kept: when it fires it re-arms for whatever exchange is current.
    /// So a keep-alive connection whose requests all carry `timeouts:` schedules about one task per
    /// timeout period, not one (plus a cancel) per request.
    private func armTimer(_ exchange: FastExchange) {
        guard let deadline = exchange.nextDeadline, let context else { return }
        if let timerDeadline, timerDeadline <= deadline { return }
        timer?.cancel()
        timerDeadline = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { self.timerFired() }
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
        timerDeadline = nil
    }

    private func timerFired() {
        timer = nil
        timerDeadline = nil
        guard let exchange, let route = exchange.record.route else { return }
        let now = NIODeadline.now()
        if let deadline = exchange.requestDeadline, deadline <= now, let millis = route.requestTimeoutMillis {
            return timedOut(exchange, TimeoutMessages.request(millis))
        }
        if let deadline = exchange.tryDeadline, deadline <= now, let millis = route.backendTimeoutMillis {
            return timedOut(exchange, TimeoutMessages.backend(exchange.cluster.id, millis))
        }
        armTimer(exchange)
    }

    /// As the general path: a 504 naming the limit before the response started; a cut after.
    private func timedOut(_ exchange: FastExchange, _ why: String) {
        guard let context else { return }
        exchange.upstreamReusable = false
        if case .streaming = exchange.response { return cutMidResponse(exchange, context: context) }
        fail(exchange, .gatewayTimeout, why)
    }

    /// Round robin over the Service's endpoints; a second try goes elsewhere (ConnectTries).
    private func connect(_ exchange: FastExchange, allowReuse: Bool) {
        let endpoints = exchange.cluster.endpoints
        let endpoint = endpoints[loop.nextIndex(cluster: exchange.cluster, table: exchange.record.table, avoiding: exchange.endpoint)]
        exchange.endpoint = endpoint
        exchange.tryStart = .now()
        exchange.connectAttempts += 1
        // timeouts.backendRequest bounds each try, from its connect to the end of its response.
        if let millis = exchange.record.route?.backendTimeoutMillis { exchange.tryDeadline = .now() + .milliseconds(Int64(millis)) }
        armTimer(exchange)
        if allowReuse, let idle = loop.rawPool.takeIdle(endpoint) {
            return attach(idle, reused: true, to: exchange)
        }
        loop.rawPool.connect(endpoint).assumeIsolated().whenComplete { result in
            guard self.exchange === exchange else {
                if case .success(let connection) = result { self.loop.rawPool.release(connection) }
                return
            }
            switch result {
            case .success(let connection):
                self.attach(connection, reused: false, to: exchange)
            case .failure(let error):
                if ConnectTries.mayConnectAgain(after: exchange.connectAttempts, endpoints: endpoints.count) {
                    self.connect(exchange, allowReuse: false)
                } else {
                    self.fail(exchange, .badGateway, ConnectTries.failure(endpoint, cluster: exchange.cluster.id, error))
                }
            }
        }
    }

    private func attach(_ connection: RawUpstreamConnection, reused: Bool, to exchange: FastExchange) {
        exchange.upstream = connection
        exchange.reusedConnection = reused
        connection.user = self
        if let body = exchange.pendingBody {
            // Head and the body read so far leave in one flush.
            exchange.pendingBody = nil
            exchange.bodyBytesForwarded += body.readableBytes
            connection.send(exchange.request, body)
        } else {
            connection.send(exchange.request)
        }
        if let context, mayReadClient, clientRead.releases() { context.read() }
    }

    func upstreamRead(_ buffer: ByteBuffer) {
        guard let exchange, let context else { return }
        exchange.receivedAny = true
        var buffer = buffer
        if case .awaitingHead = exchange.response {
            if var held = exchange.heldResponse {
                held.writeBuffer(&buffer)
                buffer = held
                exchange.heldResponse = nil
            }
            while true {
                let scan = buffer.withUnsafeReadableBytes { ResponseHeadScanner().scan($0, requestIsHEAD: exchange.isHEAD) }
                switch scan {
                case .incomplete:
                    exchange.heldResponse = buffer
                    return
                case .malformed(let why):
                    return backendBroke(exchange, "backend \(exchange.cluster.id) sent an invalid response: \(why)", context: context)
                case .head(let head) where head.status < 200:
                    // Interim answers (103 Early Hints, a stray 100) stay between archway and the backend;
                    // a 101 cannot be one, since no upgrade was asked for.
                    guard head.status != 101 else {
                        return backendBroke(exchange, "backend \(exchange.cluster.id) switched protocols unasked", context: context)
                    }
                    buffer.moveReaderIndex(forwardBy: head.length)
                    if buffer.readableBytes == 0 { return }
                case .head(let head):
                    return beginResponse(exchange, head: head, buffer: buffer, context: context)
                }
            }
        }
        forwardBody(exchange, buffer, context: context)
    }

    private func beginResponse(_ exchange: FastExchange, head: ScannedResponseHead, buffer: ByteBuffer, context: ChannelHandlerContext) {
        exchange.status = head.status
        exchange.upstreamReusable = head.reusable
        if head.framing == .untilClose { exchange.keepAlive = false }
        let bodyBytes = buffer.readableBytes - head.length
        var out = context.channel.allocator.buffer(capacity: head.length + 32 + (bodyBytes <= 4096 ? bodyBytes : 0))
        out.writeStaticString("HTTP/1.1 ")
        let fieldsStart = buffer.withUnsafeReadableBytes { raw in
            out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[head.statusText]))
            out.writeStaticString("\r\n")
            let start = out.writerIndex
            for span in head.keptSpans { out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[span])) }
            return start
        }
        if !exchange.responseEdits.isEmpty { FieldLines.edit(&out, from: fieldsStart, with: exchange.responseEdits) }
        if !exchange.keepAlive { out.writeStaticString("connection: close\r\n") }
        out.writeStaticString("\r\n")
        var body = buffer
        body.moveReaderIndex(forwardBy: head.length)
        exchange.startBody(head.framing)
        let (taken, ended) = exchange.take(body)
        guard var forwarded = taken else {
            return backendBroke(exchange, "backend \(exchange.cluster.id) sent a malformed chunked body", context: context)
        }
        exchange.bodyBytesSent += forwarded.readableBytes
        if forwarded.readableBytes <= 4096 {
            // Head and a small body in one buffer: one iovec, one TLS record.
            out.writeBuffer(&forwarded)
            context.write(wrapOutboundOut(.byteBuffer(out)), promise: nil)
        } else {
            context.write(wrapOutboundOut(.byteBuffer(out)), promise: nil)
            context.write(wrapOutboundOut(.byteBuffer(forwarded)), promise: nil)
        }
        if ended { complete(exchange, context: context) } else { needsFlush = true }
    }

    private func forwardBody(_ exchange: FastExchange, _ buffer: ByteBuffer, context: ChannelHandlerContext) {
        let (forwarded, ended) = exchange.take(buffer)
        guard let forwarded else {
            return backendBroke(exchange, "backend \(exchange.cluster.id) sent a malformed chunked body", context: context)
        }
        if forwarded.readableBytes > 0 {
            exchange.bodyBytesSent += forwarded.readableBytes
            context.write(wrapOutboundOut(.byteBuffer(forwarded)), promise: nil)
            needsFlush = true
        }
        if ended { complete(exchange, context: context) }
    }

    func upstreamReadComplete() {
        guard needsFlush, let context else { return }
        needsFlush = false
        context.flush()
    }

    func upstreamClosed() {
        guard let exchange, let context else { return }
        exchange.upstream = nil
        switch exchange.response {
        case .streaming(.untilClose):
            exchange.upstreamReusable = false
            complete(exchange, context: context)
        case .streaming:
            cutMidResponse(exchange, context: context)
        case .awaitingHead:
            if ConnectTries.mayResendAfterStaleClose(method: exchange.record.method, reusedConnection: exchange.reusedConnection,
                                                     answered: exchange.receivedAny, bodySent: exchange.bodyBytesForwarded > 0,
                                                     connectAttempts: exchange.connectAttempts) {
                // A pooled connection the backend had closed as the request went out: once more, on a new one.
                exchange.heldResponse = nil
                connect(exchange, allowReuse: false)
            } else {
                fail(exchange, .badGateway, "backend \(exchange.cluster.id) failed before responding: connection closed")
            }
        }
    }

    /// The response is complete: the backend connection goes back to the pool (if it stayed in step),
    /// the request is counted, and the next pipelined request, if any, is served.
    private func complete(_ exchange: FastExchange, context: ChannelHandlerContext) {
        // A backend that answered before the whole body reached it expects the rest: out of step.
        if !exchange.requestBody.ended { exchange.upstreamReusable = false }
        if exchange.upstreamReusable, let upstream = exchange.upstream {
            exchange.upstream = nil
            loop.rawPool.release(upstream)
        } else {
            exchange.dropUpstream()
        }
        end(exchange, status: exchange.status, context: context)
    }

    /// The exchange is over: it is counted, and the connection is no longer busy.
    private func settle(_ exchange: FastExchange, status: Int) {
        self.exchange = nil
        loop.record(exchange.record, RequestOutcome(status: status, client: proxy.clientAddress, bytesOut: exchange.bodyBytesSent,
                                                    tryStart: exchange.tryStart, endpoint: exchange.endpoint))
        proxy.fastLane(busy: false)
    }

    private func end(_ exchange: FastExchange, status: Int, context: ChannelHandlerContext) {
        settle(exchange, status: status)
        needsFlush = false
        // Answered before its body was all read: the rest is read and dropped (RFC 9112 §9.6).
        if !exchange.requestBody.ended { discarding = exchange.requestBody }
        guard exchange.keepAlive && !quiescing else {
            // Closed once everything written so far is out (writes complete in order).
            closing = true
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.byteBuffer(ByteBuffer()))).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        context.flush()
        if discarding == nil, inbound != nil { serveBuffered(context: context) } else if clientRead.releases() { context.read() }
    }

    // MARK: Failures

    /// The backend broke the exchange: before the response started the client gets a 502 naming why;
    /// after, the only honest signal left is to cut the connection.
    private func backendBroke(_ exchange: FastExchange, _ why: String, context: ChannelHandlerContext) {
        exchange.upstreamReusable = false
        if case .streaming = exchange.response { return cutMidResponse(exchange, context: context) }
        fail(exchange, .badGateway, why)
    }

    private func cutMidResponse(_ exchange: FastExchange, context: ChannelHandlerContext) {
        exchange.dropUpstream()
        settle(exchange, status: exchange.status)
        closing = true
        context.flush()
        context.close(promise: nil)
    }

    /// A gateway-made answer in the general path's words and shape (ProxyHandler.respondLocally).
    private func fail(_ exchange: FastExchange, _ status: HTTPResponseStatus, _ message: String) {
        guard let context else { return }
        exchange.dropUpstream()
        let body = message + "\n"
        var out = context.channel.allocator.buffer(capacity: body.utf8.count + 160)
        out.writeString("HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: \(body.utf8.count)\r\n")
        if !exchange.keepAlive || quiescing { out.writeStaticString("connection: close\r\n") }
        out.writeStaticString("\r\n")
        out.writeString(body)
        context.write(wrapOutboundOut(.byteBuffer(out)), promise: nil)
        exchange.bodyBytesSent = body.utf8.count
        end(exchange, status: Int(status.code), context: context)
    }
}
