import NIOCore
import NIOHTTP1
import RoutingTable

extension FastLaneHandler: RawUpstreamUser {
    // MARK: Backend side

    /// Starts the exchange with what followed its head: the start of its body, or the next request.
    func start(_ exchange: FastExchange, then bytes: ByteBuffer, context: ChannelHandlerContext) {
        self.exchange = exchange
        for copy in MirrorRequest.copies(of: exchange.record, loop: loop) {
            exchange.mirrors.append(LaneMirror(request: exchange.request, requestEnded: exchange.requestBody.ended, isHEAD: exchange.isHEAD,
                                               cluster: copy.cluster, endpoint: copy.endpoint, tls: tables.upstreamTLS(for: copy.cluster),
                                               pool: loop.pool, eventLoop: context.eventLoop, onFinish: copy.finished))
        }
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
    func armTimer(_ exchange: FastExchange) {
        guard let deadline = exchange.nextDeadline, let context else { return }
        timer.arm(at: deadline, on: context.eventLoop, handler: self)
    }

    func timerFired() {
        timer.fired()
        guard let exchange else { return waitRanOut() }
        let now = NIODeadline.now()
        if let deadline = exchange.requestDeadline, deadline <= now {
            return act(on: exchange.tries.deadlinePassed(.request), exchange)
        }
        if let deadline = exchange.tryDeadline, deadline <= now {
            exchange.tryDeadline = nil
            act(on: exchange.tries.deadlinePassed(.backend), exchange)
        }
        if self.exchange === exchange { armTimer(exchange) }
    }

    /// Carries out what `UpstreamTries` decided.
    func act(on next: UpstreamTries.Next, _ exchange: FastExchange, connectError: (Endpoint, any Error)? = nil, closeError: (any Error)? = nil) {
        guard let context else { return }
        switch next {
        case .nothing, .forwardResponse:
            break
        case .retry(let backoffMillis):
            retry(exchange, after: backoffMillis)
        case .connect:
            exchange.backoff = nil
            connect(exchange, allowReuse: true)
        case .connectAgain:
            connect(exchange, allowReuse: false)
        case .resend:
            // A pooled connection the backend had closed as the request went out: once more, on a new one.
            exchange.heldResponse = nil
            connect(exchange, allowReuse: false)
        case .fail(let failure):
            exchange.upstreamReusable = false
            fail(exchange, ConnectTries.answer(failure, cluster: exchange.cluster.id, route: exchange.record.route, connectError: connectError,
                                               closeError: closeError))
        case .cut:
            exchange.upstreamReusable = false
            cutMidResponse(exchange, context: context)
        }
    }

    /// Gives the try up (its connection closes: its answer is unread) and sends the request again,
    /// what was sent of its body first, after the policy's back-off.
    func retry(_ exchange: FastExchange, after backoffMillis: Int) {
        exchange.dropUpstream()
        exchange.heldResponse = nil
        exchange.tryDeadline = nil
        if var sent = exchange.replay, sent.readableBytes > 0 {
            if var pending = exchange.pendingBody { sent.writeBuffer(&pending) }
            exchange.pendingBody = sent
            exchange.replay = ByteBuffer()
        }
        guard backoffMillis > 0, let context else { return connect(exchange, allowReuse: true) }
        exchange.backoff = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(backoffMillis))) {
            guard self.exchange === exchange else { return }
            self.act(on: exchange.tries.backoffElapsed(), exchange)
        }
    }

    /// Round robin over the Service's endpoints; a second try goes elsewhere.
    func connect(_ exchange: FastExchange, allowReuse: Bool) {
        guard let endpoint = loop.endpointForTry(exchange.cluster, table: exchange.record.table, tries: exchange.tries, sticky: exchange.sticky,
                                                 gate: exchange.gate, last: exchange.endpoint) else {
            return fail(exchange, exchange.gate!.noneUsable)
        }
        exchange.endpoint = endpoint
        exchange.tryStart = .now()
        exchange.tries.connecting()
        // timeouts.backendRequest bounds each try, from its connect to the end of its response.
        if let millis = exchange.record.route?.backendTimeoutMillis { exchange.tryDeadline = .now() + .milliseconds(Int64(millis)) }
        armTimer(exchange)
        let cluster = exchange.cluster
        if allowReuse, let idle = loop.pool.takeIdle(UpstreamKey(endpoint: endpoint, tls: cluster.tls?.poolKey)) {
            return attach(idle, reused: true, to: exchange)
        }
        if let refusal = exchange.gate?.reserveConnection() { return fail(exchange, refusal) }
        let tls = tables.upstreamTLS(for: cluster)
        loop.pool.connect(endpoint, tls: tls).assumeIsolated().whenComplete { result in
            exchange.gate?.connectFinished(try? result.get().channel, endpoint: endpoint)
            guard self.exchange === exchange else {
                if case .success(let connection) = result { self.loop.pool.release(connection) }
                return
            }
            switch result {
            case .success(let connection):
                self.attach(connection, reused: false, to: exchange)
            case .failure(let error):
                self.act(on: exchange.tries.connectFailed(), exchange, connectError: (endpoint, error))
            }
        }
    }

    func attach(_ connection: RawUpstreamConnection, reused: Bool, to exchange: FastExchange) {
        exchange.upstream = connection
        exchange.tries.attached(reused: reused)
        connection.user = self
        if exchange.owesContinue, let context {
            exchange.owesContinue = false
            context.writeAndFlush(wrapOutboundOut(.byteBuffer(context.channel.allocator.buffer(staticString: "HTTP/1.1 100 Continue\r\n\r\n"))),
                                  promise: nil)
        }
        if let body = exchange.pendingBody {
            // Head and the body read so far leave in one flush.
            exchange.pendingBody = nil
            exchange.sending(body)
            connection.send(exchange.request, body)
        } else {
            connection.send(exchange.request)
        }
        if let context, mayReadClient, clientRead.releases() { context.read() }
    }

    func upstreamRead(_ buffer: ByteBuffer) {
        guard let exchange, let context else { return }
        exchange.tries.responseBytesArrived()
        var buffer = buffer
        if case .awaitingHead = exchange.response {
            switch ResponseHeadScanner.finalHead(&buffer, held: &exchange.heldResponse, requestIsHEAD: exchange.isHEAD) {
            case .incomplete:
                return
            case .malformed(let why):
                return backendBroke(exchange, "backend \(exchange.cluster.id) sent an invalid response: \(why)", context: context)
            case .head(let head) where head.status == 101:
                // No upgrade was asked for on the lane.
                return backendBroke(exchange, "backend \(exchange.cluster.id) switched protocols unasked", context: context)
            case .head(let head):
                return beginResponse(exchange, head: head, buffer: buffer, context: context)
            }
        }
        forwardBody(exchange, buffer, context: context)
    }

    func beginResponse(_ exchange: FastExchange, head: ScannedResponseHead, buffer: ByteBuffer, context: ChannelHandlerContext) {
        if let gate = exchange.gate, let endpoint = exchange.endpoint { gate.recordResponse(status: head.status, endpoint: endpoint) }
        let next = exchange.tries.responseHead(status: head.status)
        guard next == .forwardResponse else { return act(on: next, exchange) }
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
        let session = ResponseFilterPhase.sessionHeader(exchange.sticky, cluster: exchange.cluster.id, endpoint: exchange.endpoint,
                                                        secure: scheme == "https")
        if !exchange.responseEdits.isEmpty || !exchange.corsHeaders.isEmpty || session != nil {
            FieldLines.edit(&out, from: fieldsStart) { fields in
                for edits in exchange.responseEdits { HeaderRules.apply(edits, to: &fields) }
                ResponseFilterPhase.addClientFields(cors: exchange.corsHeaders, session: session, to: &fields)
            }
        }
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

    func forwardBody(_ exchange: FastExchange, _ buffer: ByteBuffer, context: ChannelHandlerContext) {
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

    func upstreamClosed(error: (any Error)?) {
        guard let exchange, let context else { return }
        exchange.upstream = nil
        switch exchange.response {
        case .streaming(.untilClose):
            exchange.upstreamReusable = false
            complete(exchange, context: context)
        case .streaming, .awaitingHead:
            let next = exchange.tries.connectionClosed()
            exchange.gate?.connectionClosed(deciding: next, endpoint: exchange.endpoint)
            act(on: next, exchange, closeError: error)
        }
    }

    /// The response is complete: the backend connection goes back to the pool (if it stayed in step),
    /// the request is counted, and the next pipelined request, if any, is served.
    func complete(_ exchange: FastExchange, context: ChannelHandlerContext) {
        exchange.tries.finished()
        // A backend that answered before the whole body reached it expects the rest: out of step.
        if !exchange.requestBody.ended { exchange.upstreamReusable = false }
        if exchange.upstreamReusable, let upstream = exchange.upstream {
            exchange.upstream = nil
            loop.pool.release(upstream)
        } else {
            exchange.dropUpstream()
        }
        end(exchange, status: exchange.status, context: context)
    }

    /// The exchange is over: it is counted, and the connection is no longer busy.
    func settle(_ exchange: FastExchange, status: Int) {
        self.exchange = nil
        exchange.over()
        loop.record(exchange.record, RequestOutcome(status: status, client: downstream.clientAddress, bytesIn: exchange.requestBody.contentBytes,
                                                    bytesOut: exchange.bodyBytesSent,
                                                    tryStart: exchange.tryStart, endpoint: exchange.endpoint, retries: exchange.tries.retries))
        timers.answered(countingRequest: true)
    }

    func end(_ exchange: FastExchange, status: Int, context: ChannelHandlerContext) {
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
        guardConnection()
        if discarding == nil, inbound != nil { serveBuffered(context: context) } else if clientRead.releases() { context.read() }
    }

    // MARK: Failures

    /// The backend broke the exchange: before the response started the client gets a 502 naming why;
    /// after, the only honest signal left is to cut the connection.
    func backendBroke(_ exchange: FastExchange, _ why: String, context: ChannelHandlerContext) {
        exchange.upstreamReusable = false
        if case .streaming = exchange.response { return cutMidResponse(exchange, context: context) }
        fail(exchange, .badGateway, why)
    }

    func cutMidResponse(_ exchange: FastExchange, context: ChannelHandlerContext) {
        exchange.dropUpstream()
        settle(exchange, status: exchange.status)
        closing = true
        context.flush()
        context.close(promise: nil)
    }

    /// A gateway-made answer: the same `LocalAnswer` the general path writes.
    func fail(_ exchange: FastExchange, _ status: HTTPResponseStatus, _ message: String) {
        fail(exchange, LocalAnswer(status, message))
    }

    func fail(_ exchange: FastExchange, _ answer: LocalAnswer) {
        guard let context else { return }
        exchange.dropUpstream()
        if answer.closesConnection || LocalAnswer.closesConnection(continueOwed: exchange.owesContinue, bodyPending: !exchange.requestBody.ended) {
            exchange.keepAlive = false
        }
        context.write(wrapOutboundOut(.byteBuffer(answer.http1Bytes(keepAlive: exchange.keepAlive && !quiescing, allocator: context.channel.allocator))),
                      promise: nil)
        exchange.bodyBytesSent = answer.body.utf8.count
        end(exchange, status: Int(answer.status.code), context: context)
    }
}
