import NIOCore
import NIOHTTP1
import Observability
import RoutingTable

/// The client side of one HTTP/1 connection (HTTP/2 streams are `HTTP2ServerStream`'s): keep-alive, pipelining order,
/// the idle and header timers, drain, and backpressure towards the client. Nothing about routes: each
/// request head starts a `RequestContext` through the `RequestPipeline`'s phases, and the handler acts
/// on what they decide: it writes a local answer, parks the request while an edge policy decides, or
/// hands it to an `UpstreamAttempt` and passes on the response that comes back.
final class ProxyHandler: ChannelDuplexHandler, RemovableChannelHandler, RequestDriver {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    let tables: TableStore
    let loop: EventLoopContext
    private(set) var pipeline: RequestPipeline
    private var context: ChannelHandlerContext?
    var state = RequestState.idle
    private var keepAlive = true
    /// An answer that ends the connection has been written.
    private var closing = false
    /// The version of the last request head, for answers to what is not a request (timeouts, parse errors).
    private var version = HTTPVersion.http1_1
    private var clientRead = HeldRead()
    private var pipelined: [HTTPServerRequestPart] = []
    private var quiescing = false
    /// An Upgrade request was read: the HTTP/1 decoder has stopped parsing, so nothing more is read
    /// until the backend has either switched protocols (the bytes then belong to the tunnel) or
    /// refused (the connection then closes after the answer).
    private var upgradeRequested = false

    /// The guard against slow and idle clients.
    private var timers: ConnectionTimers
    private var timer = ConnectionDeadline()
    /// This handler holds the connection's place in the active-connections gauge.
    private var counted = false

    var clientAddress: String { pipeline.downstream.clientAddress }
    /// The client as a Forwarded `for=` node, worked out once per connection.
    var forwardedNode: String { pipeline.downstream.forwardedNode }

    init(downstream: Downstream, tables: TableStore, loop: EventLoopContext) {
        self.tables = tables
        self.loop = loop
        pipeline = RequestPipeline(downstream: downstream, loop: loop)
        timers = ConnectionTimers(limits: loop.limits)
    }

    /// Takes over an HTTP/1 connection the fast lane has served so far: who the client is, how long
    /// it has waited for its next request, its place in the gauge, and whether it is draining.
    init(takingOver downstream: Downstream, timers: ConnectionTimers, quiescing: Bool, tables: TableStore, loop: EventLoopContext) {
        self.tables = tables
        self.loop = loop
        pipeline = RequestPipeline(downstream: downstream, loop: loop)
        self.timers = timers
        self.quiescing = quiescing
        keepAlive = !quiescing
        counted = true
    }

    // MARK: Connection life

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if pipeline.downstream.clientAddress.isEmpty { pipeline.downstream.identify(context.channel) }
        // HTTP/1 handlers are added once the first bytes have told the protocol: already active.
        if context.channel.isActive { becameActive(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        timer.cancel(on: loop.eventLoop)
    }

    func channelActive(context: ChannelHandlerContext) {
        becameActive(context: context)
        context.fireChannelActive()
    }

    private func becameActive(context: ChannelHandlerContext) {
        if !counted {
            counted = true
            loop.metrics.gauges.activeConnections.increment()
            timers.connectionStarted()
        }
        guardConnection()
    }

    /// Makes sure the connection's timer fires by the end of the current wait for a head. Called
    /// wherever the connection may have started waiting: a fire while it is busy does not re-arm.
    private func guardConnection() {
        guard let context, awaitingHead else { return }
        timer.arm(at: timers.deadline, on: context.eventLoop, handler: self)
    }

    private var awaitingHead: Bool {
        guard case .idle = state else { return false }
        return pipelined.isEmpty && !upgradeRequested
    }

    func channelInactive(context: ChannelHandlerContext) {
        if counted { loop.metrics.gauges.activeConnections.decrement() }
        counted = false
        timer.cancel(on: loop.eventLoop)
        // The client left mid-exchange: mirrors that have the whole request may still finish.
        if case .forwarding(let attempt) = state { attempt.abandon(mirrorsWithWholeRequestFinish: true) }
        state = .idle
        context.fireChannelInactive()
    }

    /// A request llhttp cannot parse gets a 400 naming the problem (unless a response is already under
    /// way) and the connection is closed: after a framing error nothing later on it can be trusted.
    /// Done here rather than by NIO's HTTPServerProtocolErrorHandler to keep a handler off the hot path.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        var responding = false
        var bytesIn = 0
        if case .forwarding(let attempt) = state {
            responding = attempt.responseStarted
            bytesIn = attempt.request.bodyBytes
            attempt.abandon(mirrorsWithWholeRequestFinish: false)
            state = .idle
        }
        if case .authorizing = state { state = .idle }
        if let parserError = error as? HTTPParserError, !responding {
            // Oversized heads get the status that names the limit (as Envoy does); the rest is a 400.
            let status: HTTPResponseStatus = parserError == .headerOverflow ? .requestHeaderFieldsTooLarge : .badRequest
            respondLocally(LocalAnswer(status, "malformed HTTP request: \(error)", closesConnection: true),
                           record: RequestRecord(table: tables.current, method: "OTHER", start: .now()), bytesIn: bytesIn, requestEnded: true)
        } else {
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else { return context.fireUserInboundEventTriggered(event) }
        // Draining: finish the request in flight, then close; an idle connection closes now.
        quiescing = true
        keepAlive = false
        if case .idle = state, pipelined.isEmpty { context.close(promise: nil) }
    }

    // MARK: Reading requests

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if case .head = part { timers.headRead() }
        // A pipelined request waits until the response before it is complete. Holding it here (rather
        // than with NIO's pipelining helper, which stops and restarts reading around every request)
        // saves two epoll_ctl calls per request on the common, unpipelined path.
        if !pipelined.isEmpty || isAnswering(before: part) {
            pipelined.append(part)
            return
        }
        handle(part, context: context)
    }

