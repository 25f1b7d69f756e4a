import Logging
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOSSL
import NIOTLS
import RoutingTable

/// Builds the pipeline of an accepted connection. What a port speaks is only known once the first
/// bytes arrive: cleartext ports tell HTTP/1.1 from prior-knowledge h2c by the connection preface,
/// TLS ports read the ClientHello's server name to pick a certificate (or pass the stream through),
/// then ALPN picks h2 or http/1.1. One per listening socket, shared by its connections' lanes.
final class ConnectionSetup: Sendable {
    let socket: SocketKey
    let tables: TableStore
    let contexts: EventLoopContexts
    let logger: Logger

    init(socket: SocketKey, tables: TableStore, contexts: EventLoopContexts, logger: Logger) {
        self.socket = socket
        self.tables = tables
        self.contexts = contexts
        self.logger = logger
    }

    func configure(_ channel: any Channel, family: String) throws {
        guard contexts.budget.admit(channel) else {
            // Over the connection budget: closed at once, before any handler or buffer is spent on it.
            channel.close(promise: nil)
            return
        }
        try channel.syncOptions?.setOption(.maxMessagesPerRead, value: 16)
        if family == "TCP" { return try channel.pipeline.syncOperations.addHandler(streamProxy(channel, serverName: nil)) }
        let loop = contexts.context(for: channel.eventLoop)
        if family != "TLS", loop.fastLane {
            // Cleartext HTTP with the fast lane: the lane is the connection's one handler from accept.
            // It tells HTTP/1 from prior-knowledge h2c by the first bytes and guards the silence itself.
            return try channel.pipeline.syncOperations.addHandler(
                FastLaneHandler(setup: self, loop: loop, downstream: Downstream(socket: socket, scheme: "http"), sniffing: true))
        }
        // A client that connects and says nothing is closed after the header timeout; once its first
        // bytes have chosen the protocol, that protocol's handlers take over the guarding.
        let silence = channel.eventLoop.assumeIsolated().scheduleTask(in: loop.limits.headerTimeout) {
            channel.close(promise: nil)
        }
        switch family {
        case "TLS":
            // Only while an ACME order of ours is validated by TLS-ALPN-01 on this port is the
            // ClientHello's ALPN read as well; every other connection goes without.
            let peek = tables.tls(socket: socket)?.answersACMEChallenges == true ? ACMEChallengePeek() : nil
            if let peek { try channel.pipeline.syncOperations.addHandler(peek) }
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(SNIHandler { result in
                silence.cancel()
                return self.serverNameKnown(result, channel: channel, offersACMEProtocol: peek?.offersACMEProtocol ?? false)
            }))
        default:
            try channel.pipeline.syncOperations.addHandler(HTTP2PrefaceSniffer { isHTTP2, channel in
                silence.cancel()
                if isHTTP2 {
                    try self.configureHTTP2(channel, scheme: "http")
                } else {
                    try self.configureHTTP1(channel, scheme: "http")
                }
            })
        }
    }

    private func serverNameKnown(_ result: SNIResult, channel: any Channel, offersACMEProtocol: Bool) -> EventLoopFuture<Void> {
        let serverName: String? = if case .hostname(let name) = result { name } else { nil }
        let disposition = tables.tls(socket: socket)?.disposition(serverName: serverName, offersACMEProtocol: offersACMEProtocol) ?? .refuse
        return channel.eventLoop.makeCompletedFuture {
            switch disposition {
            case .terminate(let tls) where tables.current.isStreamListener(socket: socket, serverName: serverName):
                // TLSRoute in Terminate mode: decrypted bytes go to the backend as they are.
                try channel.pipeline.syncOperations.addHandler(tls.serverHandler())
                try channel.pipeline.syncOperations.addHandler(streamProxy(channel, serverName: serverName, terminated: true))
            case .terminate(let tls):
                try channel.pipeline.syncOperations.addHandler(tls.serverHandler())
                try channel.pipeline.syncOperations.addHandler(TLSHandshakeCounter(metrics: contexts.context(for: channel.eventLoop).metrics.gauges))
                try channel.pipeline.syncOperations.addHandler(TLSRecordCoalescer())
                try channel.pipeline.syncOperations.addHandler(ApplicationProtocolNegotiationHandler { alpn, channel in
                    channel.eventLoop.makeCompletedFuture {
                        if case .negotiated("h2") = alpn {
                            try self.configureHTTP2(channel, scheme: "https", serverName: serverName)
                        } else {
                            try self.configureHTTP1(channel, scheme: "https", serverName: serverName)
                        }
                    }
                })
            case .passthrough:
                try channel.pipeline.syncOperations.addHandler(streamProxy(channel, serverName: serverName))
            case .answerACMEChallenge(let context):
                try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                try channel.pipeline.syncOperations.addHandler(ACMEChallengeHandshakeCloser(
                    timeout: contexts.context(for: channel.eventLoop).limits.headerTimeout))
            case .refuse:
                // SNIHandler acts only on success: unclosed, a refused connection would stay open with
                // nobody reading it (as on a port bound only for a TLS-ALPN-01 challenge, which
                // refuses every other client).
                channel.close(promise: nil)
                throw TLSSetupError("no TLS listener on \(socket) accepts server name \"\(serverName ?? "")\"")
            }
        }
    }

    private func streamProxy(_ channel: any Channel, serverName: String?, terminated: Bool = false) -> StreamProxyHandler {
        StreamProxyHandler(socket: socket, serverName: serverName, terminated: terminated, tables: tables,
                           loop: contexts.context(for: channel.eventLoop), logger: logger)
    }

    /// HTTP/1.1. With the fast lane, the codec and the general path are only added when the lane
    /// steps aside, so a connection the lane serves throughout never builds either.
    func configureHTTP1(_ channel: any Channel, scheme: String, serverName: String? = nil) throws {
        let loop = contexts.context(for: channel.eventLoop)
        let pipeline = channel.pipeline.syncOperations
        let downstream = Downstream(socket: socket, scheme: scheme, serverName: serverName)
        if loop.fastLane {
            return try pipeline.addHandler(FastLaneHandler(setup: self, loop: loop, downstream: downstream, sniffing: false))
        }
        try HTTPPipelines.addServerCodec(to: pipeline, position: .last)
        try pipeline.addHandler(ProxyHandler(downstream: downstream, tables: tables, loop: loop))
    }

    /// HTTP/2: NIOHTTP2Handler (whose defaults bound rapid resets, CONTINUATION floods and
    /// control-frame buffering) and `HTTP2Connection`, which runs each stream through the same request
    /// phases and upstream attempt as HTTP/1.1, without a child channel or an HTTP/1 translation.
    func configureHTTP2(_ channel: any Channel, scheme: String, serverName: String? = nil) throws {
        try? channel.pipeline.syncOperations.handler(type: TLSRecordCoalescer.self).defersFlushes = true
        let window = 1 << 20
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 128),
            HTTP2Setting(parameter: .maxHeaderListSize, value: 65536),
            HTTP2Setting(parameter: .initialWindowSize, value: window),
        ]
        connection.targetWindowSize = window
        var stream = NIOHTTP2Handler.StreamConfiguration()
        stream.targetWindowSize = window
        let streams = HTTP2Connection(downstream: Downstream(socket: socket, scheme: scheme, serverName: serverName), tables: tables,
                                      loop: contexts.context(for: channel.eventLoop), targetWindow: window)
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(NIOHTTP2Handler(mode: .server, frameDelegate: streams, connectionConfiguration: connection, streamConfiguration: stream))
        try pipeline.addHandler(streams)
    }
}

