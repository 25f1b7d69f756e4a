import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// The admin endpoint: `/metrics` (Prometheus text), `/healthz` (process alive), `/readyz`
/// (configuration loaded and listeners bound; 503 otherwise, and while draining), `/status` (the
/// live Gateway API status of every object, including ports that could not be bound), `/announcements`
/// (the addresses this replica announces on the LAN), and controls (`POST /rollouts/NS/NAME/VERB`).
/// Only `/metrics`, `/healthz` and `/readyz` are for anyone who can reach the port (Prometheus, the
/// kubelet); everything else shows or changes the whole configuration, so it is refused (401) unless
/// it comes from this machine (loopback, e.g. `kubectl port-forward`) or carries
/// `Authorization: Bearer` with the admin token. A second listener (`startProbes`) serves the three
/// open paths alone, for a deployment that keeps the admin endpoint itself on loopback.
public final class AdminServer: Sendable {
    public let metrics: GatewayMetrics
    /// What a state-changing call must present when it does not come from loopback; nil: loopback only.
    let controlToken: String?
    /// A control's answer to `POST /PREFIX/...`: its path segments after the prefix.
    public typealias Control = @Sendable (_ segments: [String]) async -> (status: Int, body: String)
    private let controls = NIOLockedValueBox<[String: Control]>([:])
    private let ready = NIOLockedValueBox(false)
    /// Renders the live status in a format ("json", "table", "yaml"; nil for any other), when asked:
    /// a large configuration is not rendered three times on every change nobody reads.
    private let status = NIOLockedValueBox<@Sendable (String) -> String?>({ $0 == "json" ? "{}\n" : nil })
    private let slo = NIOLockedValueBox<[UInt8]>(Array("[]\n".utf8))
    /// Rendered on the first read after each change and kept: at 10,000 routes the JSON takes longer
    /// to make than the routing table, and nobody may be looking at the dashboard.
    private let topology = NIOLockedValueBox<(render: @Sendable () -> String, rendered: [UInt8]?)>(({ "" }, Array("{\"gateways\":[],\"routes\":[]}".utf8)))
    private let announcements = NIOLockedValueBox<[UInt8]>(Array("{\"addresses\":[]}\n".utf8))
    /// Read-only answers made per request from its query (`/describe?kind=...`, `/events`), by path.
    public typealias QueryAnswer = @Sendable (_ query: [String: String]) -> (status: Int, type: String, body: String)
    private let queries = NIOLockedValueBox<[String: QueryAnswer]>([:])
    private let channel = NIOLockedValueBox<(any Channel)?>(nil)
    private let probesChannel = NIOLockedValueBox<(any Channel)?>(nil)
    /// What anyone who reaches the port may read.
    static let openPaths: Set<String> = ["/metrics", "/healthz", "/readyz"]

