import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

/// The HTTP/1 fast lane over real sockets: what a backend and a client see must not depend on which
/// path carried the request, and a connection must keep its order when it leaves the lane.
@Suite(.timeLimit(.minutes(2)))
struct FastLaneTests {
    /// Header filters on both hops (identity fields among their targets) and timeouts: what the
    /// playbook's routes carry, and what the lane now carries too.
    static let filteredRule = """
        filters:
        - type: RequestHeaderModifier
          requestHeaderModifier:
            set: [{name: X-Env, value: prod}, {name: X-Forwarded-Proto, value: https}]
            add: [{name: Accept, value: text/html}, {name: X-New, value: "1"}]
            remove: [User-Agent]
        - type: ResponseHeaderModifier
          responseHeaderModifier: {set: [{name: X-Kept, value: "3"}], add: [{name: X-Served-By, value: archway}], remove: [Proxy-Authenticate]}
        timeouts: {request: 30s, backendRequest: 10s}
        """

    /// The same raw request through a gateway with the lane and one without: the backend gets the
    /// same fields in the same order (identity fields aside, which are fresh per request), and the
    /// client the same response fields; on a plain route and on one with filters and timeouts.
    @Test(arguments: ["", Self.filteredRule]) func bothPathsSendTheSameRequestAndResponseFields(ruleFields: String) async throws {
        let request = "GET /p/./q?x=1 HTTP/1.1\r\nHost: shop.example.com\r\nAccept: */*\r\nConnection: keep-alive\r\n"
            + "TE: trailers\r\nKeep-Alive: timeout=5\r\nX-Request-Id: client-42\r\nUser-Agent: parity\r\n"
            + "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n"
        var seen: [[(String, String)]] = []
        var answers: [String] = []
        for fastLane in [true, false] {
            let backend = StubHTTPServer { _ in
                .init(status: 200, headers: [("X-Kept", "2"), ("Connection", "keep-alive, X-Hop"), ("X-Hop", "1"), ("Proxy-Authenticate", "Basic")], body: "ok")
            }
            let harness = try await Self.gateway(fastLane: fastLane, ruleFields: ruleFields, backend: backend.start)
            let socket = try BlockingSocket(port: harness.port, timeout: 3)
            socket.send(request)
            answers.append(socket.receive(through: "\r\n\r\n") ?? "")
            seen.append(backend.requests.first.map { head in
                head.headers.map { name, value in
                    // A new span id per hop; the caller's trace id must survive either way.
                    (name.lowercased(), name.lowercased() == "traceparent" ? String(value.split(separator: "-")[1]) : value)
                } + [("request-line", "\(head.method.rawValue) \(head.uri)")]
            } ?? [])
            await backend.stop()
            await harness.stop()
        }
        #expect(seen[0].map { "\($0.0): \($0.1)" } == seen[1].map { "\($0.0): \($0.1)" })
        #expect(seen[0].contains { $0 == ("request-line", "GET /p/q?x=1") }, "the normalised path is forwarded")
        #expect(seen[0].contains { $0 == ("x-forwarded-proto", ruleFields.isEmpty ? "http" : "https") } && !seen[0].contains { $0.0 == "te" || $0.0 == "keep-alive" })
        func fields(_ answer: String) -> [String] { answer.split(separator: "\r\n").map { $0.lowercased() }.sorted() }
        #expect(fields(answers[0]) == fields(answers[1]))
        #expect(answers[0].hasPrefix("HTTP/1.1 200 OK") && !answers[0].lowercased().contains("x-hop"), "\(answers[0])")
        if ruleFields.isEmpty {
            #expect(answers[0].contains("X-Kept: 2"))
        } else {
            // The filters acted (on both paths alike, as checked above).
            #expect(seen[0].contains { $0 == ("x-env", "prod") } && seen[0].contains { $0 == ("x-forwarded-proto", "https") }, "\(seen[0])")
            #expect(seen[0].contains { $0 == ("accept", "*/*,text/html") } && !seen[0].contains { $0.0 == "user-agent" }, "\(seen[0])")
            let lower = answers[0].lowercased()
            #expect(lower.contains("x-kept: 3") && lower.contains("x-served-by: archway") && !lower.contains("proxy-authenticate"), "\(answers[0])")
        }
    }

