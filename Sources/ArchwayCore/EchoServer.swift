import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket

/// A small backend for the bundled example and the tests: answers every request with JSON naming
/// itself and echoing what it received (method, path, query, host, headers, body size).
/// `/__echo/bytes/N` streams N bytes back; `/__echo/status/N` answers with status N;
/// `/__echo/hangup` closes the connection without answering. A WebSocket upgrade (any path) is
/// accepted and every text or binary message is sent back as it came; pings get pongs.
public enum EchoServer {
    /// `tls`: serve HTTPS with this context (a TLS backend for passthrough and BackendTLSPolicy).
    public static func start(name: String, host: String, port: Int, group: any EventLoopGroup,
                             tls: NIOSSLContext? = nil) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    let echo = EchoHandler(name: name)
                    let websocket = NIOWebSocketServerUpgrader(
                        maxFrameSize: 1 << 20,
                        shouldUpgrade: { channel, _ in channel.eventLoop.makeSucceededFuture(HTTPHeaders([("x-echo-name", name)])) },
                        upgradePipelineHandler: { channel, _ in
                            channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(WebSocketEchoHandler()) }
                        })
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withServerUpgrade: (upgraders: [websocket], completionHandler: { context in
                            context.pipeline.syncOperations.removeHandler(echo, promise: nil)
                        }),
                        withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(echo)
                }
            }
            .bind(host: host, port: port).get()
    }
}

private final class EchoHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let name: String
    private var head: HTTPRequestHead?
    private var bodyBytes = 0

    init(name: String) { self.name = name }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            bodyBytes = 0
        case .body(let buffer):
            bodyBytes += buffer.readableBytes
        case .end:
            guard let head else { return }
            self.head = nil
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let parts = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = String(parts.first ?? "/")
        let query = parts.count > 1 ? String(parts[1]) : ""
        if path == "/__echo/hangup" {
            context.close(promise: nil)
            return
        }
        if path.hasPrefix("/__echo/bytes/"), let count = Int(path.dropFirst("/__echo/bytes/".count)) {
            return stream(count: count, head: head, context: context)
        }
        var status = HTTPResponseStatus.ok
        if path.hasPrefix("/__echo/status/"), let code = Int(path.dropFirst("/__echo/status/".count)) {
            status = HTTPResponseStatus(statusCode: code)
        }
        var headers: [String: String] = [:]
        for (name, value) in head.headers {
            let key = name.lowercased()
            headers[key] = headers[key].map { "\($0),\(value)" } ?? value
        }
        let document: [String: Any] = [
            "name": name, "method": head.method.rawValue, "path": path, "query": query,
            "host": head.headers.first(name: "host") ?? "", "headers": headers, "body_bytes": bodyBytes,
        ]
        let body = (try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])) ?? Data()
        var responseHeaders = HTTPHeaders([("content-type", "application/json"), ("content-length", String(body.count + 1))])
        responseHeaders.add(name: "x-echo-name", value: name)
        if !head.isKeepAlive { responseHeaders.add(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: responseHeaders))), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: body.count + 1)
        buffer.writeBytes(body)
        buffer.writeString("\n")
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        finish(head: head, context: context)
    }

    /// Streams `count` bytes in 64 KiB chunks, each written after the previous one left the socket.
    private func stream(count: Int, head: HTTPRequestHead, context: ChannelHandlerContext) {
        let headers = HTTPHeaders([("content-type", "application/octet-stream"), ("content-length", String(count)), ("x-echo-name", name)])
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))), promise: nil)
        let chunk = context.channel.allocator.buffer(repeating: UInt8(ascii: "x"), count: 64 * 1024)
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        @Sendable func writeMore(_ remaining: Int) {
            let (handler, context) = loopBound.value
            guard remaining > 0 else { return handler.finish(head: head, context: context) }
            let size = min(remaining, chunk.readableBytes)
            context.writeAndFlush(handler.wrapOutboundOut(.body(.byteBuffer(chunk.getSlice(at: 0, length: size)!)))).whenSuccess {
                writeMore(remaining - size)
            }
        }
        writeMore(count)
    }

    private func finish(head: HTTPRequestHead, context: ChannelHandlerContext) {
        let channel = context.channel
        let keepAlive = head.isKeepAlive
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }
}

/// Echoes WebSocket messages frame by frame (server frames are never masked).
private final class WebSocketEchoHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .binary, .continuation:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: frame.fin, opcode: frame.opcode, data: frame.unmaskedData)), promise: nil)
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .connectionClose:
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: frame.unmaskedData)))
                .whenComplete { _ in channel.close(promise: nil) }
        default:
            break
        }
    }
}
