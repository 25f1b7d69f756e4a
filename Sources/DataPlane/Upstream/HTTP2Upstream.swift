import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import RoutingTable

/// Cleartext HTTP/2 (h2c, prior knowledge) connections to backends whose Service port says
/// `appProtocol: kubernetes.io/h2c` (and to every GRPCRoute backend): one connection per endpoint per
/// event loop, each request a new stream on it. A stream looks like an HTTP/1 connection to the
/// proxy (NIOHTTP2's HTTP/1 codec), so the exchange code is shared; trailers travel as `.end(trailers)`.
final class HTTP2UpstreamConnections {
    private struct Connection {
        let channel: any Channel
        let multiplexer: NIOHTTP2Handler.StreamMultiplexer
    }

    private let eventLoop: any EventLoop
    private let connectTimeout: TimeAmount
    private var connections: [Endpoint: EventLoopFuture<Connection>] = [:]

    init(eventLoop: any EventLoop, connectTimeout: TimeAmount) {
        self.eventLoop = eventLoop
        self.connectTimeout = connectTimeout
    }

    /// A new stream to `endpoint`, opening the connection first if there is none (or it died).
    func openStream(to endpoint: Endpoint, pool: UpstreamPool) -> EventLoopFuture<UpstreamConnection> {
        connection(to: endpoint).flatMap { connection in
            connection.multiplexer.createStreamChannel { stream in
                stream.eventLoop.makeCompletedFuture {
                    try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .http))
                    try stream.pipeline.syncOperations.addHandler(UpstreamHandler())
                }
            }
        }.flatMapThrowing { stream in
            let handler = try stream.pipeline.syncOperations.handler(type: UpstreamHandler.self)
            let upstream = UpstreamConnection(channel: stream, key: UpstreamKey(endpoint: endpoint), handler: handler, pool: pool, isStream: true)
            handler.connection = upstream
            return upstream
        }
    }

    private func connection(to endpoint: Endpoint) -> EventLoopFuture<Connection> {
        if let existing = connections[endpoint] { return existing }
        let eventLoop = self.eventLoop
        let created = ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: endpoint.host, port: endpoint.port)
            .flatMapThrowing { channel in
                var settings = NIOHTTP2Handler.ConnectionConfiguration()
                settings.initialSettings = [HTTP2Setting(parameter: .enablePush, value: 0),
                                            HTTP2Setting(parameter: .initialWindowSize, value: 1 << 20)]
                settings.targetWindowSize = 1 << 20
                var stream = NIOHTTP2Handler.StreamConfiguration()
                stream.targetWindowSize = 1 << 20
                let multiplexer = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                    mode: .client, connectionConfiguration: settings, streamConfiguration: stream
                ) { pushed in pushed.close() }
                return Connection(channel: channel, multiplexer: multiplexer)
            }
        connections[endpoint] = created
        created.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let connection):
                connection.channel.closeFuture.assumeIsolated().whenComplete { _ in self.forget(endpoint, created) }
            case .failure:
                self.forget(endpoint, created)
            }
        }
        return created
    }

    private func forget(_ endpoint: Endpoint, _ future: EventLoopFuture<Connection>) {
        if connections[endpoint] === future { connections[endpoint] = nil }
    }

    func closeAll() -> EventLoopFuture<Void> {
        let closes = connections.values.map { $0.flatMap { $0.channel.close() }.recover { _ in } }
        connections.removeAll()
        return EventLoopFuture.andAllComplete(closes, on: eventLoop)
    }
}
