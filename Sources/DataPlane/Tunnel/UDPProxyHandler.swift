import Logging
import NIOCore
import NIOPosix
import RoutingTable

/// A UDP listener: each client address is a flow with its own connected socket to one backend
/// endpoint (chosen by the route's weights when the flow starts), so replies find their way back and
/// one client's datagrams stay on one endpoint. Flows quiet for `idleTimeout` are closed.
final class UDPProxyHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private final class Flow {
        var upstream: (any Channel)?
        var pending: [ByteBuffer] = []
        var lastActive = NIODeadline.now()
    }

    private let socket: SocketKey
    private let tables: TableStore
    private let loop: EventLoopContext
    private let logger: Logger
    private let idleTimeout: TimeAmount
    /// Datagrams held per flow while its upstream socket is being set up.
    private let maxPending = 64
    private var flows: [SocketAddress: Flow] = [:]
    private var sweeper: RepeatedTask?

    init(socket: SocketKey, tables: TableStore, loop: EventLoopContext, logger: Logger, idleTimeout: TimeAmount = .seconds(60)) {
        self.socket = socket
        self.tables = tables
        self.loop = loop
        self.logger = logger
        self.idleTimeout = idleTimeout
    }

    func channelActive(context: ChannelHandlerContext) {
        let interval = TimeAmount.nanoseconds(max(idleTimeout.nanoseconds / 2, 1_000_000))
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        sweeper = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            handler.value.closeIdleFlows()
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        sweeper?.cancel()
        for flow in flows.values { flow.upstream?.close(promise: nil) }
        flows.removeAll()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let client = envelope.remoteAddress
        if let flow = flows[client] {
            flow.lastActive = .now()
            if let upstream = flow.upstream {
                upstream.writeAndFlush(envelope.data, promise: nil)
            } else if flow.pending.count < maxPending {
                flow.pending.append(envelope.data)
            }
            return
        }
        startFlow(for: client, first: envelope.data, context: context)
    }

    private func startFlow(for client: SocketAddress, first: ByteBuffer, context: ChannelHandlerContext) {
        let table = tables.current
        guard let route = table.streamRoute(socket: socket, serverName: nil), let choice = route.choice,
              case .cluster(let cluster) = choice.targets[choice.pick(loop.nextRandom())].target, !cluster.endpoints.isEmpty else {
            logger.warning("UDP datagram dropped: no route with a ready backend", metadata: ["listener": "\(socket)"])
            return
        }
        let endpoint = cluster.endpoints[loop.nextIndex(cluster: cluster, count: cluster.endpoints.count, table: table)]
        let flow = Flow()
        flow.pending.append(first)
        flows[client] = flow
        let server = context.channel
        DatagramBootstrap(group: context.eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UDPReplyHandler(server: server, client: client) { [weak flow] in
                        flow?.lastActive = .now()
                    })
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let upstream):
                    guard self.flows[client] === flow else { return upstream.close(promise: nil) }
                    flow.upstream = upstream
                    for datagram in flow.pending { upstream.write(datagram, promise: nil) }
                    flow.pending.removeAll()
                    upstream.flush()
                case .failure(let error):
                    self.flows[client] = nil
                    self.logger.error("cannot open UDP flow to backend", metadata: [
                        "endpoint": "\(endpoint.host):\(endpoint.port)", "error": "\(error)"])
                }
            }
    }

    private func closeIdleFlows() {
        let now = NIODeadline.now()
        for (client, flow) in flows where now - flow.lastActive >= idleTimeout {
            flow.upstream?.close(promise: nil)
            flows[client] = nil
        }
    }
}

/// Sends a backend's replies on a flow back to the client it belongs to, from the listener's socket.
private final class UDPReplyHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let server: any Channel
    private let client: SocketAddress
    private let touched: () -> Void

    init(server: any Channel, client: SocketAddress, touched: @escaping () -> Void) {
        self.server = server
        self.client = client
        self.touched = touched
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        touched()
        server.writeAndFlush(AddressedEnvelope(remoteAddress: client, data: unwrapInboundIn(data).data), promise: nil)
    }

    /// ICMP port unreachable and the like: the flow stays, the next datagram may find the backend back.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}
