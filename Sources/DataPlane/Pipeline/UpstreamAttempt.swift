import NIOCore
import NIOHTTP1
import RoutingTable

/// The forward phase: one request's way to a backend and back. It connects (or reuses a pooled
/// connection), sends the request as the client's bytes arrive, passes the response on through the
/// response filters, and applies the route's resilience around that (timeouts, retries, mirrors, the
/// circuit breaker and outlier detection, in `UpstreamResilience`). Confined to the client
/// connection's event loop; the client connection only hears results through `ClientConnection`.
final class UpstreamAttempt: UpstreamExchange {
    /// The request as the phases left it; its body and response counters go on counting here.
    var request: RequestContext
    let plan: ForwardPlan
    let client: any ClientConnection
    let loop: EventLoopContext
    let tables: TableStore
    let downstream: Downstream
    var cluster: CompiledCluster { plan.backend.cluster }
    /// The cluster's BackendTrafficPolicy at work, when it has one.
    var gate: BackendGate? { plan.backend.health.map { BackendGate(health: $0, cluster: cluster.id, loop: loop) } }

    var owesContinue: Bool
    var connection: (any UpstreamLink)?
    /// Every decision about trying again, timing out and the breaker's request slot.
    var tries: UpstreamTries
    /// Parts received from the client before the backend connection was ready.
    var pending: [HTTPClientRequestPart]
    /// Parts written to the backend since the client's last read completed, not yet flushed.
    private var needsFlush = false
    private(set) var requestEnded = false
    var responseStarted: Bool { tries.responseStarted }
    private(set) var status = 0
    private var grpcTrailers: HTTPHeaders?
    /// Once the attempt has answered, failed, been cut or abandoned, late timers and connects find it
    /// over and leave it alone.
    var isOver: Bool { tries.isOver }

    /// timeouts.request (from the request's start) and timeouts.backendRequest (from each try's start).
    var requestTimer: Scheduled<Void>?
    var tryTimer: Scheduled<Void>?
    /// The wait before a retry: cancelled with the attempt, so a client that leaves meanwhile gives its
    /// circuit-breaker slot back at once rather than when the wait would have ended.
    var backoffTimer: Scheduled<Void>?
    /// The request's body and end as sent so far, kept while a retry could need them; nil once the
    /// body outgrew the replay buffer (no retry is possible after that).
    var replay: [HTTPClientRequestPart]?
    private var replayBytes = 0
    static let replayLimit = 64 * 1024
    private(set) var lastEndpoint: Endpoint?
    /// When the current try began (its connect), and how many retries came before it.
    private(set) var tryStart: NIODeadline?
    var retries: Int { tries.retries }
    var mirrors: [MirrorRequest] = []
    /// The circuit breaker's maxRequests slot the pick phase took; given back when the attempt ends.
    private let requestSlot: ClusterHealth?

    init(request: RequestContext, plan: ForwardPlan, client: any ClientConnection, downstream: Downstream, loop: EventLoopContext,
         tables: TableStore) {
        self.request = request
        self.plan = plan
        self.client = client
        self.downstream = downstream
        self.loop = loop
        self.tables = tables
        owesContinue = plan.owesContinue
        pending = [.head(plan.head)]
        requestSlot = plan.backend.health
        tries = UpstreamTries(method: request.head.method.rawValue, retry: plan.route.retry, endpointCount: plan.backend.cluster.endpoints.count,
                              holdsRequestSlot: requestSlot != nil)
        if plan.route.retry != nil { replay = [] }
    }

    func start() {
        prepareResilience()
        startMirrors()
        connect(allowReuse: true)
    }

    // MARK: Request, from the client

    func send(_ part: HTTPClientRequestPart) {
        if case .end = part { requestEnded = true }
        remember(part)
        for mirror in mirrors { mirror.send(part) }
        guard let connection else {
            pending.append(part)
            return
        }
        if case .body = part { tries.sentBody() }
        connection.write(part)
        needsFlush = true
    }

    /// The client's read is complete: what it brought goes to the backend in one flush.
    func flushRequest() {
        if needsFlush, let connection { connection.flush() }
        needsFlush = false
    }

    /// Request backpressure: the client is read only while the backend connection takes bytes.
    var takesRequestBytes: Bool {
        requestEnded || (connection?.isWritable ?? false)
    }

    /// Response backpressure: the client can take bytes again, so the backend is read again.
    func clientBecameWritable() { connection?.resumeReading() }

    private func remember(_ part: HTTPClientRequestPart) {
        guard replay != nil else { return }
        if case .body(.byteBuffer(let buffer)) = part { replayBytes += buffer.readableBytes }
        if replayBytes > Self.replayLimit {
            replay = nil
            tries.replayOverflowed()
        } else {
            replay!.append(part)
        }
    }