    public init(metrics: GatewayMetrics, controlToken: String? = nil) {
        self.metrics = metrics
        self.controlToken = controlToken.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Serves `POST /PREFIX/...` with `control`, behind the guard.
    public func setControl(_ prefix: String, _ control: @escaping Control) { controls.withLockedValue { $0[prefix] = control } }
    func control(_ prefix: String) -> Control? { controls.withLockedValue { $0[prefix] } }

    /// Why a caller was refused, for its 401.
    var refusal: String {
        controlToken == nil
            ? "beyond /metrics, /healthz and /readyz the admin endpoint answers loopback only (kubectl port-forward), or callers with the token of serve --admin-token-file"
            : "beyond /metrics, /healthz and /readyz the admin endpoint needs Authorization: Bearer with the admin token (or a loopback caller)"
    }

    /// Loopback callers may; others only with the token (compared in constant time).
    func mayControl(peer: SocketAddress?, authorization: String?) -> Bool {
        if let ip = peer?.ipAddress, ip.hasPrefix("127.") || ip == "::1" || ip.hasPrefix("::ffff:127.") { return true }
        guard let token = controlToken, let authorization, authorization.hasPrefix("Bearer ") else { return false }
        let offered = Array(authorization.dropFirst("Bearer ".count).utf8), expected = Array(token.utf8)
        var difference = offered.count ^ expected.count
        for index in 0..<expected.count { difference |= Int(expected[index] ^ (index < offered.count ? offered[index] : 0)) }
        return difference == 0
    }

    public func setReady(_ value: Bool) { ready.withLockedValue { $0 = value } }
    /// The live `.status` of every object, as `archway status -o FORMAT` prints it: `/status` is the
    /// JSON, `/status?o=table` and `?o=yaml` the others (what `archway status --admin` reads).
    public func setStatus(_ render: @escaping @Sendable (_ format: String) -> String?) {
        status.withLockedValue { $0 = render }
    }
    func statusDocument(format: String) -> [UInt8]? { status.withLockedValue { $0 }(format).map { Array($0.utf8) } }
    /// The live budget of every ServiceLevelObjective (JSON), refreshed by the runtime.
    public func setSLOs(_ json: String) { slo.withLockedValue { $0 = Array(json.utf8) } }
    var sloDocument: [UInt8] { slo.withLockedValue { $0 } }
    /// What the dashboard draws (JSON), refreshed with each applied configuration.
    public func setTopology(_ render: @escaping @Sendable () -> String) { topology.withLockedValue { $0 = (render, nil) } }
    var topologyDocument: [UInt8] {
        topology.withLockedValue { topology in
            if let rendered = topology.rendered { return rendered }
            let rendered = Array(topology.render().utf8)
            topology.rendered = rendered
            return rendered
        }
    }
    /// Serves `GET PATH?QUERY` with `answer`, behind the same guard as `/status` (it shows configuration).
    public func setQuery(_ path: String, _ answer: @escaping QueryAnswer) { queries.withLockedValue { $0[path] = answer } }
    func query(_ path: String) -> QueryAnswer? { queries.withLockedValue { $0[path] } }

    /// `a=b&c=d%2Fe` as a dictionary, percent-escapes and `+` decoded.
    static func queryItems(_ text: Substring) -> [String: String] {
        func decode(_ part: Substring) -> String {
            var bytes: [UInt8] = []
            var iterator = Array(part.utf8).makeIterator()
            while let byte = iterator.next() {
                if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
                   let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) {
                    bytes.append(value)
                } else {
                    bytes.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                }
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        var items: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            items[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return items
    }

    /// Which addresses this replica announces on the LAN, on which interface (JSON).
    public func setAnnouncements(_ json: String) { announcements.withLockedValue { $0 = Array(json.utf8) } }
    var announcementsDocument: [UInt8] { announcements.withLockedValue { $0 } }
    var isReady: Bool { ready.withLockedValue { $0 } }

    public func start(host: String, port: Int, group: any EventLoopGroup) async throws -> SocketAddress? {
        let server = try await bind("the admin endpoint", host: host, port: port, group: group, probesOnly: false)
        channel.withLockedValue { $0 = server }
        return server.localAddress
    }

    /// `/metrics`, `/healthz` and `/readyz` alone, on an address of their own (`serve --metrics-address`).
    public func startProbes(host: String, port: Int, group: any EventLoopGroup) async throws -> SocketAddress? {
        let server = try await bind("the metrics and probes endpoint", host: host, port: port, group: group, probesOnly: true)
        probesChannel.withLockedValue { $0 = server }
        return server.localAddress
    }

    private func bind(_ what: String, host: String, port: Int, group: any EventLoopGroup, probesOnly: Bool) async throws -> any Channel {
        try await BindFailure.naming(what, host: host, port: port) { try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(AdminHandler(server: self, probesOnly: probesOnly))
                }
            }
            .bind(host: host, port: port).get() }
    }

    public func stop() async {
        for server in [channel.withLockedValue { $0 }, probesChannel.withLockedValue { $0 }] { try? await server?.close() }
    }
}

private final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let server: AdminServer
    let probesOnly: Bool
    private var head: HTTPRequestHead?