/// The HTTP/2 connection preface (prior-knowledge h2c, RFC 9113 §3.3), told from an HTTP/1 request
/// line by a cleartext connection's first bytes: by the fast lane, or by `HTTP2PrefaceSniffer`
/// when the lane is off.
enum HTTP2Preface {
    private static let bytes = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    /// Whether the connection starts with the preface; nil while `first` is a shorter part of it
    /// (the preface may arrive split over reads).
    static func matches(_ first: ByteBuffer) -> Bool? {
        let available = first.readableBytesView
        let compared = min(available.count, bytes.count)
        let isPrefix = available.prefix(compared).elementsEqual(bytes.prefix(compared))
        if isPrefix && compared < bytes.count { return nil }
        return isPrefix
    }
}

/// Waits for enough of a cleartext connection's first bytes to tell the HTTP/2 connection preface
/// from an HTTP/1 request line, configures the pipeline for it, replays the bytes and leaves. Only
/// the first read of a connection passes through here, and only when the fast lane is off.
final class HTTP2PrefaceSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias Configure = (_ isHTTP2: Bool, _ channel: any Channel) throws -> Void

    private let configure: Configure
    private var buffered: ByteBuffer?

    init(configure: @escaping Configure) { self.configure = configure }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if var buffered {
            buffered.writeBuffer(&incoming)
            incoming = buffered
        }
        guard let isHTTP2 = HTTP2Preface.matches(incoming) else {
            buffered = incoming
            return
        }
        buffered = nil
        do {
            try configure(isHTTP2, context.channel)
        } catch {
            context.fireErrorCaught(error)
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(wrapInboundOut(incoming))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    typealias InboundOut = ByteBuffer
}
