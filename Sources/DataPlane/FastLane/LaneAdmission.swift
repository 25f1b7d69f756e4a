import NIOCore
import NIOHTTP1
import RoutingTable
import Tracing

extension FastLaneHandler {
    /// What the lane does with a request it has scanned.
    enum Admission {
        /// To a backend, as bytes.
        case forward(FastExchange)
        /// The route's own answer (a redirect, a fixed status), an edge policy's refusal, or a
        /// backendRef that can take nothing (500, 503), in the general path's words.
        case answer(LocalAnswer, RequestRecord)
        /// An edge policy needs time (a sub-request, a slow hash): the request waits, unread past its head.
        case wait(LaneRequest, @Sendable (_ resume: @escaping @Sendable (EdgeDecision) -> Void) -> Void)
        /// To the general path, for good. Only ever decided before the first edge policy is asked.
        case leave
    }

    /// What admission knows of a request before its backend is chosen, kept while a policy decides.
    struct LaneRequest {
        let head: ScannedRequestHead
        var record: RequestRecord
        let route: CompiledRoute
        let host: String
        let path: Substring
        let query: Substring?
        let corsHeaders: [(String, String)]
        var nextGuard = 0
        var edgeEdits = EdgeEdits()
    }

    /// Routes the request and decides whether the lane may carry it.
    func admit(_ head: ScannedRequestHead, bytes: ByteBuffer, context: ChannelHandlerContext) -> Admission {
        let start = NIODeadline.now()
        let table = tables.current
        let host = routingHost(head.host)
        let (rawPath, query) = PathRules.split(head.target)
        guard case .success(let path) = PathNormalization.normalize(rawPath) else { return .leave }
        let view = RequestView(path: path, query: query, method: head.method) { name in
            bytes.withUnsafeReadableBytes { RequestHeadScanner.value(of: name, in: $0, head) }
        }
        guard case .matched(let route) = table.route(socket: downstream.socket, host: host, serverName: downstream.serverName, request: view),
              route.fastLaneCarries else { return .leave }

        var record = RequestRecord(table: table, method: head.method, start: start)
        record.route = route
        // The id is only needed as a String for the access log; otherwise it is written as bytes.
        record.requestID = head.requestID ?? (loop.accessLog == nil ? "" : RequestIdentity.newRequestID(loop: loop))
        if loop.accessLog != nil {
            record.host = host
            record.path = path
            record.tenantHeader = head.tenant
        }
        record.span = loop.tracing?.start(method: head.method, host: host, path: path, field: view.header)
        var corsHeaders: [(String, String)] = []
        switch CORSPhase.decide(route.cors, method: head.method, field: view.header) {
        case .answer(let local): return .answer(local, record)
        case .responseHeaders(let headers): corsHeaders = headers
        case .nothing: break
        }
        let request = LaneRequest(head: head, record: record, route: route, host: host, path: path, query: query, corsHeaders: corsHeaders)
        return checkPolicies(request, bytes: bytes, context: context)
    }

    /// The route's edge policies, by the general path's rules (`EdgeChecks`), from the next one not yet asked.
    func checkPolicies(_ request: LaneRequest, bytes: ByteBuffer, context: ChannelHandlerContext) -> Admission {
        var request = request
        let guards = request.record.table.edgeGuards(of: request.route)
        if request.nextGuard < guards.count {
            let head = request.head
            let edgeRequest = EdgeRequest(scheme: scheme, method: head.method, host: request.host, path: request.path, query: request.query,
                                          peerAddress: downstream.clientAddress,
                                          header: { name in bytes.withUnsafeReadableBytes { RequestHeadScanner.value(of: name, in: $0, head) } },
                                          headerValues: { name in bytes.withUnsafeReadableBytes { RequestHeadScanner.values(of: name, in: $0, head) } },
                                          routeKey: EdgeChecks.routeKey(request.route))
            if let stop = EdgeChecks.run(guards, edgeRequest, next: &request.nextGuard, edits: &request.edgeEdits) {
                return stopped(stop, request)
            }
        }
        return pickUpstream(request, bytes: bytes, context: context)
    }

    /// A deferred policy decided: on from the policy after it, or the refusal.
    func resumeAdmission(_ request: LaneRequest, after decision: EdgeDecision, bytes: ByteBuffer, context: ChannelHandlerContext) -> Admission {
        var request = request
        if let stop = EdgeChecks.resume(decision, edits: &request.edgeEdits) { return stopped(stop, request) }
        return checkPolicies(request, bytes: bytes, context: context)
    }

    private func stopped(_ stop: EdgeChecks.Stop, _ request: LaneRequest) -> Admission {
        switch stop {
        case .refused(let refusal):
            var record = request.record
            record.refusedBy = refusal.detail
            return .answer(EdgeChecks.answer(refusal), record)
        case .deferred(let start):
            return .wait(request, start)
        }
    }