    private func isAnswering(before part: HTTPServerRequestPart) -> Bool {
        guard case .head = part else { return false }
        switch state {
        case .forwarding, .authorizing: return true
        case .idle, .discarding: return false
        }
    }

    /// Runs requests that arrived pipelined, once the one before them has been answered.
    private func drainPipelined() {
        guard let context else { return }
        while let part = pipelined.first, !isAnswering(before: part) {
            pipelined.removeFirst()
            handle(part, context: context)
        }
        // Parts handled here came from no read, so no read-complete will flush them to the backend.
        if case .forwarding(let attempt) = state { attempt.flushRequest() }
        if pipelined.isEmpty { resumeClientReads() }
        guardConnection()
    }

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        // After an answer that closes the connection nothing more is read from it: a pipelined request
        // behind a refused one must never reach a backend.
        guard !closing else { return }
        if case .head(let head) = part {
            begin(head, context: context)
        } else {
            take(part)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        timers.readCompleted(awaitingHead: awaitingHead)
        guardConnection()
        if case .forwarding(let attempt) = state { attempt.flushRequest() }
        context.fireChannelReadComplete()
    }

    /// Request backpressure: hold the client's bytes while the backend is not connected or not writable.
    func read(context: ChannelHandlerContext) {
        if clientRead.passes(when: mayReadClient) { context.read() }
    }

