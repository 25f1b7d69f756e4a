import NIOCore
import NIOHTTP1
import RoutingTable

extension FastLaneHandler {
    /// What the lane does with a request it has scanned.
    enum Admission {
        /// To a backend, as bytes.
        case forward(FastExchange)
        /// The route's own answer (a redirect, a fixed status) or a backendRef that can take nothing
        /// (500, 503), in the general path's words (`PickUpstreamPhase`).
        case answer(LocalAnswer, RequestRecord)
        /// To the general path, for good.
        case leave
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
        guard case .matched(let route) = table.route(port: listenerPort, host: host, request: view), route.fastLaneCarries else { return .leave }

        var record = RequestRecord(table: table, method: head.method, start: start)
        record.route = route
        // The id is only needed as a String for the access log; otherwise it is written as bytes.
        record.requestID = head.requestID ?? (loop.accessLog == nil ? "" : RequestIdentity.newRequestID(loop: loop))
        if loop.accessLog != nil {
            record.host = host
            record.path = path
            record.tenantHeader = head.tenant
        }
        // A local answer leaves no body to drop on the lane: those requests take the general path.
        func answer(_ local: LocalAnswer) -> Admission { head.body == .none ? .answer(local, record) : .leave }
        var corsHeaders: [(String, String)] = []
        switch CORSPhase.decide(route.cors, method: head.method, field: view.header) {
        case .answer(let local): return answer(local)
        case .responseHeaders(let headers): corsHeaders = headers
        case .nothing: break
        }
        if let own = PickUpstreamPhase.ownAnswer(route, scheme: scheme, host: host, path: path, query: query, listenerPort: listenerPort) {
            return answer(own)
        }
        guard case .forward(let choice) = route.action else { return .leave }
        let (index, sticky) = PickUpstreamPhase.chooseTarget(choice, route: route, headerValues: { name in
            bytes.withUnsafeReadableBytes { RequestHeadScanner.values(of: name, in: $0, head) }
        }, table: table, loop: loop)
        let picked = choice.targets[index]
        record.backend = index
        record.backendName = picked.name
        if let refusal = PickUpstreamPhase.unusable(picked) { return answer(refusal) }
        guard case .cluster(let cluster) = picked.target, !cluster.http2 else { return .leave }
        // Last, because it takes the breaker's request slot when there is one: nothing leaves the lane after.
        let health = table.health(of: cluster)
        if let refusal = BackendGate.admit(health, cluster: cluster.id) { return answer(refusal) }

        var upstreamPath = path
        if let pathRewrite = route.rewrite?.path {
            upstreamPath = Substring(PathRules.rewrite(path, with: pathRewrite, matchedPrefix: route.matchedPrefix))
        }
        // The general path's order: the route's filters, the backendRef's, then URLRewrite's hostname.
        let requestEdits = [route.requestHeaders, picked.requestHeaders, route.hostRewrite].compactMap { $0 }
        let request = upstreamRequest(head, bytes: bytes, path: upstreamPath, query: query, requestID: record.requestID, edits: requestEdits,
                                      allocator: context.channel.allocator)
        return .forward(FastExchange(record: record, cluster: cluster, gate: health.map { BackendGate(health: $0, cluster: cluster.id, loop: loop) },
                                     sticky: sticky, corsHeaders: corsHeaders, request: request, requestBody: head.body, isHEAD: head.method == "HEAD",
                                     keepAlive: !head.closeRequested && !quiescing,
                                     responseEdits: [route.responseHeaders, picked.responseHeaders].compactMap { $0 }))
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
    /// Header filters (`edits`, the route's then the backendRef's) act on those fields last, through
    /// the general path's own `HeaderRules.apply`.
    func upstreamRequest(_ head: ScannedRequestHead, bytes: ByteBuffer, path: Substring, query: Substring?,
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
        let client = downstream.clientAddress
        out.writeStaticString("x-forwarded-for: ")
        out.writeString(client)
        out.writeStaticString("\r\nx-forwarded-proto: ")
        out.writeString(scheme)
        out.writeStaticString("\r\nx-forwarded-host: ")
        out.writeString(head.host)
        out.writeStaticString("\r\nforwarded: for=")
        out.writeString(downstream.forwardedNode)
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
}
