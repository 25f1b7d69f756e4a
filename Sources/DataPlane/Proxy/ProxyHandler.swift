import NIOCore
import NIOHTTP1
import Observability
import RoutingTable
import Tracing

/// The downstream side of one client connection. Runs the fixed request phases on the connection's
/// event loop: listener and route selection, request filters, backend choice, upstream exchange,
/// response filters, metrics. Bodies stream both ways with backpressure; nothing is buffered whole.
final class ProxyHandler: ChannelDuplexHandler, RemovableChannelHandler, UpstreamExchange {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    enum State {
        case idle
        /// Answered locally; the rest of the request body is read and dropped so keep-alive survives.
        case discarding
        case forwarding(Exchange)
        /// An edge policy is deciding (a password hash, a token signature, an auth service); the
        /// request's body waits in `EdgeWait.parts` and the client is not read meanwhile.
        case authorizing(EdgeWait)
    }

    private let listenerPort: Int
    /// "http" or "https": how the client reached us, for X-Forwarded-Proto and scheme-less redirects.
    let scheme: String
    let tables: TableStore
    let loop: EventLoopContext
    var context: ChannelHandlerContext?
    var state = State.idle
    private(set) var keepAlive = true
    /// An answer that ends the connection has been written.
    private var closing = false
    func keepAliveOff() { keepAlive = false }
    private var requestVersion = HTTPVersion.http1_1
    private var clientRead = HeldRead()
    private var upstreamNeedsFlush = false
    private(set) var clientAddress = ""
    /// The client as a Forwarded `for=` node, worked out once per connection.
    private(set) var forwardedNode = ""
    private var pipelined: [HTTPServerRequestPart] = []
    private var quiescing = false
    /// An Upgrade request was read: the HTTP/1 decoder has stopped parsing, so nothing more is read
    /// until the backend has either switched protocols (the bytes then belong to the tunnel) or
    /// refused (the connection then closes after the answer).
    private var upgradeRequested = false
    /// gRPC clients read errors from grpc-status, not from the HTTP status.
    private var requestIsGRPC = false

    /// HTTP/1 connections guard themselves against slow and idle clients; HTTP/2 streams leave that
    /// to the connection.
    private let guardsConnection: Bool
    private var connectionGuard: Scheduled<Void>?
    /// When the connection started waiting for its next request head, and when bytes of that head
    /// first arrived (nil until they do).
    private var waitingSince = NIODeadline.now()
    private var headStartedAt: NIODeadline?
    private var headSeenInThisRead = false
    private var requestsSeen = 0
    private(set) var requestBodyBytes = 0
    /// The global body limit, lowered by a BodySize policy on the request's route.
    private var requestBodyLimit: Int?
    private(set) var responseBytes = 0

