import NIOCore
import NIOHTTP1
import RoutingTable

/// The HTTP/1.1 fast lane (Pingora's and nginx's way of proxying: bytes in, edited bytes out). It
/// sits where NIOHTTP1's codec would and serves the common request — a route that forwards or
/// answers itself, with header filters, rewrites, timeouts, retries, sessions, mirrors and edge
/// policies, with or without a body — by scanning the head in place, streaming the body as it came
/// (Content-Length or chunked, framing checked on the way) and writing the backend's response
/// through as bytes: no HTTPRequestHead, no HTTPHeaders, no encoder on either side. Every decision
/// is the general path's own rule (`CORSPhase`, `EdgeChecks`, `PickUpstreamPhase`, `HeaderRules`,
/// `UpstreamTries`, `LocalAnswer`).
///
/// Everything else leaves the lane for good, before any policy is asked: at the first request the
/// lane will not take (or cannot yet see whole), the codec and a `ProxyHandler` are put in behind
/// it, get the bytes untouched, and the lane removes itself. So the general path keeps sole charge
/// of upgrades, HTTP/1.0, h2c backends and every head outside the scanner's strict subset
/// (malformed ones included, which llhttp answers).
///
/// While the lane serves, it is the connection's only handler, and it keeps the connection's own
/// concerns: on a cleartext port its first bytes tell HTTP/1 from prior-knowledge h2c, and the
/// header and idle timeouts, drain and the active-connections gauge are its business
/// (`LaneConnection.swift`), by the rules `ProxyHandler` takes over if the lane leaves.
final class FastLaneHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    let setup: ConnectionSetup
    let loop: EventLoopContext
    /// The client; its address is filled in once the connection is known to speak HTTP/1.
    var downstream: Downstream
    var context: ChannelHandlerContext?
    /// Bytes read from the client and not yet served (a pipelined request waits here).
    var inbound: ByteBuffer?
    var exchange: FastExchange?
    /// A request whose edge policy is deciding; nothing more is read or served meanwhile. Boxed:
    /// the lane exists from accept, and a `LaneRequest` held inline (some 500 bytes) would be paid
    /// by every idle connection.
    var deciding: LaneRequest? {
        get { decidingBox?.request }
        set { decidingBox = newValue.map(DecidingRequest.init) }
    }
    private var decidingBox: DecidingRequest?
    /// The connection's one timer: the wait for a request head, or the exchange's `timeouts:`.
    var timer = ConnectionDeadline()
    var timers: ConnectionTimers
    /// A cleartext connection whose first bytes may still be the HTTP/2 connection preface.
    var sniffing: Bool
    /// The connection is counted in the active-connections gauge (from when it is known to be HTTP/1).
    var counted = false
    /// The rest of a request body the backend no longer wants (it answered early, or the lane did),
    /// read and dropped so that the connection can carry the next request.
    var discarding: BodyFollower?
    var clientRead = HeldRead()
    var quiescing = false
    var closing = false
    var needsFlush = false

    /// `sniffing`: added at accept on a cleartext port, before anything is known of the protocol;
    /// otherwise added once TLS's ALPN has chosen HTTP/1.1.
    init(setup: ConnectionSetup, loop: EventLoopContext, downstream: Downstream, sniffing: Bool) {
        self.setup = setup
        self.loop = loop
        self.downstream = downstream
        timers = ConnectionTimers(limits: loop.limits)
        self.sniffing = sniffing
    }

    var tables: TableStore { setup.tables }
    var listenerPort: Int { downstream.listenerPort }
    var scheme: String { downstream.scheme }
    /// Made per scan from the loop's limits rather than kept: four words less in every idle connection.
    var scanner: RequestHeadScanner {
        RequestHeadScanner(maxHeaderBytes: loop.limits.maxHeaderBytes, maxHeaderCount: loop.limits.maxHeaderCount,
                           maxURIBytes: loop.limits.maxURIBytes, maxBodyBytes: loop.limits.maxRequestBodyBytes)
    }

    // MARK: Client side

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        if let exchange, !exchange.requestBody.ended {
            return takeRequestBody(bytes, for: exchange, context: context)
        }
        if discarding != nil { return discard(bytes, context: context) }
        buffer(bytes)
        if sniffing, !protocolChosen(context: context) { return }
        if exchange == nil { serveBuffered(context: context) }
    }

    /// Bytes after the current request: the next pipelined one, served when this one is answered.
    func buffer(_ bytes: ByteBuffer) {
        if inbound == nil {
            inbound = bytes
        } else {
            var bytes = bytes
            inbound!.writeBuffer(&bytes)
        }
    }

    /// Nothing behind the lane has seen bytes: there is nothing to tell (when the lane leaves, it
    /// tells the general path itself).
    func channelReadComplete(context: ChannelHandlerContext) {}

    func read(context: ChannelHandlerContext) {
        if clientRead.passes(when: mayReadClient) { context.read() }
    }

    /// A request body flows as fast as the backend takes it (a little is buffered while it connects);
    /// pipelined requests wait for the answer before them, since reading more would only pile them up.
    var mayReadClient: Bool {
        guard let exchange else { return deciding == nil }
        if !exchange.requestBody.ended {
            if let upstream = exchange.upstream { return upstream.isWritable }
            return (exchange.pendingBody?.readableBytes ?? 0) < Self.maxPendingBody
        }
        return inbound == nil
    }

    static let maxPendingBody = 64 * 1024

    /// The backend connection drained what the lane wrote to it: the client's body may flow again.
    func upstreamWritable() {
        if let context, mayReadClient, clientRead.releases() { context.read() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { exchange?.upstream?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    var downstreamIsWritable: Bool { context?.channel.isWritable ?? true }

    func channelInactive(context: ChannelHandlerContext) {
        if let exchange {
            // The client left mid-exchange: the backend connection is in an unknown state.
            self.exchange = nil
            exchange.over()
            exchange.dropUpstream()
            for mirror in exchange.mirrors { mirror.clientLeft() }
        }
        deciding = nil
        connectionClosed()
        context.fireChannelInactive()
    }

    func serveBuffered(context: ChannelHandlerContext) {
        while exchange == nil, discarding == nil, deciding == nil, !closing, let buffer = inbound {
            let scan = buffer.withUnsafeReadableBytes { scanner.scan($0) }
            guard case .head(let head) = scan else { return leaveLane(context: context) }
            guard proceed(with: admit(head, bytes: buffer, context: context), head: head, context: context) else { return }
        }
        if mayReadClient, clientRead.releases() { context.read() }
    }

    /// Carries out what admission decided; false once the lane has left.
    func proceed(with admission: Admission, head: ScannedRequestHead, context: ChannelHandlerContext) -> Bool {
        switch admission {
        case .leave:
            leaveLane(context: context)
            return false
        case .wait(let request, let decide):
            // The head stays in `inbound` (the policy's answer is read against it), and so does
            // whatever arrives meanwhile: nothing is read until the policy has decided.
            deciding = request
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            let eventLoop = context.eventLoop
            decide { decision in eventLoop.execute { bound.value.policyDecided(decision) } }
            return true
        case .forward, .answer:
            break
        }
        inbound!.moveReaderIndex(forwardBy: head.length)
        let afterHead = inbound!
        inbound = nil
        switch admission {
        case .forward(let exchange):
            start(exchange, then: afterHead, context: context)
        case .answer(let local, let record):
            let closes = local.closesConnection
                || LocalAnswer.closesConnection(continueOwed: head.expectsContinue, bodyPending: head.body != .none)
            answer(local, record: record, keepAlive: !head.closeRequested && !quiescing && !closes, context: context)
            guard !closing else { return true }
            if head.body != .none {
                // Answered without its body: the body is read and dropped, and the connection goes on.
                discarding = BodyFollower(head.body)
                if afterHead.readableBytes > 0 { discard(afterHead, context: context) }
            } else if afterHead.readableBytes > 0 {
                inbound = afterHead
            }
        case .wait, .leave:
            break
        }
        return true
    }

    /// An edge policy decided on the parked request: on with its admission, then with what followed it.
    func policyDecided(_ decision: EdgeDecision) {
        guard let context, let request = deciding, let bytes = inbound else { return }
        deciding = nil
        if proceed(with: resumeAdmission(request, after: decision, bytes: bytes, context: context), head: request.head, context: context) {
            serveBuffered(context: context)
        }
    }

    // MARK: Request body

    /// Splits what the client sent into this request's body (on to the backend, or held while it
    /// connects) and whatever follows it (the next request).
    func takeRequestBody(_ bytes: ByteBuffer, for exchange: FastExchange, context: ChannelHandlerContext) {
        guard let (body, rest) = exchange.requestBody.split(bytes) else {
            for mirror in exchange.mirrors { mirror.abandon() }
            // What llhttp answers on the general path: 400, and the connection closes.
            exchange.keepAlive = false
            exchange.upstreamReusable = false
            if case .streaming = exchange.response { return cutMidResponse(exchange, context: context) }
            return fail(exchange, .badRequest, "malformed HTTP request: invalid chunked body")
        }
        if let limit = exchange.bodyLimit, exchange.requestBody.contentBytes > limit {
            for mirror in exchange.mirrors { mirror.abandon() }
            exchange.keepAlive = false
            exchange.upstreamReusable = false
            if case .streaming = exchange.response { return cutMidResponse(exchange, context: context) }
            return fail(exchange, .bodyOverLimit(limit))
        }
        for mirror in exchange.mirrors { mirror.send(body, ended: exchange.requestBody.ended) }
        if body.readableBytes > 0 {
            if let upstream = exchange.upstream {
                exchange.sending(body)
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
    func discard(_ bytes: ByteBuffer, context: ChannelHandlerContext) {
        guard let (_, rest) = discarding!.split(bytes) else {
            closing = true
            return context.close(promise: nil)
        }
        guard discarding!.ended else { return }
        discarding = nil
        if let rest { buffer(rest) }
        serveBuffered(context: context)
    }

    /// Puts the codec and the general path in behind, hands them what is buffered, unread, and the
    /// connection's state, and steps out of the pipeline.
    func leaveLane(context: ChannelHandlerContext) {
        do {
            let pipeline = context.pipeline.syncOperations
            try HTTPPipelines.addServerCodec(to: pipeline, position: .after(self))
            try pipeline.addHandler(ProxyHandler(takingOver: downstream, timers: timers, quiescing: quiescing, tables: tables, loop: loop))
            counted = false  // the general path now holds the connection's place in the gauge
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
}

/// Where `FastLaneHandler.deciding` is kept.
final class DecidingRequest {
    let request: FastLaneHandler.LaneRequest
    init(_ request: FastLaneHandler.LaneRequest) { self.request = request }
}