    /// A request that came through a load balancer (its own X-Forwarded-* and Forwarded fields): this
    /// hop is merged into the chain on both paths alike, with the route's filters acting after.
    @Test func aForwardedChainIsMergedAsTheGeneralPathMergesIt() async throws {
        let request = "GET /chain HTTP/1.1\r\nHost: shop.example.com\r\nX-Forwarded-For: 203.0.113.7, 10.0.0.2\r\n"
            + "X-Forwarded-Proto: https\r\nX-Forwarded-Host: www.example.com\r\nForwarded: for=203.0.113.7;proto=https\r\nAccept: */*\r\n\r\n"
        var seen: [[String]] = []
        for fastLane in [true, false] {
            let backend = StubHTTPServer { _ in .init(status: 200, body: "ok") }
            let harness = try await Self.gateway(fastLane: fastLane, ruleFields: Self.filteredRule, backend: backend.start)
            let socket = try BlockingSocket(port: harness.port, timeout: 3)
            socket.send(request)
            #expect(socket.receive(through: "\r\n\r\n")?.hasPrefix("HTTP/1.1 200") == true)
            seen.append(backend.requests.first.map { head in
                head.headers.filter { !["x-request-id", "traceparent"].contains($0.name.lowercased()) }.map { "\($0.name.lowercased()): \($0.value)" }.sorted()
            } ?? [])
            await backend.stop()
            await harness.stop()
        }
        #expect(seen[0] == seen[1])
        #expect(seen[0].contains("x-forwarded-for: 203.0.113.7, 10.0.0.2, 127.0.0.1"), "\(seen[0])")
        #expect(seen[0].contains("forwarded: for=203.0.113.7;proto=https, for=127.0.0.1;proto=http;host=\"shop.example.com\""), "\(seen[0])")
        #expect(seen[0].contains("x-forwarded-host: shop.example.com"), "this hop's host, not the client's claim: \(seen[0])")
        #expect(seen[0].contains("x-forwarded-proto: https") && seen[0].filter { $0.hasPrefix("x-forwarded-proto") }.count == 1,
                "the filter's value, set after the merge: \(seen[0])")
    }

    /// `Expect: 100-continue`: the 100 comes once a backend is connected, then the body and the answer;
    /// a request answered before its 100 (here a Service without endpoints) closes the connection,
    /// since its client may never send the body. The same on both paths.
    @Test func aContinueExpectationIsAnsweredByTheGateway() async throws {
        var transcripts: [[String]] = []
        for fastLane in [true, false] {
            let harness = GatewayHarness()
            harness.fastLane = fastLane
            try await harness.startBackend("svc")
            try harness.write("gw.yaml", Manifests.join(Manifests.gateway(), Manifests.service("svc", targetPort: harness.backendPorts["svc"]!),
                                                        Manifests.service("empty", targetPort: 1, ready: false),
                                                        Manifests.route("up", path: "/up", service: "svc"), Manifests.route("down", path: "/down", service: "empty")))
            try await harness.start()
            let socket = try BlockingSocket(port: harness.port, timeout: 3)
            var transcript: [String] = []
            socket.send("POST /up HTTP/1.1\r\nHost: a.example.com\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
            transcript.append(socket.receive(through: "\r\n\r\n") ?? "")
            socket.send("hello")
            let echoed = try Self.readEcho(socket)
            transcript.append("\(echoed["path"] ?? "") \(echoed["body_bytes"] ?? "") expect=\((echoed["headers"] as? [String: Any])?["expect"] ?? "none")")
            socket.send("POST /down HTTP/1.1\r\nHost: a.example.com\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
            let refused = socket.receive(through: "\r\n\r\n") ?? ""
            transcript.append(refused.split(separator: "\r\n").first.map(String.init) ?? "")
            transcript.append(refused.lowercased().contains("connection: close") ? "close" : "keep-alive")
            _ = socket.receiveAll()
            transcripts.append(transcript)
            await harness.stop()
        }
        #expect(transcripts[0] == transcripts[1])
        #expect(transcripts[0] == ["HTTP/1.1 100 Continue\r\n\r\n", "/up 5 expect=none", "HTTP/1.1 503 Service Unavailable", "close"], "\(transcripts)")
    }

    /// timeouts.backendRequest on the lane: a backend that never answers gets the general path's 504.
    @Test(arguments: [true, false]) func aSilentBackendTimesOutAlike(fastLane: Bool) async throws {
        let silent = RecordingBackend(name: "silent", silent: true)
        let harness = try await Self.gateway(fastLane: fastLane, ruleFields: "timeouts: {backendRequest: 300ms}") { try await silent.start(group: $0) }
        defer { Task { await harness.stop() } }
        let started = ContinuousClock.now
        let answer = try await harness.send("/slow", host: "a.example.com")
        #expect(answer.status == 504 && answer.text == "backend default/svc:80 did not answer within the route's timeouts.backendRequest (300ms)\n",
                "\(answer.status) \(answer.text)")
        #expect(ContinuousClock.now - started < .seconds(3))
    }

    /// GET, then a POST with a body (which the lane leaves to the general path), then GETs, all
    /// pipelined in one write: answered in order, the body delivered, and the connection still usable.
    @Test func aConnectionLeavingTheLaneKeepsItsOrder() async throws {
        let harness = try await GatewayHarness.startWithOneRoute()
        defer { Task { await harness.stop() } }
        let socket = try BlockingSocket(port: harness.port, timeout: 3)
        socket.send("GET /one HTTP/1.1\r\nHost: a.example.com\r\n\r\n"
                    + "POST /two HTTP/1.1\r\nHost: a.example.com\r\nContent-Length: 5\r\n\r\nhello"
                    + "GET /three HTTP/1.1\r\nHost: a.example.com\r\n\r\n")
        var echoed: [[String: Any]] = []
        for _ in 0..<3 { echoed.append(try Self.readEcho(socket)) }
        #expect(echoed.map { $0["path"] as? String } == ["/one", "/two", "/three"])
        #expect(echoed[1]["body_bytes"] as? Int == 5)
        socket.send("GET /four HTTP/1.1\r\nHost: a.example.com\r\n\r\n")
        #expect(try Self.readEcho(socket)["path"] as? String == "/four")
    }

    /// Backends frame responses every way HTTP/1.1 allows; the lane finds each end without
    /// reframing, drops interim answers, refuses a response it cannot frame unambiguously with a 502
    /// that says why, and closes the client connection after a close-delimited body.
    @Test func everyResponseFramingArrivesWholeAndAmbiguousOnesAreRefused() async throws {
        let backend = ScriptedBackend([
            "/chunked": ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nX-Sum: 11\r\n\r\n", false),
            "/hints": ("HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false),
            "/head": ("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", false),
            "/smuggle": ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\nok", false),
            "/close": ("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", true),
        ])
        let harness = try await Self.gateway(backend: backend.start)
        defer { Task { await backend.stop(); await harness.stop() } }

        let socket = try BlockingSocket(port: harness.port, timeout: 3)
        socket.send("GET /chunked HTTP/1.1\r\nHost: a\r\n\r\n")
        let chunked = socket.receive(through: "0\r\nX-Sum: 11\r\n\r\n") ?? ""
        #expect(chunked.contains("Transfer-Encoding: chunked") && chunked.hasSuffix("5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nX-Sum: 11\r\n\r\n"), "\(chunked)")
        socket.send("GET /hints HTTP/1.1\r\nHost: a\r\n\r\n")
        let hints = (socket.receive(through: "\r\n\r\n") ?? "") + String(decoding: socket.receive(exactly: 2) ?? [], as: UTF8.self)
        #expect(hints.hasPrefix("HTTP/1.1 200 OK") && hints.hasSuffix("ok") && !hints.contains("103"), "\(hints)")
        socket.send("HEAD /head HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(socket.receive(through: "\r\n\r\n")?.contains("Content-Length: 1000") == true, "a HEAD answer has no body to wait for")
        socket.send("GET /smuggle HTTP/1.1\r\nHost: a\r\n\r\n")
        let refused = socket.receive(through: "\r\n\r\n") ?? ""
        #expect(refused.hasPrefix("HTTP/1.1 502"), "\(refused)")
        let length = Int(refused.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }?.split(separator: " ").last ?? "0") ?? 0
        let why = String(decoding: socket.receive(exactly: length) ?? [], as: UTF8.self)
        #expect(why.contains("both Content-Length and Transfer-Encoding"), "\(why)")
        socket.send("GET /close HTTP/1.1\r\nHost: a\r\n\r\n")
        let untilClose = String(decoding: socket.receiveAll(), as: UTF8.self)
        #expect(untilClose.lowercased().contains("connection: close") && untilClose.hasSuffix("\r\n\r\nuntil the end"), "\(untilClose)")
    }

    /// A backend that keeps connections alive by its answers but closes each one when a second
    /// request arrives on it (a keep-alive timeout racing the request): the request meets a closed
    /// pooled connection, and is sent again on a new one. The client never sees it, on either path.
    @Test(arguments: [true, false]) func aBackendClosingPooledConnectionsCostsTheClientNothing(fastLane: Bool) async throws {
        let backend = ScriptedBackend(["/": ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false)], answersPerConnection: 1)
        let harness = try await Self.gateway(fastLane: fastLane, backend: backend.start)
        defer { Task { await backend.stop(); await harness.stop() } }
        let client = try await harness.client()
        var statuses: [Int] = []
        for _ in 0..<30 { statuses.append(try await client.request(.GET, "/", host: "a.example.com").status) }
        #expect(statuses == Array(repeating: 200, count: 30))
        #expect(backend.connectionsClosedUnanswered > 0, "the stale-connection path was not exercised")
    }

    /// Archway in front of a test backend started on the harness's event loops: Gateway `gw`, Service
    /// `svc`, and one route sending every request there.
    static func gateway(fastLane: Bool = true, ruleFields: String = "",
                        backend start: (any EventLoopGroup) async throws -> Int) async throws -> GatewayHarness {
        let harness = GatewayHarness()
        harness.fastLane = fastLane
        let backendPort = try await start(harness.group)
        try harness.write("gw.yaml", Manifests.join(Manifests.gateway(), Manifests.service("svc", targetPort: backendPort),
                                                    Manifests.route("r", path: "/", service: "svc", ruleFields: ruleFields)))
        try await harness.start()
        return harness
    }

    /// Reads one response from the echo backend (it always sends Content-Length) and decodes its JSON.
    static func readEcho(_ socket: BlockingSocket) throws -> [String: Any] {
        let head = try #require(socket.receive(through: "\r\n\r\n"))
        let line = try #require(head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") })
        let length = try #require(Int(line.split(separator: " ").last ?? ""))
        let body = try #require(socket.receive(exactly: length))
        return try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
    }
}

