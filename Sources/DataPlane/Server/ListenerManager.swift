#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import Logging
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOPosix
import Observability
import RoutingTable

/// Binds one server socket per (address, listener port) in the table and keeps the set in step with
/// reloads: new sockets are bound, removed ones stop accepting (their open connections finish), kept
/// ones are left alone so no connection notices a reload. Gateways without an address of their own
/// share the default bind address; a Gateway's own address gets sockets of its own, which the kernel
/// prefers over the wildcard for connections made to that address.
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
    /// A bound port: one listening socket per event loop for TCP families, one socket for UDP.
    private struct Server {
        /// NIOExtras' quiescing helper follows one server channel, so each socket has its own. UDP
        /// sockets have no connections to drain, hence no quiescing helper.
        var sockets: [(channel: any Channel, quiescing: ServerQuiescingHelper?)]
        let family: String
    }

    private var servers: [SocketKey: Server] = [:]

    public init(group: any EventLoopGroup, tables: TableStore, contexts: EventLoopContexts, bindHost: String,
                portMap: [Int: Binding], logger: Logger) {
        self.group = group
        self.tables = tables
        self.contexts = contexts
        self.bindHost = bindHost
        self.portMap = portMap
        self.logger = logger
    }

    /// Makes the bound sockets equal `sockets` (socket → protocol family: HTTP, TLS, TCP, UDP). Returns
    /// the sockets that could not be bound, with the error. A removed socket stops accepting at once;
    /// its open connections finish their requests and close. One whose family changed is bound anew.
    @discardableResult
    public func apply(sockets: [SocketKey: String]) async -> [SocketKey: String] {
        var failures: [SocketKey: String] = [:]
        for (key, server) in servers where sockets[key] != server.family {
            logger.info("listener socket removed or changed protocol; draining its connections", metadata: ["listener": "\(key)"])
            Self.stop(server)
            servers[key] = nil
            // Closed before apply returns: the port is free for a rebind and refuses new connections.
            for socket in server.sockets { try? await socket.channel.closeFuture.get() }
        }
        for (key, family) in sockets.sorted(by: { $0.key < $1.key }) where servers[key] == nil {
            let binding = self.binding(for: key)
            do {
                servers[key] = Server(sockets: try await bind(key, family: family, on: binding), family: family)
                logger.info("listening", metadata: ["listener": "\(key)", "address": "\(binding.host):\(binding.port)"])
            } catch {
                failures[key] = "\(error)"
                logger.error("cannot bind listener socket", metadata: ["listener": "\(key)", "address": "\(binding.host):\(binding.port)", "error": "\(error)"])
            }
        }
        return failures
    }

    /// Where a socket binds: the default address, or the Gateway's own; `--port-map` moves the port on
    /// every address (and its host, for the default address only).
    private func binding(for key: SocketKey) -> Binding {
        let mapped = portMap[key.port] ?? Binding(host: bindHost, port: key.port)
        guard let address = key.address else { return mapped }
        return Binding(host: address, port: mapped.port)
    }

    public func localAddress(listenerPort: Int, address: String? = nil) -> SocketAddress? {
        servers[SocketKey(address: address, port: listenerPort)]?.sockets.first?.channel.localAddress
    }

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

    /// Stops accepting: TCP ports drain their connections through the quiescing helpers, a UDP port
    /// simply closes. `promise` completes when that is done.
    private static func stop(_ server: Server, promise: EventLoopPromise<Void>? = nil) {
        let stopped = server.sockets.map { socket in
            let done = socket.channel.eventLoop.makePromise(of: Void.self)
            if let quiescing = socket.quiescing {
                quiescing.initiateShutdown(promise: done)
            } else {
                socket.channel.close(promise: done)
            }
            return done.futureResult
        }
        guard let promise else { return }
        EventLoopFuture.andAllComplete(stopped, on: promise.futureResult.eventLoop).cascade(to: promise)
    }

    /// TCP families get a listening socket per event loop, sharing the port (SO_REUSEPORT): the kernel
    /// spreads the connections, and each loop accepts its own, so an accepted connection never hops
    /// threads (no cross-loop registration, wake-up or bookkeeping per connection), and no loop does
    /// every accept. A port 0 (the kernel picks) is picked by the first socket; the others join it.
    private func bind(_ key: SocketKey, family: String, on binding: Binding) async throws -> [(channel: any Channel, quiescing: ServerQuiescingHelper?)] {
        var bound: [(channel: any Channel, quiescing: ServerQuiescingHelper?)] = []
        var binding = binding
        do {
            if family == "UDP" { return [(try await bindUnnamed(key, family: family, on: binding, loop: nil, quiescing: nil), nil)] }
            // The wildcard and a specific address on one host port overlap: when one is ours already,
            // the probe would collide with our own SO_REUSEPORT socket. Two specific addresses do not.
            let ownPort = servers.contains { other, server in
                server.family != "UDP" && self.binding(for: other).port == binding.port && (other.address == nil || key.address == nil)
            }
            if binding.port != 0, !ownPort { try await claimExclusively(binding, freeBind: Self.freeBind(key)) }
            for loop in group.makeIterator() {
                let quiescing = ServerQuiescingHelper(group: loop)
                let channel = try await bindUnnamed(key, family: family, on: binding, loop: loop, quiescing: quiescing)
                bound.append((channel, quiescing))
                if binding.port == 0, let port = channel.localAddress?.port { binding.port = port }
            }
            return bound
        } catch {
            for socket in bound { try? await socket.channel.close() }
            throw BindFailure(purpose: "listener \(key)", host: binding.host, port: binding.port, underlying: error)
        }
    }

    /// SO_REUSEPORT would let a second process of the same user (another archway left running) join
    /// the port silently and take a share of its connections. A plain bind first, closed at once,
    /// makes a port that anyone already holds fail with "address in use", as it did before.
    private func claimExclusively(_ binding: Binding, freeBind: ChannelOptions.Types.SocketOption?) async throws {
        var bootstrap = ServerBootstrap(group: group).serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        if let freeBind { bootstrap = bootstrap.serverChannelOption(freeBind, value: 1) }
        let probe = try await bootstrap.bind(host: binding.host, port: binding.port).get()
        try await probe.close()
    }

    private func bindUnnamed(_ key: SocketKey, family: String, on binding: Binding, loop: (any EventLoop)?,
                             quiescing: ServerQuiescingHelper?) async throws -> any Channel {
        let setup = ConnectionSetup(socket: key, tables: tables, contexts: contexts, logger: logger)
        // A Gateway's own address may not be on an interface yet (layer-2 announcement adds it when
        // this replica takes it over): IP_FREEBIND lets the socket wait for it instead of failing.
        let freeBind = Self.freeBind(key)
        guard let quiescing, let loop else {
            let tables = self.tables, contexts = self.contexts, logger = self.logger
            var datagram = DatagramBootstrap(group: group).channelOption(.socketOption(.so_reuseaddr), value: 1)
            if let freeBind { datagram = datagram.channelOption(freeBind, value: 1) }
            return try await datagram
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(UDPProxyHandler(
                            socket: key, tables: tables, loop: contexts.context(for: channel.eventLoop), logger: logger))
                    }
                }
                .bind(host: binding.host, port: binding.port).get()
        }
        // No child channel options: the bootstrap applies those through a chain of futures per
        // accepted connection (about ten allocations); `configure` sets them synchronously instead.
        // TCP_NODELAY needs none: NIO sets it on the listening socket, and accepted sockets inherit it.
        var server = ServerBootstrap(group: loop)
        if let freeBind { server = server.serverChannelOption(freeBind, value: 1) }
        return try await server
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.socketOption(NIOBSDSocket.Option(rawValue: SO_REUSEPORT)), value: 1)
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

    /// IP_FREEBIND, or IPV6_FREEBIND (Linux 4.15; not in Glibc's headers) for an IPv6 address: set
    /// on a Gateway's own address only, so a socket can wait for the address to arrive.
    private static func freeBind(_ key: SocketKey) -> ChannelOptions.Types.SocketOption? {
        guard let address = key.address else { return nil }
        return address.contains(":") ? ChannelOptions.Types.SocketOption(level: .ipv6, name: NIOBSDSocket.Option(rawValue: 78))
            : ChannelOptions.Types.SocketOption(level: .ip, name: NIOBSDSocket.Option(rawValue: Int32(IP_FREEBIND)))
    }
}
