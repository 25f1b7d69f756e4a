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
    var poolKey: String { policy + "|" + hostname }
}

/// Keep-alive connections to backends, one pool per event loop (nginx's and Envoy's per-worker model):
/// a downstream connection only borrows upstream connections of its own loop, so bytes never cross
/// threads and the pool needs no lock. Idle connections are reused LIFO (the warmest first).
final class UpstreamPool: @unchecked Sendable {  // confined to `eventLoop`
    let eventLoop: any EventLoop
    private var idle: [UpstreamKey: [UpstreamConnection]] = [:]
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
    func openStream(to endpoint: Endpoint, tls: UpstreamTLSSetup? = nil) -> EventLoopFuture<UpstreamConnection> {
        http2.openStream(to: endpoint, tls: tls, pool: self)
    }

    /// The warmest idle connection to `endpoint`, if one is still open. Synchronous: the common case
    /// (a pooled connection) costs no future and no callback.
    func takeIdle(_ key: UpstreamKey) -> UpstreamConnection? {
        eventLoop.assertInEventLoop()
        while let connection = idle[key]?.popLast() {
            connection.isIdle = false
            if connection.channel.isActive { return connection }
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
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tls.context, serverHostname: tls.policy.hostname))
                    }
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
    func connect(_ endpoint: Endpoint, tls: UpstreamTLSSetup? = nil) -> EventLoopFuture<UpstreamConnection> {
        let key = UpstreamKey(endpoint: endpoint, tls: tls?.policy.poolKey)
        return openChannel(to: endpoint, tls: tls) { pipeline in
            try pipeline.addHTTPClientHandlers(leftOverBytesStrategy: .forwardBytes, enableOutboundHeaderValidation: false)
            try pipeline.addHandler(UpstreamHandler())
        }.flatMapThrowing { channel in
            let handler = try channel.pipeline.syncOperations.handler(type: UpstreamHandler.self)
            let connection = UpstreamConnection(channel: channel, key: key, handler: handler, pool: self)
            handler.connection = connection
            return connection
        }
    }

    /// Returns a connection whose exchange finished cleanly; closes it if the pool is full.
    func release(_ connection: UpstreamConnection) {
        eventLoop.assertInEventLoop()
        connection.handler.exchange = nil
        guard !connection.isStream, connection.channel.isActive, (idle[connection.key]?.count ?? 0) < maxIdlePerEndpoint else {
            connection.channel.close(promise: nil)
            return
        }
        connection.isIdle = true
        idle[connection.key, default: []].append(connection)
    }

    /// Called when an idle connection is closed by the backend.
    func forget(_ connection: UpstreamConnection) {
        guard connection.isIdle else { return }
        connection.isIdle = false
        idle[connection.key]?.removeAll { $0 === connection }
    }

    func closeAll() -> EventLoopFuture<Void> {
        let closes = idle.values.joined().map { $0.channel.close() } + [http2.closeAll()]
        idle.removeAll()
        return EventLoopFuture.andAllComplete(closes, on: eventLoop)
    }
}

final class UpstreamConnection: @unchecked Sendable {  // confined to its channel's event loop
    let channel: any Channel
    let key: UpstreamKey
    let handler: UpstreamHandler
    /// Strong: a connection can outlive the gateway that made it (a mirror still waiting after a
    /// stop), and must find its pool then. (Not weak: a weakly referenced pool would take the slow,
    /// side-table path on every retain.)
    let pool: UpstreamPool
    var isIdle = false
    /// An HTTP/2 stream rather than a connection of its own: used once, then closed.
    let isStream: Bool

    init(channel: any Channel, key: UpstreamKey, handler: UpstreamHandler, pool: UpstreamPool, isStream: Bool = false) {
        self.channel = channel
        self.key = key
        self.handler = handler
        self.pool = pool
        self.isStream = isStream
    }
}

/// What an upstream connection reports to the request it is serving.
protocol UpstreamExchange: AnyObject {
    func upstreamReceived(_ part: HTTPClientResponsePart)
    func upstreamReadComplete()
    func upstreamClosed(error: (any Error)?)
    func upstreamWritabilityChanged(isWritable: Bool)
    /// False while the downstream client cannot take more bytes: the upstream stops reading.
    var downstreamIsWritable: Bool { get }
}

/// Sits at the end of an upstream connection's pipeline and hands everything to the current exchange.
final class UpstreamHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    var connection: UpstreamConnection?
    var exchange: (any UpstreamExchange)?
    private var context: ChannelHandlerContext?
    private var backendRead = HeldRead()
    private var closeError: (any Error)?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        exchange?.upstreamReceived(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        exchange?.upstreamReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let connection { connection.pool.forget(connection) }
        let exchange = self.exchange
        self.exchange = nil
        exchange?.upstreamClosed(error: closeError)
        connection = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is NIOSSLError || error is BoringSSLError, let connection {
            // A refused backend certificate is a configuration problem someone must see.
            connection.pool.logger.error("TLS to backend failed", metadata: [
                "endpoint": "\(connection.key.endpoint.host):\(connection.key.endpoint.port)",
                "policy": "\(connection.key.tls ?? "")", "error": "\(error)"])
        }
        closeError = error
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        exchange?.upstreamWritabilityChanged(isWritable: context.channel.isWritable)
    }

    /// Response backpressure: while the client is slow, stop reading from the backend.
    func read(context: ChannelHandlerContext) {
        if backendRead.passes(when: exchange?.downstreamIsWritable ?? true) { context.read() }
    }

    func resumeReading() {
        if let context, backendRead.releases() { context.read() }
    }
}