    /// A piece of the request body, counted against the request's limit. A body without a (small
    /// enough) Content-Length that crosses it while streaming gets a 413 if the backend has not
    /// answered yet, and the connection closes either way (the rest is unread).
    func sendBody(_ buffer: ByteBuffer) {
        request.bodyBytes += buffer.readableBytes
        guard let limit = request.bodyLimit, request.bodyBytes > limit else { return send(.body(.byteBuffer(buffer))) }
        if responseStarted { return cut() }
        fail(.bodyOverLimit(limit))
    }

    // MARK: Connection to the backend

    func connect(allowReuse: Bool) {
        let cluster = self.cluster
        let gate = self.gate
        guard let endpoint = loop.endpointForTry(cluster, table: request.record.table, tries: tries, sticky: plan.backend.sticky, gate: gate,
                                                 last: lastEndpoint) else {
            return fail(gate!.noneUsable)
        }
        lastEndpoint = endpoint
        tryStart = .now()
        tries.connecting()
        startTryTimer()
        if !cluster.http2, allowReuse, let idle = loop.pool.idleLink(UpstreamKey(endpoint: endpoint, tls: cluster.tls?.poolKey)) {
            return attach(idle, reused: true)
        }
        if let refusal = gate?.reserveConnection() { return fail(refusal) }
        let tls = tables.upstreamTLS(for: cluster)
        loop.pool.openLink(to: endpoint, http2: cluster.http2, tls: tls).assumeIsolated().whenComplete { result in
            gate?.connectFinished(try? result.get().channel, endpoint: endpoint)
            guard !self.isOver else {
                // The client went away (or the request was answered) while connecting: a new HTTP/1
                // connection that carried nothing goes to the pool.
                if case .success(let connection) = result { connection.release() }
                return
            }
            switch result {
            case .success(let connection):
                self.attach(connection, reused: false)
            case .failure(let error):
                self.act(on: self.tries.connectFailed(), connectError: (endpoint, error))
            }
        }
    }


    private func attach(_ connection: any UpstreamLink, reused: Bool) {
        self.connection = connection
        tries.attached(reused: reused)
        connection.attach(self)
        if owesContinue {
            owesContinue = false
            client.sendContinue(version: request.head.version)
        }
        for part in pending {
            if case .body = part { tries.sentBody() }
            connection.write(part)
        }
        pending.removeAll()
        connection.flush()
        client.backendTakesBytes()
    }

    /// Detaches and closes the backend connection of the current try, if any: its state (a response
    /// half read, a request half sent) makes it unfit for the pool.
    func dropConnection() {
        guard let connection else { return }
        self.connection = nil
        connection.close()
    }


    // MARK: Response, from the backend

    func upstreamReceived(_ part: HTTPClientResponsePart) {
        guard !isOver else { return }
        switch part {
        case .head(let response):
            tries.responseBytesArrived()
            if response.status == .switchingProtocols, plan.upgrade != nil { return switchProtocols(response) }
            if response.status.code < 200 { return }  // informational answers stay between archway and the backend
            if let gate, let endpoint = lastEndpoint { gate.recordResponse(status: Int(response.status.code), endpoint: endpoint) }
            let next = tries.responseHead(status: Int(response.status.code))
            guard next == .forwardResponse else { return act(on: next) }
            status = Int(response.status.code)
            let filtered = ResponseFilterPhase.run(response, request: request, plan: plan, endpoint: lastEndpoint,
                                                      secure: downstream.scheme == "https")
            grpcTrailers = filtered.grpcTrailers
            client.startResponse(HTTPResponseHead(version: request.head.version, status: response.status, headers: filtered.headers),
                                 framedByLength: response.headers.contains(name: "content-length"))
        case .body(let buffer):
            guard responseStarted else { return }
            request.responseBytes += buffer.readableBytes
            client.sendResponseBody(buffer)
        case .end(let trailers):
            guard responseStarted else { return }
            finish(trailers: trailers)
        }
    }

    func upstreamReadComplete() { client.flushResponse() }

    var downstreamIsWritable: Bool { client.takesResponseBytes }

    func upstreamWritabilityChanged(isWritable: Bool) {
        if isWritable { client.backendTakesBytes() }
    }

    func upstreamMalformed(_ why: String) {
        guard !isOver else { return }
        connection = nil
        tries.responseBytesArrived()
        if responseStarted { return cut() }
        fail(LocalAnswer(.badGateway, "backend \(cluster.id) sent an invalid response: \(why)"))
    }

