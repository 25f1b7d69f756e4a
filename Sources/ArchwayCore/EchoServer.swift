import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket

/// A small backend for the bundled example and the tests: answers every request with JSON naming
/// itself and echoing what it received (method, path, query, host, headers, body size).
/// `/__echo/bytes/N` streams N bytes back; `/__echo/status/N` answers with status N;
/// `/__echo/hangup` closes the connection without answering. `POST /__echo/fail/N` makes the backend
/// answer every later request with status N, `POST /__echo/slow/MS` answer MS milliseconds late, and
/// `POST /__echo/heal` undoes both: how the rollout example makes its canary misbehave. A WebSocket
/// upgrade (any path) is accepted and every text or binary message is sent back as it came; pings get pongs.
public enum EchoServer {
    /// A backend's injected faults, shared by its connections.
    final class Faults: Sendable {
        let state = NIOLockedValueBox<(status: Int?, delayMillis: Int)>((nil, 0))
    }

    /// `tls`: serve HTTPS with this context (a TLS backend for passthrough and BackendTLSPolicy).
    public static func start(name: String, host: String, port: Int, group: any EventLoopGroup,
                             tls: NIOSSLContext? = nil) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [faults = Faults()] channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    let echo = EchoHandler(name: name, faults: faults)
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
    private let faults: EchoServer.Faults
    private var head: HTTPRequestHead?
    private var bodyBytes = 0

    init(name: String, faults: EchoServer.Faults) {
        self.name = name
        self.faults = faults
    }

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
        if head.method == .POST, path.hasPrefix("/__echo/fail/") || path.hasPrefix("/__echo/slow/") || path == "/__echo/heal" {
            let number = Int(path.split(separator: "/").last ?? "")
            faults.state.withLockedValue { state in
                if path == "/__echo/heal" { state = (nil, 0) }
                else if path.hasPrefix("/__echo/fail/") { state.status = number }
                else { state.delayMillis = max(0, number ?? 0) }
            }
        }
        let (failing, delay) = faults.state.withLockedValue { $0 }
        if delay > 0, !path.hasPrefix("/__echo/") {
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .milliseconds(Int64(delay))) {
                let (handler, context) = bound.value
                handler.answer(head, path: path, query: query, failing: failing, context: context)
            }
            return
        }
        answer(head, path: path, query: query, failing: failing, context: context)
    }

    private func answer(_ head: HTTPRequestHead, path: String, query: String, failing: Int?, context: ChannelHandlerContext) {
        if path.hasPrefix("/__echo/bytes/"), let count = Int(path.dropFirst("/__echo/bytes/".count)) {
            return stream(count: count, head: head, context: context)
        }
        var status = HTTPResponseStatus.ok
        if path.hasPrefix("/__echo/status/"), let code = Int(path.dropFirst("/__echo/status/".count)) {
            status = HTTPResponseStatus(statusCode: code)
        } else if let failing, !path.hasPrefix("/__echo/") {
            status = HTTPResponseStatus(statusCode: failing)
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
