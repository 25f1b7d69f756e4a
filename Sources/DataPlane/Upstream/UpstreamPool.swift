import NIOCore
import Prometheus
import NIOHTTP1
import Logging
import NIOPosix
import NIOSSL
import RoutingTable

/// Pooled connections are interchangeable only if they go to the same endpoint the same way.
struct UpstreamKey: Hashable {
    var endpoint: Endpoint
    /// BackendTLSPolicy name and hostname when the connection speaks TLS.
    var tls: String?
}

/// TLS towards a backend: the client context and the policy it was made from.
struct UpstreamTLSSetup {
    let context: NIOSSLContext
    let policy: UpstreamTLS
}

extension UpstreamTLS {
    /// What tells apart pooled connections made under different policies (or hostnames). Derived from
    /// the routing table alone, so finding an idle connection needs no look-up of the TLS context.
    var poolKey: String { policy + "|" + hostname + (clientCertificate.map { "|" + $0.source } ?? "") }
}

/// Keep-alive connections to backends, one pool per event loop (nginx's and Envoy's per-worker model):
/// a downstream connection only borrows upstream connections of its own loop, so bytes never cross
/// threads and the pool needs no lock. HTTP/1 connections are raw (`RawUpstreamConnection`) and shared
/// by the fast lane and the general path: one pool, whichever path a request took. Idle connections
/// are reused LIFO (the warmest first). HTTP/2 backends get one multiplexed connection each.
final class UpstreamPool: @unchecked Sendable {  // confined to `eventLoop`
    let eventLoop: any EventLoop
    private var idle: [UpstreamKey: [RawUpstreamConnection]] = [:]
    let logger: Logger
    private let maxIdlePerEndpoint: Int
    let connectTimeout: TimeAmount
    private let http2: HTTP2UpstreamConnections

    /// Open backend connections, for the `gateway_upstream_connections` gauge.
    private let openConnections: Gauge?

    init(eventLoop: any EventLoop, logger: Logger, maxIdlePerEndpoint: Int = 256, connectTimeout: TimeAmount = .seconds(5),
         openConnections: Gauge? = nil) {
        self.openConnections = openConnections
        self.eventLoop = eventLoop
        self.logger = logger
        self.maxIdlePerEndpoint = maxIdlePerEndpoint
        self.connectTimeout = connectTimeout
        http2 = HTTP2UpstreamConnections(eventLoop: eventLoop)
    }

    /// A new HTTP/2 stream to `endpoint` (h2c backends); streams are never pooled, their connection is.
    func openStream(to endpoint: Endpoint, tls: UpstreamTLSSetup? = nil) -> EventLoopFuture<HTTP2StreamLink> {
        http2.openStream(to: endpoint, tls: tls, pool: self)
    }

    /// The warmest idle connection to `endpoint`, if one is still open. Synchronous: the common case
    /// (a pooled connection) costs no future and no callback.
    func takeIdle(_ key: UpstreamKey) -> RawUpstreamConnection? {
        eventLoop.assertInEventLoop()
        while let connection = idle[key]?.popLast() {
            connection.isIdle = false
            if connection.isActive { return connection }
        }
        return nil
    }

    /// Every connection archway opens to a backend goes through here: one connect timeout, no Nagle,
    /// and the TLS handler first when a BackendTLSPolicy applies (the certificate is verified against
    /// the policy's CAs and hostname during the handshake). `configure` adds what goes on top.
    func openChannel(to endpoint: Endpoint, tls: UpstreamTLSSetup?,
                     configure: @escaping @Sendable (ChannelPipeline.SynchronousOperations) throws -> Void = { _ in })
        -> EventLoopFuture<any Channel> {
        ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(try BackendIdentity.tlsHandler(tls)) }
                    try configure(channel.pipeline.syncOperations)
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
            .map { [openConnections] channel in
                if let openConnections {
                    openConnections.increment()
                    channel.closeFuture.whenComplete { _ in openConnections.decrement() }
                }
                return channel
            }
    }

    /// A new HTTP/1.1 connection to `endpoint` on this event loop, over TLS when `tls` is given.
    func connect(_ endpoint: Endpoint, tls: UpstreamTLSSetup?) -> EventLoopFuture<RawUpstreamConnection> {
        let connection = RawUpstreamConnection(key: UpstreamKey(endpoint: endpoint, tls: tls?.policy.poolKey), pool: self)
        return openChannel(to: endpoint, tls: tls) { pipeline in
            try pipeline.addHandler(connection)
        }.map { _ in connection }
    }

    /// Returns a connection whose exchange finished cleanly; closes it if the pool is full.
    func release(_ connection: RawUpstreamConnection) {
        eventLoop.assertInEventLoop()
        connection.user = nil
        guard connection.isActive, (idle[connection.key]?.count ?? 0) < maxIdlePerEndpoint else { return connection.close() }
        // A read held for a slow client is resumed: an idle connection must see the backend close it,
        // and the next exchange must see its answer.
        connection.resumeReading()
        connection.isIdle = true
        idle[connection.key, default: []].append(connection)
    }

    /// Called when an idle connection is closed by the backend.
    func forget(_ connection: RawUpstreamConnection) {
        guard connection.isIdle else { return }
        connection.isIdle = false
        idle[connection.key]?.removeAll { $0 === connection }
    }

    func closeAll() -> EventLoopFuture<Void> {
        let closes = idle.values.joined().compactMap { $0.channel?.close() } + [http2.closeAll()]
        idle.removeAll()
        return EventLoopFuture.andAllComplete(closes, on: eventLoop)
    }
}