/// A backend that answers each request path with fixed bytes, closing afterwards when told to: for
/// response shapes a well-behaved HTTP library would not produce.
final class ScriptedBackend: Sendable {
    private let answers: [String: (String, Bool)]
    private let answersPerConnection: Int?
    private let channel = NIOLockedValueBox<(any Channel)?>(nil)
    private let unanswered = NIOLockedValueBox(0)
    private let lines = NIOLockedValueBox<[String]>([])
    private let accepted = NIOLockedValueBox(0)

    /// With `answersPerConnection`, a connection that already answered that many requests is closed
    /// when the next one arrives, unanswered.
    init(_ answers: [String: (String, Bool)], answersPerConnection: Int? = nil) {
        self.answers = answers
        self.answersPerConnection = answersPerConnection
    }

    var connectionsClosedUnanswered: Int { unanswered.withLockedValue { $0 } }
    /// Every request line received, answered or not ("POST /x HTTP/1.1").
    var requestLines: [String] { lines.withLockedValue { $0 } }
    /// Connections the gateway opened to this backend.
    var connectionsAccepted: Int { accepted.withLockedValue { $0 } }

    func start(group: any EventLoopGroup) async throws -> Int {
        let answers = self.answers, limit = answersPerConnection
        let bound = try await ServerBootstrap(group: group)
            .childChannelInitializer { [self] channel in
                accepted.withLockedValue { $0 += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ScriptedHandler(answers: answers, limit: limit, closedUnanswered: { [self] in
                        unanswered.withLockedValue { $0 += 1 }
                    }, received: { [self] line in lines.withLockedValue { $0.append(line) } }))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        channel.withLockedValue { $0 = bound }
        return bound.localAddress!.port!
    }

    func stop() async { try? await channel.withLockedValue { $0 }?.close() }
}

private final class ScriptedHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let answers: [String: (String, Bool)]
    let limit: Int?
    let closedUnanswered: () -> Void
    let requestLine: (String) -> Void
    private var received = ""
    private var answered = 0