    /// The general path's pick phase and request filters, on the bytes. Never leaves the lane: the
    /// policies may have been asked already (`CompiledRoute.fastLaneCarries` rules out what it could not carry).
    private func pickUpstream(_ request: LaneRequest, bytes: ByteBuffer, context: ChannelHandlerContext) -> Admission {
        let (head, route, table) = (request.head, request.route, request.record.table)
        var record = request.record
        if let own = PickUpstreamPhase.ownAnswer(route, scheme: scheme, host: request.host, path: request.path, query: request.query,
                                                 listenerPort: listenerPort) {
            return .answer(own, record)
        }
        guard case .forward(let choice) = route.action else { preconditionFailure("every other action has its own answer") }
        let (index, sticky) = PickUpstreamPhase.chooseTarget(choice, route: route, headerValues: { name in
            bytes.withUnsafeReadableBytes { RequestHeadScanner.values(of: name, in: $0, head) }
        }, table: table, loop: loop)
        let picked = choice.targets[index]
        record.backend = index
        record.backendName = picked.name
        if let refusal = PickUpstreamPhase.unusable(picked) { return .answer(refusal, record) }
        guard case .cluster(let cluster) = picked.target, !cluster.http2 else { preconditionFailure("fastLaneCarries admits HTTP/1 clusters only") }
        // Last, because it takes the breaker's request slot when there is one.
        let health = table.health(of: cluster)
        if let refusal = BackendGate.admit(health, cluster: cluster.id) { return .answer(refusal, record) }

        var upstreamPath = request.path
        if let pathRewrite = route.rewrite?.path {
            upstreamPath = Substring(PathRules.rewrite(request.path, with: pathRewrite, matchedPrefix: route.matchedPrefix))
        }
        let edge = request.edgeEdits
        let edits = route.requestHeaders == nil && picked.requestHeaders == nil && edge.setHeaders.isEmpty && edge.removeHeaders.isEmpty
            && route.hostRewrite == nil ? nil : { (fields: inout FieldLines) in
                // The general path's order: the route's filters, the backendRef's, what the policies vouch for, then URLRewrite's hostname.
                if let edits = route.requestHeaders { HeaderRules.apply(edits, to: &fields) }
                if let edits = picked.requestHeaders { HeaderRules.apply(edits, to: &fields) }
                EdgeChecks.apply(edge, to: &fields)
                if let edits = route.hostRewrite { HeaderRules.apply(edits, to: &fields) }
            }
        let upstream = upstreamRequest(head, bytes: bytes, path: upstreamPath, query: request.query, requestID: record.requestID,
                                       span: record.span, allocator: context.channel.allocator, edits: edits)
        let exchange = FastExchange(record: record, cluster: cluster, gate: health.map { BackendGate(health: $0, cluster: cluster.id, loop: loop) },
                                    sticky: sticky, corsHeaders: request.corsHeaders, request: upstream, requestBody: head.body,
                                    isHEAD: head.method == "HEAD", keepAlive: !head.closeRequested && !quiescing,
                                    responseEdits: [route.responseHeaders, picked.responseHeaders].compactMap { $0 })
        // The global limit, lowered by a BodySize policy, as the general path's RequestContext.bodyLimit.
        exchange.bodyLimit = [loop.limits.maxRequestBodyBytes, request.edgeEdits.maxRequestBody].compactMap { $0 }.min()
        exchange.owesContinue = head.expectsContinue
        return .forward(exchange)
    }

    /// Writes a local answer and counts it; the connection goes on with the next request (or closes
    /// when the client asked).
    func answer(_ answer: LocalAnswer, record: RequestRecord, keepAlive: Bool, context: ChannelHandlerContext) {
        let bytes = answer.http1Bytes(keepAlive: keepAlive, allocator: context.channel.allocator)
        loop.record(record, RequestOutcome(status: Int(answer.status.code), client: downstream.clientAddress, bytesOut: answer.body.utf8.count,
                                           tryStart: nil, endpoint: nil))
        timers.answered(countingRequest: true)
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.byteBuffer(bytes)), promise: nil)
            guardConnection()
        } else {
            closing = true
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.byteBuffer(bytes))).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// The request line with the normalised path, the client's fields minus the hop-by-hop ones,
    /// then the X-Forwarded-*, Forwarded, X-Request-Id and traceparent fields, as the general path
    /// writes them.
    /// Header filters (`edits`, nil when there are none) act on those fields last, through the general
    /// path's own `HeaderRules.apply`.
    func upstreamRequest(_ head: ScannedRequestHead, bytes: ByteBuffer, path: Substring, query: Substring?,
                         requestID: String, span: (any Span)?, allocator: ByteBufferAllocator, edits: ((inout FieldLines) -> Void)?) -> ByteBuffer {
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
        if !head.forwardedChain {
            ForwardedHeaders.appendFresh(to: &out, client: downstream.clientAddress, node: downstream.forwardedNode, host: head.host, proto: scheme)
        }
        if head.requestID == nil {
            out.writeStaticString("x-request-id: ")
            if requestID.isEmpty { RequestIdentity.writeNewRequestID(into: &out, loop: loop) } else { out.writeString(requestID) }
            out.writeStaticString("\r\n")
        }
        let traced = span.flatMap { span in loop.tracing.map { (span, $0) } }
        if traced == nil {
            out.writeStaticString("traceparent: ")
            RequestIdentity.writeTraceparent(given: head.traceparent, into: &out, loop: loop)
            out.writeStaticString("\r\n")
        }
        if head.forwardedChain || traced != nil {
            let (client, node, scheme) = (downstream.clientAddress, downstream.forwardedNode, scheme)
            FieldLines.edit(&out, from: fieldsStart) { fields in
                if head.forwardedChain { ForwardedHeaders.merge(into: &fields, client: client, node: node, host: head.host, proto: scheme) }
                if let (span, tracing) = traced { tracing.inject(span, into: &fields) }
                edits?(&fields)
            }
        } else if let edits {
            FieldLines.edit(&out, from: fieldsStart, edits)
        }
        out.writeStaticString("\r\n")
        return out
    }
}
