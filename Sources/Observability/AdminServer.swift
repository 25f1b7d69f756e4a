import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// The admin endpoint: `/metrics` (Prometheus text), `/healthz` (process alive), `/readyz`
/// (configuration loaded and listeners bound; 503 otherwise, and while draining), `/status` (the
/// live Gateway API status of every object, including ports that could not be bound), `/announcements`
/// (the addresses this replica announces on the LAN).
public final class AdminServer: Sendable {
    public let metrics: GatewayMetrics
    private let ready = NIOLockedValueBox(false)
    /// Renders the live status in a format ("json", "table", "yaml"; nil for any other), when asked:
    /// a large configuration is not rendered three times on every change nobody reads.
    private let status = NIOLockedValueBox<@Sendable (String) -> String?>({ $0 == "json" ? "{}\n" : nil })
    private let slo = NIOLockedValueBox<[UInt8]>(Array("[]\n".utf8))
    private let topology = NIOLockedValueBox<[UInt8]>(Array("{\"gateways\":[],\"routes\":[]}".utf8))
    private let announcements = NIOLockedValueBox<[UInt8]>(Array("{\"addresses\":[]}\n".utf8))
    private let channel = NIOLockedValueBox<(any Channel)?>(nil)

    public init(metrics: GatewayMetrics) { self.metrics = metrics }

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
    public func setTopology(_ json: String) { topology.withLockedValue { $0 = Array(json.utf8) } }
    var topologyDocument: [UInt8] { topology.withLockedValue { $0 } }
    /// Which addresses this replica announces on the LAN, on which interface (JSON).
    public func setAnnouncements(_ json: String) { announcements.withLockedValue { $0 = Array(json.utf8) } }
    var announcementsDocument: [UInt8] { announcements.withLockedValue { $0 } }
    var isReady: Bool { ready.withLockedValue { $0 } }

    public func start(host: String, port: Int, group: any EventLoopGroup) async throws -> SocketAddress? {
        let server = try await BindFailure.naming("the admin endpoint", host: host, port: port) { try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(AdminHandler(server: self))
                }
            }
            .bind(host: host, port: port).get() }
        channel.withLockedValue { $0 = server }
        return server.localAddress
    }

    public func stop() async {
        let server = channel.withLockedValue { $0 }
        try? await server?.close()
    }
}

private final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let server: AdminServer
    private var head: HTTPRequestHead?

    init(server: AdminServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            let parts = head.uri.split(separator: "?", maxSplits: 1)
            let path = parts.first.map(String.init) ?? "/"
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
            default: (status, type, body) = (.notFound, "text/plain", Array("admin endpoints: /dashboard /metrics /healthz /readyz /status /slo /announcements\n".utf8))
            }
            var headers = HTTPHeaders([("content-type", type), ("content-length", String(body.count))])
            // The server's own clock, so the dashboard divides by real elapsed time even where the
            // browser's clock is virtual (headless screenshots).
            headers.add(name: "x-archway-clock-ms", value: String(NIODeadline.now().uptimeNanoseconds / 1_000_000))
            if !head.isKeepAlive { headers.add(name: "connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
            let keepAlive = head.isKeepAlive
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                if !keepAlive { channel.close(promise: nil) }
            }
        }
    }
}
