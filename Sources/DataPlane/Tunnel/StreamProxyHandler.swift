import Logging
import NIOCore
import NIOPosix
import RoutingTable

/// A TCP, TLS-passthrough or TLSRoute-terminated connection: picks the route's backend by weight,
/// connects to one of its endpoints, replays what the client sent meanwhile (for passthrough, the
/// ClientHello) and then leaves the two connections joined by a byte tunnel. Nothing is read from
/// the client until the backend is connected.
final class StreamProxyHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer

    private let socket: SocketKey
    private let serverName: String?
    /// TLS ended here (a TLSRoute on a Terminate listener): a BackendTLSPolicy on the backend makes
    /// the gateway speak TLS to it again. Passthrough and TCP bytes go on as they came.
    private let terminated: Bool
    private let tables: TableStore
    private let loop: EventLoopContext
    private let logger: Logger
    private var buffered: [ByteBuffer] = []
    private var started = false
    private var clientGone = false
    private var joined = false

    init(socket: SocketKey, serverName: String?, terminated: Bool = false, tables: TableStore, loop: EventLoopContext, logger: Logger) {
        self.socket = socket
        self.serverName = serverName
        self.terminated = terminated
        self.tables = tables
        self.loop = loop
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        buffered.append(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        clientGone = true
        context.fireChannelInactive()
    }

    /// Reads wait for the backend: until then the kernel's buffer holds the client's bytes.
    func read(context: ChannelHandlerContext) {
        if joined { context.read() }
    }

    private func start(context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        let table = tables.current
        let what = serverName.map { "server name \"\($0)\"" } ?? "connection"
        guard let route = table.streamRoute(socket: socket, serverName: serverName), let choice = route.choice else {
            logger.warning("no route takes this connection", metadata: ["listener": "\(socket)", "for": "\(what)"])
            return context.close(promise: nil)
        }
        let picked = choice.targets[choice.pick(loop.nextRandom())]
        guard case .cluster(let cluster) = picked.target, !cluster.endpoints.isEmpty else {
            logger.warning("stream route has no usable backend", metadata: [
                "route": "\(route.origin.namespace)/\(route.origin.name)", "backend": "\(picked.name)"])
            return context.close(promise: nil)
        }
        loop.metrics.gauges.activeConnections.increment()
        connect(cluster, table: table, attempt: 1, context: context)
    }

    private func connect(_ cluster: CompiledCluster, table: ServedTable, attempt: Int, context: ChannelHandlerContext) {
        let endpoint = cluster.endpoints[loop.nextIndex(cluster: cluster, count: cluster.endpoints.count, table: table)]
        let gauges = loop.metrics.gauges
        loop.pool.openChannel(to: endpoint, tls: terminated ? tables.upstreamTLS(for: cluster) : nil)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let upstream):
                    guard !self.clientGone else {
                        gauges.activeConnections.decrement()
                        return upstream.close(promise: nil)
                    }
                    self.join(upstream, context: context)
                case .failure(let error):
                    if attempt < min(3, cluster.endpoints.count) && !self.clientGone {
                        return self.connect(cluster, table: table, attempt: attempt + 1, context: context)
                    }
                    gauges.activeConnections.decrement()
                    self.logger.error("cannot connect to stream backend", metadata: [
                        "cluster": "\(cluster.id)", "endpoint": "\(endpoint.host):\(endpoint.port)", "error": "\(error)"])
                    context.close(promise: nil)
                }
            }
    }

    private func join(_ upstream: any Channel, context: ChannelHandlerContext) {
        let gauges = loop.metrics.gauges
        let (clientEnd, backendEnd) = TunnelHandler.pair(onClose: { gauges.activeConnections.decrement() })
        do {
            try upstream.pipeline.syncOperations.addHandler(backendEnd)
            for buffer in buffered { upstream.write(buffer, promise: nil) }
            buffered.removeAll()
            upstream.flush()
            joined = true
            try context.pipeline.syncOperations.addHandler(clientEnd)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        } catch {
            upstream.close(promise: nil)
            context.close(promise: nil)
        }
    }
}