    private var mayReadClient: Bool {
        if !pipelined.isEmpty || upgradeRequested { return false }
        switch state {
        case .authorizing: return false
        case .forwarding(let attempt): return attempt.takesRequestBytes
        case .idle, .discarding: return true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, case .forwarding(let attempt) = state { attempt.clientBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    private func resumeClientReads() {
        if let context, clientRead.releases() { context.read() }
    }

    // MARK: Driving the request phases

    private func begin(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let start = NIODeadline.now()
        timers.requestStarted()
        keepAlive = head.isKeepAlive && !quiescing
        version = head.version
        var request = RequestContext(head: head, table: tables.current, start: start, bodyLimit: loop.limits.maxRequestBodyBytes)
        if request.upgrade != nil {
            upgradeRequested = true
            keepAlive = false
        }
        act(on: pipeline.run(&request), request)
    }

    // MARK: What the phases decided (RequestDriver)

    var eventLoop: (any EventLoop)? { context?.eventLoop }

    func answer(_ answer: LocalAnswer, for request: RequestContext) { respondLocally(answer, for: request) }

    func resumeAfterPolicy(replaying parts: [HTTPServerRequestPart]) {
        guard let context else { return }
        for part in parts { handle(part, context: context) }
        drainPipelined()
        resumeClientReads()
    }

    // MARK: Local answers

    /// `continueOwed`: the request asked for a 100 that was never sent (no attempt got that far).
    func respondLocally(_ answer: LocalAnswer, for request: RequestContext, requestEnded: Bool = false, continueOwed: Bool? = nil) {
        if LocalAnswer.closesConnection(continueOwed: continueOwed ?? request.expectsContinue, bodyPending: !requestEnded) { keepAlive = false }
        respondLocally(answer, record: request.record, bytesIn: request.bodyBytes, grpc: request.isGRPC, requestEnded: requestEnded)
    }

    private func respondLocally(_ answer: LocalAnswer, record: RequestRecord, bytesIn: Int = 0, grpc: Bool = false, requestEnded: Bool) {
        guard let context else { return }
        if answer.closesConnection { keepAlive = false }
        let body = answer.body
        LogPhase.run(record, status: Int(answer.status.code), bytesIn: bytesIn, bytesOut: grpc ? 0 : body.utf8.count, client: clientAddress,
                     attempt: nil, loop: loop)
        timers.answered()
        if !requestEnded { state = .discarding }
        if grpc {
            let (head, trailers) = answer.grpcResponse(version: version)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(trailers)), promise: nil)
            return
        }
        context.write(wrapOutboundOut(.head(answer.textHead(version: version, keepAlive: keepAlive))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            closing = true
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

// MARK: The connection's timer

extension ProxyHandler: NIOScheduledCallbackHandler {
    /// The wait for a head may have run out; a connection that is busy by now re-arms when it waits again.
    func handleScheduledCallback(eventLoop: some EventLoop) {
        timer.fired()
        guard let context, awaitingHead else { return }
        switch timers.check(now: .now()) {
        case .fine:
            guardConnection()
        case .headTooSlow(let started):
            let millis = Int(loop.limits.headerTimeout.nanoseconds / 1_000_000)
            let answer = LocalAnswer(.requestTimeout, "request head not received within \(TimeoutMessages.duration(millis))", closesConnection: true)
            respondLocally(answer, record: RequestRecord(table: tables.current, method: "OTHER", start: started), requestEnded: true)
        case .idleTooLong:
            context.close(promise: nil)
        }
    }
}

// MARK: The response, as the upstream attempt hands it over

extension ProxyHandler: ClientConnection {
    var takesResponseBytes: Bool { context?.channel.isWritable ?? true }

    func backendTakesBytes() { resumeClientReads() }

    func sendContinue(version: HTTPVersion) {
        context?.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: .continue))), promise: nil)
    }

    /// Keep-alive is the connection's to say: an HTTP/1.0 response without a length ends with the
    /// connection, and an HTTP/1.0 client is told when the connection stays.
    func startResponse(_ head: HTTPResponseHead, framedByLength: Bool) {
        guard let context else { return }
        var head = head
        if head.version.isHTTP10OrOlder && !framedByLength { keepAlive = false }
        if !keepAlive {
            head.headers.replaceOrAdd(name: "connection", value: "close")
        } else if head.version.isHTTP10OrOlder {
            head.headers.replaceOrAdd(name: "connection", value: "keep-alive")
        }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
    }

    func sendResponseBody(_ buffer: ByteBuffer) {
        context?.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
    }

    func flushResponse() { context?.flush() }

    func endResponse(_ attempt: UpstreamAttempt, trailers: HTTPHeaders?) {
        guard let context else { return }
        timers.answered()
        state = attempt.requestEnded ? .idle : .discarding
        let promise: EventLoopPromise<Void>? = keepAlive ? nil : context.eventLoop.makePromise()
        if !keepAlive { closing = true }
        context.writeAndFlush(wrapOutboundOut(.end(trailers)), promise: promise)
        if let promise {
            let channel = context.channel
            promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
        }
        drainPipelined()
        resumeClientReads()
    }

    func answerInstead(_ attempt: UpstreamAttempt, _ answer: LocalAnswer) {
        state = .idle
        respondLocally(answer, for: attempt.request, requestEnded: attempt.requestEnded, continueOwed: attempt.owesContinue)
        drainPipelined()
        resumeClientReads()
    }

    func cutResponse() {
        state = .idle
        context?.close(promise: nil)
    }

    /// The 101 goes to the client, then both connections become the two ends of a byte tunnel.
    func switchProtocols(_ head: HTTPResponseHead, backend: any Channel, firstBytes: ByteBuffer?) {
        guard let context else { return backend.close(promise: nil) }
        state = .idle
        context.writeAndFlush(wrapOutboundOut(.head(head)), promise: nil)
        upgradeRequested = false  // the tunnel's reads must pass
        let gauges = loop.metrics.gauges
        HTTPPipelines.tunnel(client: context.channel, proxy: self, backend: backend, firstBytes: firstBytes) {
            gauges.activeConnections.decrement()
        }
    }
}
