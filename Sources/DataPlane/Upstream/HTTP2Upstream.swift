import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import RoutingTable

/// HTTP/2 connections to backends whose Service port says `appProtocol: kubernetes.io/h2c` (and to
/// every GRPCRoute backend): cleartext with prior knowledge, or TLS with ALPN h2 when a
/// BackendTLSPolicy applies. One connection per endpoint per event loop, each request a new stream. A stream looks like an HTTP/1 connection to the
/// proxy (NIOHTTP2's HTTP/1 codec), so the exchange code is shared; trailers travel as `.end(trailers)`.
final class HTTP2UpstreamConnections {
    private struct Connection {
        let channel: any Channel
        let multiplexer: NIOHTTP2Handler.StreamMultiplexer
    }

    private let eventLoop: any EventLoop
    private var connections: [UpstreamKey: EventLoopFuture<Connection>] = [:]

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// A new stream to `endpoint`, opening the connection first if there is none (or it died).
    func openStream(to endpoint: Endpoint, tls: UpstreamTLSSetup?, pool: UpstreamPool) -> EventLoopFuture<HTTP2StreamLink> {
        let key = UpstreamKey(endpoint: endpoint, tls: tls?.policy.poolKey)
        return connection(to: key, tls: tls, pool: pool).flatMap { connection in
            connection.multiplexer.createStreamChannel { stream in
                stream.eventLoop.makeCompletedFuture {
                    try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .http))
                    try stream.pipeline.syncOperations.addHandler(UpstreamHandler())
                }
            }
        }.flatMapThrowing { stream in
            HTTP2StreamLink(stream: stream, handler: try stream.pipeline.syncOperations.handler(type: UpstreamHandler.self))
        }
    }

    private func connection(to key: UpstreamKey, tls: UpstreamTLSSetup?, pool: UpstreamPool) -> EventLoopFuture<Connection> {
        if let existing = connections[key] { return existing }
        let created = pool.openChannel(to: key.endpoint, tls: tls)
            .flatMapThrowing { channel -> (Connection, EventLoopFuture<Void>) in
                let preface = channel.eventLoop.makePromise(of: Void.self)
                try channel.pipeline.syncOperations.addHandler(HTTP2PrefaceWatcher(promise: preface, timeout: pool.connectTimeout))
                var settings = NIOHTTP2Handler.ConnectionConfiguration()
                settings.initialSettings = [HTTP2Setting(parameter: .enablePush, value: 0),
                                            HTTP2Setting(parameter: .initialWindowSize, value: 1 << 20)]
                settings.targetWindowSize = 1 << 20
                var stream = NIOHTTP2Handler.StreamConfiguration()
                stream.targetWindowSize = 1 << 20
                let multiplexer = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                    mode: .client, connectionConfiguration: settings, streamConfiguration: stream
                ) { pushed in pushed.close() }
                return (Connection(channel: channel, multiplexer: multiplexer), preface.futureResult)
            }
            .flatMap { connection, preface in preface.map { connection } }
        connections[key] = created
        created.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let connection):
                connection.channel.closeFuture.assumeIsolated().whenComplete { _ in self.forget(key, created) }
            case .failure(let error):
                if error is HTTP2PrefaceWatcher.NotHTTP2 {
                    pool.logger.error("HTTP/2 backend unusable", metadata: [
                        "endpoint": "\(key.endpoint.host):\(key.endpoint.port)", "error": "\(error)"])
                }
                self.forget(key, created)
            }
        }
        return created
    }

    private func forget(_ key: UpstreamKey, _ future: EventLoopFuture<Connection>) {
        if connections[key] === future { connections[key] = nil }
    }

    func closeAll() -> EventLoopFuture<Void> {
        let closes = connections.values.map { $0.flatMap { $0.channel.close() }.recover { _ in } }
        connections.removeAll()
        return EventLoopFuture.andAllComplete(closes, on: eventLoop)
    }
}