    init(listenerPort: Int, scheme: String, tables: TableStore, loop: EventLoopContext, guardsConnection: Bool = false) {
        self.guardsConnection = guardsConnection
        self.listenerPort = listenerPort
        self.scheme = scheme
        self.tables = tables
        self.loop = loop
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        clientAddress = context.channel.remoteAddress?.ipAddress ?? ""
        forwardedNode = ForwardedHeaders.node(client: clientAddress)
        // HTTP/1 handlers are added once the first bytes have told the protocol: already active.
        if context.channel.isActive { becameActive(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelActive(context: ChannelHandlerContext) {
        becameActive(context: context)
        context.fireChannelActive()
    }

    private var counted = false

    private func becameActive(context: ChannelHandlerContext) {
        guard !counted else { return }
        counted = true
        loop.metrics.gauges.activeConnections.increment()
        if guardsConnection { startConnectionGuard(context: context) }
    }

    /// One cheap periodic check per connection rather than a timer per request: closes a connection
    /// whose request head is not complete within the header timeout of its first byte (408), or that
    /// waited for a request longer than allowed (the header timeout before the first request, the
    /// idle timeout between requests).
    private func startConnectionGuard(context: ChannelHandlerContext) {
        let shortest = min(loop.limits.headerTimeout, loop.limits.idleTimeout)
        let interval = TimeAmount.nanoseconds(min(max(shortest.nanoseconds / 10, 50_000_000), 1_000_000_000))
        waitingSince = .now()
        armConnectionGuard(every: interval, on: context.eventLoop)
    }

    private func armConnectionGuard(every interval: TimeAmount, on eventLoop: any EventLoop) {
        connectionGuard = eventLoop.assumeIsolated().scheduleTask(in: interval) {
            guard let context = self.context else { return }
            if self.checkConnectionGuard(context: context) { self.armConnectionGuard(every: interval, on: eventLoop) }
        }
    }

    /// False once the connection has been closed for dawdling.
    private func checkConnectionGuard(context: ChannelHandlerContext) -> Bool {
        guard awaitingHead else { return true }
        let limits = loop.limits, now = NIODeadline.now()
        if let started = headStartedAt, now - started >= limits.headerTimeout {
            keepAlive = false
            let record = RequestRecord(table: tables.current, method: "OTHER", start: started)
            respondLocally(.requestTimeout, "request head not received within \(TimeoutMessages.duration(Int(limits.headerTimeout.nanoseconds / 1_000_000)))",
                           record: record, requestEnded: true)
            return false
        }
        if headStartedAt == nil, now - waitingSince >= (requestsSeen == 0 ? limits.headerTimeout : limits.idleTimeout) {
            context.close(promise: nil)
            return false
        }
        return true
    }

    private var awaitingHead: Bool {
        guard case .idle = state, !fastLaneBusy else { return false }
        return pipelined.isEmpty && !upgradeRequested
    }

    /// The fast lane in front is serving a request on this connection: the idle and header timeouts
    /// wait. When it has answered, the connection is idle from then on.
    private var fastLaneBusy = false
    func fastLane(busy: Bool) {
        fastLaneBusy = busy
        if !busy {
            requestsSeen += 1
            waitingSince = .now()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if counted { loop.metrics.gauges.activeConnections.decrement() }
        counted = false
        connectionGuard?.cancel()
        if case .forwarding(let exchange) = state {
            // The client left mid-exchange: the backend connection is in an unknown state.
            exchange.cancelTimers()
            for mirror in exchange.mirrors where !exchange.requestEnded { mirror.abandon() }
            exchange.dropConnection()
        }
        state = .idle
        context.fireChannelInactive()
    }

    /// A request llhttp cannot parse gets a 400 naming the problem (unless a response is already under
    /// way) and the connection is closed: after a framing error nothing later on it can be trusted.
    /// Done here rather than by NIO's HTTPServerProtocolErrorHandler to keep a handler off the hot path.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        var responding = false
        if case .forwarding(let exchange) = state {
            responding = exchange.responseStarted
            exchange.cancelTimers()
            for mirror in exchange.mirrors { mirror.abandon() }
            exchange.dropConnection()
            state = .idle
        }
        if case .authorizing = state { state = .idle }
        if let parserError = error as? HTTPParserError, !responding {
            keepAlive = false
            let record = RequestRecord(table: tables.current, method: "OTHER", start: .now())
            // Oversized heads get the status that names the limit (as Envoy does); the rest is a 400.
            let status: HTTPResponseStatus = parserError == .headerOverflow ? .requestHeaderFieldsTooLarge : .badRequest
            respondLocally(status, "malformed HTTP request: \(error)", record: record, requestEnded: true)
        } else {
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if case .head = part { headSeenInThisRead = true }
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
    func drainPipelined() {
        guard let context else { return }
        while let part = pipelined.first, !isAnswering(before: part) {
            pipelined.removeFirst()
            handle(part, context: context)
        }
        // Parts handled here came from no read, so no read-complete will flush them to the backend.
        flushUpstream()
        if pipelined.isEmpty { resumeClientReads() }
    }

    private func flushUpstream() {
        if upstreamNeedsFlush, case .forwarding(let exchange) = state, let connection = exchange.connection {
            connection.channel.flush()
        }
        upstreamNeedsFlush = false
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else { return context.fireUserInboundEventTriggered(event) }
        // Draining: finish the request in flight, then close; an idle connection closes now.
        quiescing = true
        keepAlive = false
        if case .idle = state, pipelined.isEmpty { context.close(promise: nil) }
    }

    func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        // After an answer that closes the connection nothing more is read from it: a pipelined request
        // behind a refused one must never reach a backend.
        guard !closing else { return }
        switch part {
        case .head(let head):
            begin(head, context: context)
        case .body(let buffer):
            if case .authorizing(let wait) = state { return wait.parts.append(part) }
            requestBodyBytes += buffer.readableBytes
            if let limit = requestBodyLimit, requestBodyBytes > limit { return bodyTooLarge(limit) }
            guard case .forwarding(let exchange) = state else { return }
            sendUpstream(.body(.byteBuffer(buffer)), exchange: exchange)
        case .end(let trailers):
            switch state {
            case .idle: break
            case .discarding: state = .idle
            case .authorizing(let wait): wait.parts.append(part)
            case .forwarding(let exchange):
                exchange.requestEnded = true
                sendUpstream(.end(trailers), exchange: exchange)
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Bytes arrived that did not complete a head: the next request has started arriving.
        if guardsConnection, !headSeenInThisRead, headStartedAt == nil, awaitingHead { headStartedAt = .now() }
        headSeenInThisRead = false
        flushUpstream()
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
        case .forwarding(let exchange) where !exchange.requestEnded: return exchange.connection?.channel.isWritable ?? false
        case .idle, .discarding, .forwarding: return true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, case .forwarding(let exchange) = state {
            exchange.connection?.handler.resumeReading()
        }
        context.fireChannelWritabilityChanged()
    }

    func resumeClientReads() {
        if let context, clientRead.releases() { context.read() }
    }

    // MARK: Request phases

    private func begin(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let start = NIODeadline.now()
        headStartedAt = nil
        requestsSeen += 1
        requestBodyBytes = 0
        requestBodyLimit = loop.limits.maxRequestBodyBytes
        responseBytes = 0
        // An HTTP/2 stream ends with its response; the connection's life is NIOHTTP2's business.
        keepAlive = (head.version.major == 2 || head.isKeepAlive) && !quiescing
        requestVersion = head.version
        requestIsGRPC = head.version.major == 2 && (head.headers.first(name: "content-type")?.hasPrefix("application/grpc") ?? false)
        let upgrade = head.version == .http1_1 ? HeaderRules.upgradeRequest(head.headers) : nil
        if upgrade != nil {
            upgradeRequested = true
            keepAlive = false
        }
        let method = head.method.rawValue
        let table = tables.current
        var labels = RequestRecord(table: table, method: method, start: start)

        if let (status, why) = limitExceeded(head) {
            keepAlive = false
            return respondLocally(status, why, record: labels)
        }

        if let why = HeaderRules.framingProblem(head) {
            // Ambiguous framing or authority: answered and closed, so nothing behind it is trusted.
            keepAlive = false
            return respondLocally(.badRequest, why, record: labels)
        }
        let hostValue = head.headers.first(name: "host")
        let host = routingHost(hostValue ?? "")
        let (rawPath, query) = PathRules.split(head.uri)
        labels.requestID = RequestIdentity.requestID(head.headers, loop: loop)
        if loop.accessLog != nil {
            labels.host = host
            labels.path = rawPath
            labels.tenantHeader = head.headers.first(name: "x-tenant")
        }
        let path: Substring
        switch PathNormalization.normalize(rawPath) {
        case .success(let normalized): path = normalized
        case .failure(let refusal):
            keepAlive = false
            return respondLocally(.badRequest, "\(refusal.reason): \(rawPath)", record: labels)
        }
        if loop.accessLog != nil { labels.path = path }
        labels.span = loop.tracing?.start(head, host: host, path: path)
        let headers = head.headers
        let view = RequestView(path: path, query: query, method: method, header: { headers.first(name: $0) })

        let route: CompiledRoute
        switch table.route(port: listenerPort, host: host, request: view) {
        case .noListener:
            return respondLocally(.notFound, "no listener on port \(listenerPort) accepts host \"\(host)\"", record: labels)
        case .noRoute:
            return respondLocally(.notFound, "no route matches host \"\(host)\" and path \"\(path)\"", record: labels)
        case .matched(let matched):
            route = matched
        }
        labels.route = route

        var corsHeaders: [(String, String)] = []
        if let cors = route.cors, let origin = headers.first(name: "origin") {
            let preflight = head.method == .OPTIONS ? headers.first(name: "access-control-request-method") : nil
            if !cors.allows(origin: origin) {
                // A browser would refuse the answer anyway; saying so here is clearer than a backend 405.
                if preflight != nil { return respondLocally(.forbidden, "CORS: origin \(origin) is not allowed on this route", record: labels) }
            } else if let preflight {
                let allowed = cors.preflightHeaders(origin: origin, requestedMethod: preflight,
                                                    requestedHeaders: headers.first(name: "access-control-request-headers"))
                return respondLocally(.ok, "CORS preflight allowed", extraHeaders: allowed, record: labels)
            } else {
                corsHeaders = cors.responseHeaders(origin: origin)
            }
        }

        if route.edgeGuards.isEmpty {
            return dispatch(head, route: route, labels: labels, host: host, path: path, query: query, upgrade: upgrade,
                            corsHeaders: corsHeaders, edits: nil, context: context)
        }
        let wait = EdgeWait(head: head, route: route, labels: labels, host: host, path: path, query: query, upgrade: upgrade, corsHeaders: corsHeaders)
        runEdgeGuards(wait, context: context)
    }

    /// Sends the request where its route says, once every edge policy has let it through.
    func dispatch(_ head: HTTPRequestHead, route: CompiledRoute, labels: RequestRecord, host: String, path: Substring, query: Substring?,
                  upgrade: String?, corsHeaders: [(String, String)], edits: EdgeEdits?, context: ChannelHandlerContext) {
        var labels = labels
        if let limit = edits?.maxRequestBody {
            requestBodyLimit = min(requestBodyLimit ?? limit, limit)
        }
        switch route.action {
        case .direct(let status, let reason):
            respondLocally(HTTPResponseStatus(statusCode: status), reason, record: labels)
        case .redirect(let redirect):
            let location = RedirectRules.location(redirect, requestScheme: scheme, host: host, path: path, query: query,
                                                  listenerPort: listenerPort, matchedPrefix: route.matchedPrefix)
            respondLocally(HTTPResponseStatus(statusCode: redirect.statusCode), "redirecting to \(location)",
                           extraHeaders: [("location", location)], record: labels)
        case .forward(let choice):
            let (index, sticky) = chooseTarget(choice, route: route, headers: head.headers)
            let picked = choice.targets[index]
            labels.backend = index
            labels.backendName = picked.name
            switch picked.target {
            case .invalid(let reason):
                respondLocally(.internalServerError, "backend \(picked.name) is invalid: \(reason)", record: labels)
            case .cluster(let cluster) where cluster.endpoints.isEmpty:
                respondLocally(.serviceUnavailable, "Service \(cluster.id) has no ready endpoints", record: labels)
            case .cluster(let cluster) where cluster.health?.acquireRequest() == false:
                respondLocally(.serviceUnavailable, "circuit breaker open: Service \(cluster.id) already has its maxRequests (\(cluster.health?.policy.maxRequests ?? 0)) in flight",
                               record: labels)
            case .cluster(let cluster):
                // h2c upgrades are not forwarded: the backend connection is archway's to choose.
                let tunnel = upgrade.flatMap { $0.lowercased() == "h2c" ? nil : $0 }
                let (upstreamHead, owesContinue) = upstreamRequest(head, route: route, path: path, query: query, upgrade: tunnel,
                                                                   http2: cluster.http2, requestID: labels.requestID, span: labels.span, edits: edits,
                                                                   backendEdits: picked.requestHeaders)
                let exchange = Exchange(requestHead: head, upstreamHead: upstreamHead, route: route, cluster: cluster,
                                        record: labels, owesContinue: owesContinue, upgrade: tunnel)
                exchange.requestSlot = cluster.health
                exchange.corsHeaders = corsHeaders
                exchange.backendResponseHeaders = picked.responseHeaders
                exchange.sticky = sticky
                exchange.pending.append(.head(upstreamHead))
                state = .forwarding(exchange)
                prepareResilience(exchange, start: labels.start, context: context)
                startMirrors(exchange)
                connect(exchange, allowReuse: true)
            }
        }
    }

    /// The request as the backend sees it: hop-by-hop headers gone, framing explicit, filters applied,
    /// X-Forwarded-* and Forwarded set.
    private func upstreamRequest(_ head: HTTPRequestHead, route: CompiledRoute, path: Substring, query: Substring?,
                                 upgrade: String?, http2: Bool, requestID: String, span: (any Span)?, edits: EdgeEdits?,
                                 backendEdits: HeaderEdits?) -> (HTTPRequestHead, owesContinue: Bool) {
        var headers = head.headers
        let chunked = headers["transfer-encoding"].contains { $0.containsToken("chunked") }
        let wantsTrailers = headers["te"].contains { $0.containsToken("trailers") }
        HeaderRules.stripHopByHop(&headers)
        // `TE: trailers` is the one TE HTTP/2 allows, and gRPC servers expect it.
        if http2 && wantsTrailers { headers.add(name: "te", value: "trailers") }
        if let upgrade {
            // Upgrade is hop-by-hop, so it is asked for again on the backend hop.
            headers.add(name: "connection", value: "upgrade")
            headers.add(name: "upgrade", value: upgrade)
        }
        if chunked && !headers.contains(name: "content-length") {
            headers.add(name: "transfer-encoding", value: "chunked")
        }
        let owesContinue = headers.first(name: "expect")?.lowercased() == "100-continue"
        if owesContinue { headers.remove(name: "expect") }

        let originalHost = head.headers.first(name: "host") ?? ""
        ForwardedHeaders.add(to: &headers, client: clientAddress, node: forwardedNode, host: originalHost, proto: scheme)
        // Set without replaceOrAdd's remove pass when the client sent none (the usual case); the
        // client's own X-Request-Id, when kept, is already there.
        if let sent = head.headers.first(name: "x-request-id") {
            if sent != requestID { headers.replaceOrAdd(name: "x-request-id", value: requestID) }
        } else {
            headers.add(name: "x-request-id", value: requestID)
        }
        if let span, let tracing = loop.tracing {
            tracing.inject(span, into: &headers)
        } else {
            let traceparent = RequestIdentity.traceparent(head.headers, loop: loop)
            if head.headers.contains(name: "traceparent") { headers.replaceOrAdd(name: "traceparent", value: traceparent) } else { headers.add(name: "traceparent", value: traceparent) }
        }
        if let edits = route.requestHeaders { HeaderRules.apply(edits, to: &headers) }
        if let backendEdits { HeaderRules.apply(backendEdits, to: &headers) }
        if let edits {
            // Last, so what an auth policy vouches for (user, client, claims) cannot be forged upstream.
            for name in edits.removeHeaders { headers.remove(name: name) }
            for (name, _) in edits.setHeaders { headers.remove(name: name) }
            for (name, value) in edits.setHeaders { headers.add(name: name, value: value) }
        }

        var newPath = String(path)
        if let rewrite = route.rewrite {
            if let hostname = rewrite.hostname { headers.replaceOrAdd(name: "host", value: hostname) }
            if let pathRewrite = rewrite.path {
                newPath = PathRules.rewrite(path, with: pathRewrite, matchedPrefix: route.matchedPrefix)
            }
        }
        let uri = query.map { newPath + "?" + $0 } ?? newPath
        return (HTTPRequestHead(version: .http1_1, method: head.method, uri: uri, headers: headers), owesContinue)
    }

    // MARK: Upstream exchange

    func connect(_ exchange: Exchange, allowReuse: Bool) {
        let endpoints = exchange.cluster.endpoints
        let health = exchange.cluster.health
        let next = loop.nextIndex(cluster: exchange.cluster, table: exchange.record.table, avoiding: exchange.lastEndpoint)
        var index = pinnedEndpointIndex(exchange) ?? next
        if let health {
            // Ejected endpoints and those failing health checks are skipped; with none left the
            // answer is an immediate 503 rather than a wait on a backend known to be down.
            guard let usable = (0..<endpoints.count).lazy.map({ (index + $0) % endpoints.count }).first(where: { health.isUsable(endpoints[$0]) }) else {
                return fail(exchange, .serviceUnavailable, "every endpoint of Service \(exchange.cluster.id) is ejected or failing its health checks")
            }
            index = usable
        }
        let endpoint = endpoints[index]
        exchange.lastEndpoint = endpoint
        exchange.tryStart = .now()
        exchange.connectAttempts += 1
        startTryTimer(exchange)
        if !exchange.cluster.http2, allowReuse,
           let idle = loop.pool.takeIdle(UpstreamKey(endpoint: endpoint, tls: exchange.cluster.tls?.poolKey)) {
            return attach(idle, reused: true, to: exchange)
        }
        if let health, let refusal = Self.reserveConnection(health) {
            return fail(exchange, .serviceUnavailable, "circuit breaker open: Service \(exchange.cluster.id) \(refusal)")
        }
        // The TLS context is only needed to open a connection, not to reuse one.
        let tls = exchange.cluster.tls == nil ? nil : tables.upstreamTLS(cluster: exchange.cluster.id)
        let connecting = exchange.cluster.http2 ? loop.pool.openStream(to: endpoint, tls: tls) : loop.pool.connect(endpoint, tls: tls)
        connecting.assumeIsolated().whenComplete { result in
            if let health {
                health.releasePending()
                switch result {
                case .success(let connection): connection.channel.closeFuture.whenComplete { _ in health.releaseConnection() }
                case .failure:
                    health.releaseConnection()
                    if health.record(.connectFailure, endpoint: endpoint) { self.loop.metrics.gauges.ejection(service: exchange.cluster.id) }
                }
            }
            guard case .forwarding(let current) = self.state, current === exchange else {
                // The client went away (or the request ended) while connecting.
                if case .success(let connection) = result { self.loop.pool.release(connection) }
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

    private func attach(_ connection: UpstreamConnection, reused: Bool, to exchange: Exchange) {
        exchange.connection = connection
        exchange.reusedConnection = reused
        connection.handler.exchange = self
        if exchange.owesContinue, let context {
            exchange.owesContinue = false
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: exchange.requestHead.version, status: .continue))), promise: nil)
        }
        for part in exchange.pending {
            if case .body = part { exchange.bodyForwarded = true }
            connection.channel.write(part, promise: nil)
        }
        exchange.pending.removeAll()
        connection.channel.flush()
        resumeClientReads()
    }

    private func sendUpstream(_ part: HTTPClientRequestPart, exchange: Exchange) {
        exchange.remember(part)
        for mirror in exchange.mirrors { mirror.send(part) }
        guard let connection = exchange.connection else {
            exchange.pending.append(part)
            return
        }
        if case .body = part { exchange.bodyForwarded = true }
        connection.channel.write(part, promise: nil)
        upstreamNeedsFlush = true
    }

    func upstreamReceived(_ part: HTTPClientResponsePart) {
        guard case .forwarding(let exchange) = state, let context else { return }
        switch part {
        case .head(let response):
            if response.status == .switchingProtocols, exchange.upgrade != nil {
                return switchProtocols(exchange, response: response, context: context)
            }
            if response.status.code < 200 { return }  // informational answers stay between archway and the backend
            if let health = exchange.cluster.health, let endpoint = exchange.lastEndpoint {
                if health.record(response.status.code >= 500 ? .serverError : .success, endpoint: endpoint) { loop.metrics.gauges.ejection(service: exchange.cluster.id) }
            }
            if let retry = exchange.route.retry, retry.codes.contains(Int(response.status.code)), canRetryAgain(exchange) {
                return retryExchange(exchange)
            }
            exchange.responseStarted = true
            exchange.status = Int(response.status.code)
            exchange.responseKeepAlive = response.isKeepAlive
            var headers = response.headers
            let hasLength = headers.contains(name: "content-length")
            HeaderRules.stripHopByHop(&headers)
            if let edits = exchange.route.responseHeaders { HeaderRules.apply(edits, to: &headers) }
            if let edits = exchange.backendResponseHeaders { HeaderRules.apply(edits, to: &headers) }
            for (name, value) in exchange.corsHeaders {
                if name == "vary" { headers.add(name: name, value: value) } else { headers.replaceOrAdd(name: name, value: value) }
            }
            if let session = sessionHeader(for: exchange) {
                // Added, not replaced: the backend's own cookies still reach the client.
                if session.name == "set-cookie" { headers.add(name: session.name, value: session.value) } else { headers.replaceOrAdd(name: session.name, value: session.value) }
            }
            if requestIsGRPC { exchange.grpcTrailers = HeaderRules.takeGRPCStatus(from: &headers) }
            if exchange.requestHead.version.isHTTP10OrOlder && !hasLength { keepAlive = false }
            if !keepAlive {
                headers.replaceOrAdd(name: "connection", value: "close")
            } else if exchange.requestHead.version.isHTTP10OrOlder {
                headers.replaceOrAdd(name: "connection", value: "keep-alive")
            }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: exchange.requestHead.version, status: response.status, headers: headers))), promise: nil)
        case .body(let buffer):
            guard exchange.responseStarted else { return }
            responseBytes += buffer.readableBytes
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        case .end(let trailers):
            guard exchange.responseStarted else { return }
            finish(exchange, trailers: trailers, context: context)
        }
    }

    func upstreamReadComplete() { context?.flush() }

    var downstreamIsWritable: Bool { context?.channel.isWritable ?? true }

    func upstreamWritabilityChanged(isWritable: Bool) {
        if isWritable { resumeClientReads() }
    }

    func upstreamClosed(error: (any Error)?) {
        guard case .forwarding(let exchange) = state, let context else { return }
        let retry = exchange.mayResendAfterStaleClose
        exchange.connection = nil
        if !exchange.responseStarted, !retry, let health = exchange.cluster.health, let endpoint = exchange.lastEndpoint {
            if health.record(.connectFailure, endpoint: endpoint) { loop.metrics.gauges.ejection(service: exchange.cluster.id) }
        }
        if !retry, !exchange.responseStarted, canRetryAgain(exchange) {
            retryExchange(exchange)
        } else if retry {
            // Replay on a fresh connection: only the head (and the end, if the client finished) went out.
            exchange.pending = [.head(exchange.upstreamHead)] + (exchange.requestEnded ? [.end(nil)] : [])
            connect(exchange, allowReuse: false)
        } else if !exchange.responseStarted {
            let why = error.map { "\($0)" } ?? "connection closed"
            fail(exchange, .badGateway, "backend \(exchange.cluster.id) failed before responding: \(why)")
        } else {
            cutMidResponse(exchange, context: context)
        }
    }

    /// After the response has started there is no status left to send: the honest signal is to cut
    /// the client connection short, as the backend's own failure would.
    func cutMidResponse(_ exchange: Exchange, context: ChannelHandlerContext) {
        exchange.cancelTimers()
        exchange.dropConnection()
        record(exchange.record, status: exchange.status, exchange: exchange)
        state = .idle
        context.close(promise: nil)
    }

    /// The backend accepted the Upgrade: the 101 goes to the client, then both connections drop their
    /// HTTP handlers and become the two ends of a byte tunnel. The surgery waits for the next tick so
    /// the decoders have finished the call that delivered the 101; bytes they hold by then are handed
    /// to the tunnel.
    private func switchProtocols(_ exchange: Exchange, response: HTTPResponseHead, context: ChannelHandlerContext) {
        guard let connection = exchange.connection else { return }
        exchange.cancelTimers()
        exchange.connection = nil
        connection.handler.exchange = nil
        state = .idle
        var headers = response.headers
        HeaderRules.stripHopByHop(&headers)
        headers.add(name: "connection", value: "upgrade")
        headers.add(name: "upgrade", value: response.headers.first(name: "upgrade") ?? exchange.upgrade ?? "")
        if let edits = exchange.route.responseHeaders { HeaderRules.apply(edits, to: &headers) }
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .switchingProtocols, headers: headers))), promise: nil)
        record(exchange.record, status: 101, exchange: exchange)
        upgradeRequested = false  // the tunnel's reads must pass
        let downstream = context.channel
        let gauges = loop.metrics.gauges
        context.eventLoop.assumeIsolated().execute {
            do {
                let (clientEnd, backendEnd) = TunnelHandler.pair(onClose: { gauges.activeConnections.decrement() })
                try downstream.pipeline.syncOperations.addHandler(clientEnd)
                try connection.channel.pipeline.syncOperations.addHandler(backendEnd)
                try HTTPPipelines.removeClientHandlers(from: connection.channel)
                try HTTPPipelines.removeServerHandlers(from: downstream, proxy: self)
            } catch {
                downstream.close(promise: nil)
                connection.channel.close(promise: nil)
            }
        }
    }

    private func finish(_ exchange: Exchange, trailers: HTTPHeaders?, context: ChannelHandlerContext) {
        exchange.cancelTimers()
        waitingSince = .now()
        record(exchange.record, status: exchange.status, exchange: exchange)
        if let connection = exchange.connection {
            if exchange.requestEnded && exchange.responseKeepAlive {
                exchange.connection = nil
                loop.pool.release(connection)
            } else {
                exchange.dropConnection()
            }
        }
        state = exchange.requestEnded ? .idle : .discarding
        let promise: EventLoopPromise<Void>? = keepAlive ? nil : context.eventLoop.makePromise()
        if !keepAlive { closing = true }
        context.writeAndFlush(wrapOutboundOut(.end(trailers ?? exchange.grpcTrailers)), promise: promise)
        if let promise {
            let channel = context.channel
            promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
        }
        drainPipelined()
        resumeClientReads()
    }

    func fail(_ exchange: Exchange, _ status: HTTPResponseStatus, _ message: String) {
        exchange.cancelTimers()
        exchange.dropConnection()
        state = .idle
        respondLocally(status, message, record: exchange.record, requestEnded: exchange.requestEnded)
        drainPipelined()
        resumeClientReads()
    }

    // MARK: Local answers

    func respondLocally(_ status: HTTPResponseStatus, _ message: String, extraHeaders: [(String, String)] = [],
                                record request: RequestRecord, requestEnded: Bool = false) {
        guard let context else { return }
        let body = message + "\n"
        responseBytes = requestIsGRPC ? 0 : body.utf8.count
        record(request, status: Int(status.code))
        waitingSince = .now()
        if !requestEnded { state = .discarding }
        if requestIsGRPC { return respondGRPC(status, message, context: context) }
        var headers = HTTPHeaders([("content-type", "text/plain; charset=utf-8"), ("content-length", String(body.utf8.count))])
        headers.add(contentsOf: extraHeaders)
        if !keepAlive { headers.add(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: requestVersion, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            closing = true
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// A gateway-made error for a gRPC call, as a trailers-only response: HTTP 200 with grpc-status
    /// mapped from the HTTP status the way gRPC's HTTP mapping does, and the reason in grpc-message.
    private func respondGRPC(_ status: HTTPResponseStatus, _ message: String, context: ChannelHandlerContext) {
        let code = switch status.code {
        case 400: 13
        case 401: 16
        case 403: 7
        case 404: 12
        case 429, 502, 503, 504: 14
        default: 2
        }
        let trailers = HTTPHeaders([("grpc-status", String(code)), ("grpc-message", message.addingGRPCPercentEncoding())])
        let head = HTTPResponseHead(version: requestVersion, status: .ok, headers: HTTPHeaders([("content-type", "application/grpc")]))
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(trailers)), promise: nil)
    }

    func record(_ request: RequestRecord, status: Int, exchange: Exchange? = nil) {
        loop.record(request, RequestOutcome(status: status, client: clientAddress, bytesIn: requestBodyBytes, bytesOut: responseBytes,
                                            tryStart: exchange?.tryStart, endpoint: exchange?.lastEndpoint, retries: exchange?.retries ?? 0))
    }
}

