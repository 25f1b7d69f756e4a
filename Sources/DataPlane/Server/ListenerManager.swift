import Logging
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOPosix
import Observability

/// Binds one server socket per listener port in the table and keeps the set in step with reloads:
/// new ports are bound, removed ports stop accepting (their open connections finish), kept ports are
/// left alone so no connection notices a reload.
public actor ListenerManager {
    public struct Binding: Sendable {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    private let group: any EventLoopGroup
    private let tables: TableStore
    private let contexts: EventLoopContexts
    private let bindHost: String
    private let portMap: [Int: Binding]
    private let logger: Logger
    /// NIOExtras' quiescing helper follows one server channel, so each bound port has its own.
    /// UDP ports have no connections to drain, hence no quiescing helper.
    private var servers: [Int: (channel: any Channel, quiescing: ServerQuiescingHelper?, family: String)] = [:]

    public init(group: any EventLoopGroup, tables: TableStore, contexts: EventLoopContexts, bindHost: String,
                portMap: [Int: Binding], logger: Logger) {
        self.group = group
        self.tables = tables
        self.contexts = contexts
        self.bindHost = bindHost
        self.portMap = portMap
        self.logger = logger
    }

    /// Makes the bound ports equal `ports` (port → protocol family: HTTP, TLS, TCP, UDP). Returns the
    /// ports that could not be bound, with the error. A removed port stops accepting at once; its open
    /// connections finish their requests and close. A port whose family changed is bound anew.
    @discardableResult
    public func apply(ports: [Int: String]) async -> [Int: String] {
        var failures: [Int: String] = [:]
        for (port, server) in servers where ports[port] != server.family {
            logger.info("listener port removed or changed protocol; draining its connections", metadata: ["port": "\(port)"])
            Self.stop(server)
            servers[port] = nil
            // Closed before apply returns: the port is free for a rebind and refuses new connections.
            try? await server.channel.closeFuture.get()
        }
        for (port, family) in ports.sorted(by: { $0.key < $1.key }) where servers[port] == nil {
            let binding = portMap[port] ?? Binding(host: bindHost, port: port)
            let quiescing = family == "UDP" ? nil : ServerQuiescingHelper(group: group)
            do {
                let channel = try await bind(listenerPort: port, family: family, on: binding, quiescing: quiescing)
                servers[port] = (channel, quiescing, family)
                logger.info("listening", metadata: ["listener_port": "\(port)", "address": "\(binding.host):\(binding.port)"])
            } catch {
                failures[port] = "\(error)"
                logger.error("cannot bind listener port", metadata: ["listener_port": "\(port)", "address": "\(binding.host):\(binding.port)", "error": "\(error)"])
            }
        }
        return failures
    }

    public func localAddress(listenerPort: Int) -> SocketAddress? { servers[listenerPort]?.channel.localAddress }

    /// Stops accepting on every port, lets in-flight requests finish and idle keep-alive connections
    /// close, then returns (or returns at the deadline with connections still open). The helpers are
    /// released here, while the event loops still run: each one completes a promise when it goes.
    public func drain(timeout: TimeAmount) async {
        let eventLoop = group.next()
        let drained = servers.values.map { server in
            let promise = eventLoop.makePromise(of: Void.self)
            Self.stop(server, promise: promise)
            return promise.futureResult
        }
        servers.removeAll()
        let all = EventLoopFuture.andAllComplete(drained, on: eventLoop)
        let deadline = eventLoop.makePromise(of: Void.self)
        all.cascade(to: deadline)
        let timer = eventLoop.scheduleTask(in: timeout) { deadline.succeed(()) }
        try? await deadline.futureResult.get()
        timer.cancel()
    }

    /// Stops accepting: TCP ports drain their connections through the quiescing helper, a UDP port
    /// simply closes. `promise` completes when that is done.
    private static func stop(_ server: (channel: any Channel, quiescing: ServerQuiescingHelper?, family: String),
                             promise: EventLoopPromise<Void>? = nil) {
        if let quiescing = server.quiescing {
            quiescing.initiateShutdown(promise: promise)
        } else {
            server.channel.close(promise: promise)
        }
    }

    private func bind(listenerPort: Int, family: String, on binding: Binding, quiescing: ServerQuiescingHelper?) async throws -> any Channel {
        do {
            return try await bindUnnamed(listenerPort: listenerPort, family: family, on: binding, quiescing: quiescing)
        } catch {
            throw BindFailure(purpose: "listener port \(listenerPort)", host: binding.host, port: binding.port, underlying: error)
        }
    }

    private func bindUnnamed(listenerPort: Int, family: String, on binding: Binding, quiescing: ServerQuiescingHelper?) async throws -> any Channel {
        let setup = ConnectionSetup(listenerPort: listenerPort, tables: tables, contexts: contexts, logger: logger)
        guard let quiescing else {
            let tables = self.tables, contexts = self.contexts, logger = self.logger
            return try await DatagramBootstrap(group: group)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(UDPProxyHandler(
                            listenerPort: listenerPort, tables: tables, loop: contexts.context(for: channel.eventLoop), logger: logger))
                    }
                }
                .bind(host: binding.host, port: binding.port).get()
        }
        // No child channel options: the bootstrap applies those through a chain of futures per
        // accepted connection (about ten allocations); `configure` sets them synchronously instead.
        // TCP_NODELAY needs none: NIO sets it on the listening socket, and accepted sockets inherit it.
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try setup.configure(channel, family: family) }
            }
            .bind(host: binding.host, port: binding.port).get()
    }
}