    func upstreamClosed(error: (any Error)?) {
        guard !isOver else { return }
        connection = nil
        let next = tries.connectionClosed()
        gate?.connectionClosed(deciding: next, endpoint: lastEndpoint)
        act(on: next, closeError: error)
    }

    /// Carries out what `UpstreamTries` decided.
    func act(on next: UpstreamTries.Next, connectError: (Endpoint, any Error)? = nil, closeError: (any Error)? = nil) {
        switch next {
        case .nothing, .forwardResponse:
            break
        case .connectAgain:
            connect(allowReuse: false)
        case .resend:
            // Replay on a fresh connection: only the head (and the end, if the client finished) went out.
            pending = [.head(plan.head)] + (requestEnded ? [.end(nil)] : [])
            connect(allowReuse: false)
        case .retry(let backoffMillis):
            retry(after: backoffMillis)
        case .connect:
            backoffTimer = nil
            connect(allowReuse: true)
        case .fail(let failure):
            fail(ConnectTries.answer(failure, cluster: cluster.id, route: plan.route, connectError: connectError, closeError: closeError))
        case .cut:
            cut()
        }
    }

    // MARK: Endings

    private func finish(trailers: HTTPHeaders?) {
        tries.finished()
        end()
        let ending = trailers ?? grpcTrailers
        log(status: status, grpcStatus: ending?.first(name: "grpc-status").flatMap { Int($0) })
        if let connection {
            // Whether the backend can take another request is the link's to judge (HTTP1UpstreamLink
            // reads it from the response head; a stream is never reused).
            if requestEnded {
                self.connection = nil
                connection.release()
            } else {
                dropConnection()
            }
        }
        client.endResponse(self, trailers: ending)
    }

    /// Before the response has started: the client gets the answer instead.
    func fail(_ answer: LocalAnswer) {
        tries.abandoned()
        end()
        dropConnection()
        client.answerInstead(self, answer)
    }

    /// After the response has started there is no status left to send: the honest signal is to cut
    /// the client connection short, as the backend's own failure would.
    func cut() {
        tries.abandoned()
        end()
        dropConnection()
        log(status: status)
        client.cutResponse()
    }

    /// The client left, or its connection failed: the backend connection is in an unknown state.
    /// Mirrors that have the whole request may still finish when the client merely left.
    func abandon(mirrorsWithWholeRequestFinish: Bool) {
        tries.abandoned()
        end()
        for mirror in mirrors where !(mirrorsWithWholeRequestFinish && requestEnded) { mirror.abandon() }
        dropConnection()
    }

    /// The backend accepted the Upgrade: the 101 goes to the client and the two connections become
    /// the ends of a byte tunnel, which the client connection sets up.
    private func switchProtocols(_ response: HTTPResponseHead) {
        guard let connection else { return }
        tries.finished()
        end()
        self.connection = nil
        guard let backend = connection.handOverForTunnel() else {
            connection.close()
            return cut()
        }
        log(status: 101)
        client.switchProtocols(ResponseFilterPhase.switchingProtocols(response, plan: plan), backend: backend.channel, firstBytes: backend.firstBytes)
    }

    private func end() {
        cancelTimers()
        // A client that leaves during a back-off gives its slot back now, not when the wait ends.
        if tries.releasesRequestSlot() { requestSlot?.releaseRequest() }
    }

    private func log(status: Int, grpcStatus: Int? = nil) {
        LogPhase.run(request.record, status: status, bytesIn: request.bodyBytes, bytesOut: request.responseBytes, client: downstream.clientAddress,
                     attempt: self, grpcStatus: grpcStatus, loop: loop)
    }
}

/// What an upstream attempt needs of the client connection its request came on.
protocol ClientConnection: AnyObject {
    /// While false, the backend is not read (response backpressure).
    var takesResponseBytes: Bool { get }
    /// The backend takes bytes (again): the client's may be read.
    func backendTakesBytes()
    /// `Expect: 100-continue` is answered once a backend is connected.
    func sendContinue(version: HTTPVersion)
    func startResponse(_ head: HTTPResponseHead, framedByLength: Bool)
    func sendResponseBody(_ buffer: ByteBuffer)
    func flushResponse()
    func endResponse(_ attempt: UpstreamAttempt, trailers: HTTPHeaders?)
    /// The attempt failed before a response started.
    func answerInstead(_ attempt: UpstreamAttempt, _ answer: LocalAnswer)
    /// The attempt failed after the response started.
    func cutResponse()
    /// `firstBytes`: what the backend sent after its 101, the tunnel's first bytes towards the client.
    func switchProtocols(_ head: HTTPResponseHead, backend: any Channel, firstBytes: ByteBuffer?)
}