    init(server: AdminServer, probesOnly: Bool) {
        self.server = server
        self.probesOnly = probesOnly
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            let parts = head.uri.split(separator: "?", maxSplits: 1)
            let path = parts.first.map(String.init) ?? "/"
            if probesOnly, !AdminServer.openPaths.contains(path) {
                return Self.respond(.notFound, "text/plain", Array("this port serves /metrics /healthz /readyz only\n".utf8), to: head, context: context)
            }
            if !AdminServer.openPaths.contains(path),
               !server.mayControl(peer: context.channel.remoteAddress, authorization: head.headers.first(name: "authorization")) {
                return Self.respond(.unauthorized, "text/plain", Array((server.refusal + "\n").utf8), to: head, context: context)
            }
            if head.method == .POST {
                return runControl(path: path, head: head, context: context)
            }
            let format = parts.count > 1 ? parts[1].split(separator: "&").first { $0.hasPrefix("o=") }.map { String($0.dropFirst(2)) } : nil
            let (status, type, body): (HTTPResponseStatus, String, [UInt8])
            switch path {
            case "/metrics": (status, type, body) = (.ok, "text/plain; version=0.0.4; charset=utf-8", server.metrics.exposition())
            case "/healthz": (status, type, body) = (.ok, "text/plain", Array("ok\n".utf8))
            case "/readyz":
                (status, type, body) = server.isReady ? (.ok, "text/plain", Array("ready\n".utf8))
                    : (.serviceUnavailable, "text/plain", Array("not ready\n".utf8))
            case "/status":
                if let document = server.statusDocument(format: format ?? "json") {
                    (status, type, body) = (.ok, format == nil || format == "json" ? "application/json" : "text/plain; charset=utf-8", document)
                } else {
                    (status, type, body) = (.badRequest, "text/plain", Array("o= takes json, table or yaml\n".utf8))
                }
            case "/slo": (status, type, body) = (.ok, "application/json", server.sloDocument)
            case "/announcements": (status, type, body) = (.ok, "application/json", server.announcementsDocument)
            case "/dashboard", "/": (status, type, body) = (.ok, "text/html; charset=utf-8", DashboardPage.bytes)
            case "/dashboard/topology": (status, type, body) = (.ok, "application/json", server.topologyDocument)
            default:
                if let answer = server.query(path) {
                    let answered = answer(parts.count > 1 ? AdminServer.queryItems(parts[1]) : [:])
                    (status, type, body) = (HTTPResponseStatus(statusCode: answered.status), answered.type, Array(answered.body.utf8))
                } else {
                    (status, type, body) = (.notFound, "text/plain",
                                            Array("admin endpoints: /dashboard /metrics /healthz /readyz /status /slo /announcements /events /describe /explain\n".utf8))
                }
            }
            Self.respond(status, type, body, to: head, context: context)
        }
    }

    /// A state-changing call: refused unless allowed (`AdminServer.mayControl`), else answered by
    /// its control once that has run.
    private func runControl(path: String, head: HTTPRequestHead, context: ChannelHandlerContext) {
        let segments = path.split(separator: "/").map(String.init)
        guard let prefix = segments.first, let control = server.control(prefix) else {
            return Self.respond(.notFound, "text/plain", Array("no control at \(path)\n".utf8), to: head, context: context)
        }
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.eventLoop.makeFutureWithTask { await control(Array(segments.dropFirst())) }.whenSuccess { answer in
            Self.respond(HTTPResponseStatus(statusCode: answer.status), "application/json", Array(answer.body.utf8), to: head, context: bound.value)
        }
    }

    private static func respond(_ status: HTTPResponseStatus, _ type: String, _ body: [UInt8], to head: HTTPRequestHead, context: ChannelHandlerContext) {
        var headers = HTTPHeaders([("content-type", type), ("content-length", String(body.count))])
        // The server's own clock, so the dashboard divides by real elapsed time even where the
        // browser's clock is virtual (headless screenshots).
        headers.add(name: "x-archway-clock-ms", value: String(NIODeadline.now().uptimeNanoseconds / 1_000_000))
        if !head.isKeepAlive { headers.add(name: "connection", value: "close") }
        context.write(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        let keepAlive = head.isKeepAlive
        let channel = context.channel
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }
}