    init(answers: [String: (String, Bool)], limit: Int?, closedUnanswered: @escaping () -> Void, received: @escaping (String) -> Void) {
        self.answers = answers
        self.limit = limit
        self.closedUnanswered = closedUnanswered
        self.requestLine = received
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += String(buffer: unwrapInboundIn(data))
        while let end = received.range(of: "\r\n\r\n") {
            requestLine(received[..<end.lowerBound].components(separatedBy: "\r\n").first ?? "")
            if let limit, answered >= limit {
                closedUnanswered()
                received = ""
                return context.close(promise: nil)
            }
            answered += 1
            let head = received[..<end.lowerBound]
            received = String(received[end.upperBound...])
            let path = head.split(separator: " ").dropFirst().first.map(String.init) ?? "/"
            let (answer, close) = answers[path] ?? ("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", false)
            let written = context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: answer)))
            if close {
                let channel = context.channel
                written.whenComplete { _ in channel.close(promise: nil) }
            }
        }
    }
}

/// URL rewrites and the routes' own answers (redirects, a fixed 500, a Service without endpoints),
/// which the lane now carries: the backend and the client see exactly what the general path gives.
@Suite(.timeLimit(.minutes(2)))
struct FastLaneAnswerParityTests {
    static let routes = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: r}
        spec:
          parentRefs: [{name: gw}]
          rules:
          - matches: [{path: {type: PathPrefix, value: /old}}]
            filters:
            - type: URLRewrite
              urlRewrite: {hostname: internal.example.com, path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}
            - type: RequestHeaderModifier
              requestHeaderModifier: {set: [{name: X-Env, value: prod}]}
            backendRefs: [{name: svc, port: 80}]
          - matches: [{path: {type: PathPrefix, value: /go}}]
            filters:
            - type: RequestRedirect
              requestRedirect: {scheme: https, statusCode: 301}
          - matches: [{path: {type: PathPrefix, value: /broken}}]
            backendRefs: [{name: missing, port: 80}]
          - matches: [{path: {type: PathPrefix, value: /empty}}]
            backendRefs: [{name: empty, port: 80}]
        """

    @Test func theLaneAnswersAndRewritesAsTheGeneralPathDoes() async throws {
        var seen: [[String]] = []
        var answers: [[String]] = []
        for fastLane in [true, false] {
            let backend = StubHTTPServer { _ in .init(status: 200, body: "ok") }
            let harness = GatewayHarness()
            harness.fastLane = fastLane
            let port = try await backend.start(group: harness.group)
            try harness.write("gw.yaml", Manifests.join(Manifests.gateway(), Manifests.service("svc", targetPort: port),
                                                        Manifests.service("empty", targetPort: port, ready: false), Self.routes))
            try await harness.start()
            let socket = try BlockingSocket(port: harness.port, timeout: 3)
            var answered: [String] = []
            for path in ["/old/x?q=1", "/go/a?b=c", "/broken", "/empty", "/old/y"] {
                socket.send("GET \(path) HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: parity\r\n\r\n")
                let head = socket.receive(through: "\r\n\r\n") ?? ""
                let length = Int(head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }?.split(separator: " ").last ?? "0") ?? 0
                let body = String(decoding: socket.receive(exactly: length) ?? [], as: UTF8.self)
                answered.append(head.split(separator: "\r\n").map { $0.lowercased() }.sorted().joined(separator: "|") + " " + body)
            }
            answers.append(answered)
            seen.append(backend.requests.map { request in
                "\(request.uri) " + request.headers.filter { !["x-request-id", "traceparent"].contains($0.name.lowercased()) }
                    .map { "\($0.name.lowercased())=\($0.value)" }.joined(separator: ",")
            })
            await backend.stop()
            await harness.stop()
        }
        #expect(answers[0] == answers[1])
        #expect(seen[0] == seen[1])
        #expect(seen[0].first?.hasPrefix("/new/x?q=1 ") == true && seen[0].first?.contains("host=internal.example.com") == true, "\(seen[0])")
        #expect(seen[0].first?.contains("x-forwarded-host=shop.example.com") == true && seen[0].first?.contains("x-env=prod") == true, "\(seen[0])")
        #expect(answers[0][1].contains("location: https://shop.example.com/go/a?b=c") && answers[0][1].hasPrefix("content-length"), "\(answers[0][1])")
        #expect(answers[0][1].contains("http/1.1 301"), "\(answers[0][1])")
        #expect(answers[0][2].contains("http/1.1 500") && answers[0][3].contains("http/1.1 503"), "\(answers[0])")
    }
}