extension HTTPVersion {
    var isHTTP10OrOlder: Bool { major < 1 || (major == 1 && minor == 0) }
}

/// What the metrics (and later the access log) need to know about a request, gathered as it goes.
struct RequestRecord {
    let table: CompiledTable
    let method: String
    let start: NIODeadline
    var route: CompiledRoute?
    var backend = -1
    var backendName = ""
    /// The server span, when requests are traced.
    var span: (any Span)?
    /// For the access log.
    var requestID = ""
    var host = ""
    var path: Substring = ""
    var tenantHeader: String?
    /// The edge policy that answered instead of the backend, and why ("BasicAuth ns/name: ...").
    var refusedBy: String?

    var metricsKey: RequestMetrics.Key {
        RequestMetrics.Key(route: route.map(ObjectIdentifier.init), backend: backend, method: method)
    }

    func metricLabels() -> GatewayMetrics.RequestLabels {
        GatewayMetrics.RequestLabels(gateway: route?.origin.gatewayName ?? "", namespace: route?.origin.namespace ?? "",
                                     route: route?.origin.name ?? "", backend: backendName, method: method)
    }

    init(table: CompiledTable, method: String, start: NIODeadline) {
        self.table = table
        self.method = method
        self.start = start
    }
}

extension String {
    /// grpc-message is percent-encoded: everything outside printable ASCII, and '%' itself.
    func addingGRPCPercentEncoding() -> String {
        var result = ""
        for byte in utf8 {
            if byte >= 0x20 && byte <= 0x7e && byte != UInt8(ascii: "%") {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                result += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return result
    }

    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
