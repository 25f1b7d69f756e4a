import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Testing

/// Request bodies over real sockets, on the fast lane and on the general path alike: what reaches
/// the backend, in what order, and what a client that frames its body wrongly or is answered early gets.
@Suite(.timeLimit(.minutes(2)))
struct RequestBodyTests {
    /// Pipelined in one write: a Content-Length body, a chunked one (extension and trailer included),
    /// a GET; then a 1 MiB PUT in 64 KiB writes. Every body reaches the backend whole and in order.
    @Test(arguments: [true, false]) func bodiesArriveWholeAndInOrder(fastLane: Bool) async throws {
        let backend = BodyEchoBackend()
        let harness = try await FastLaneTests.gateway(fastLane: fastLane, backend: backend.start)
        defer { Task { await backend.stop(); await harness.stop() } }
        let socket = try BlockingSocket(port: harness.port, timeout: 5)
        socket.send("POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
                    + "POST /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n4\r\ndefg\r\n0\r\nX-Trailer: t\r\n\r\n"
                    + "GET /c HTTP/1.1\r\nHost: a\r\n\r\n")
        let answers = try (0..<3).map { _ in try Self.answer(socket) }
        #expect(answers == ["POST /a length 5: hello", "POST /b chunked: abcdefg", "GET /c none: "])

        let big = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
        socket.send("PUT /big HTTP/1.1\r\nHost: a\r\nContent-Length: \(big.count)\r\n\r\n")
        for start in stride(from: 0, to: big.count, by: 65536) { socket.send(Array(big[start..<min(start + 65536, big.count)])) }
        let head = try #require(socket.receive(through: "\r\n\r\n"))
        #expect(head.hasPrefix("HTTP/1.1 200") && head.contains("X-Seen: PUT /big length \(big.count)"), "\(head)")
        #expect(socket.receive(exactly: big.count) == big, "the 1 MiB body came back changed")
    }

    /// A chunked body that breaks its framing gets the 400 llhttp gives on the general path, and the
    /// connection closes: nothing after the break can be trusted to be a request.
    @Test(arguments: [true, false]) func aMalformedChunkedBodyIsRefusedAndTheConnectionCloses(fastLane: Bool) async throws {
        let backend = BodyEchoBackend()
        let harness = try await FastLaneTests.gateway(fastLane: fastLane, backend: backend.start)
        defer { Task { await backend.stop(); await harness.stop() } }
        let socket = try BlockingSocket(port: harness.port, timeout: 5)
        socket.send("POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n")
        let answer = String(decoding: socket.receiveAll(), as: UTF8.self)
        #expect(answer.hasPrefix("HTTP/1.1 400") && answer.lowercased().contains("connection: close"), "\(answer)")
        #expect(!answer.contains("/smuggled"), "a request hidden in a broken body was served: \(answer)")
    }

    /// A backend that answers before reading the body (a 413 of its own): the client gets that answer,
    /// the rest of its body is read and dropped, and the same connection serves the next request.
    @Test func aBackendAnsweringEarlyLeavesTheConnectionUsable() async throws {
        let backend = ScriptedBackend(["/early": ("HTTP/1.1 413 Content Too Large\r\nContent-Length: 4\r\n\r\nnope", false),
                                       "/after": ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false)])
        let harness = try await FastLaneTests.gateway(backend: backend.start)
        defer { Task { await backend.stop(); await harness.stop() } }
        let socket = try BlockingSocket(port: harness.port, timeout: 5)
        socket.send("POST /early HTTP/1.1\r\nHost: a\r\nContent-Length: 200000\r\n\r\n")
        let early = try #require(socket.receive(through: "\r\n\r\n"))
        #expect(early.hasPrefix("HTTP/1.1 413") && socket.receive(exactly: 4) == Array("nope".utf8), "\(early)")
        socket.send([UInt8](repeating: 0x78, count: 200_000))
        socket.send("GET /after HTTP/1.1\r\nHost: a\r\n\r\n")
        let after = try #require(socket.receive(through: "\r\n\r\n"))
        #expect(after.hasPrefix("HTTP/1.1 200") && socket.receive(exactly: 2) == Array("ok".utf8), "\(after)")
    }

    /// Reads one answer from `BodyEchoBackend`: "METHOD /path framing: body".
    static func answer(_ socket: BlockingSocket) throws -> String {
        let head = try #require(socket.receive(through: "\r\n\r\n"))
        let seen = head.split(separator: "\r\n").first { $0.hasPrefix("X-Seen: ") }.map { String($0.dropFirst(8)) } ?? "?"
        let line = try #require(head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") })
        let length = try #require(Int(line.split(separator: " ").last ?? ""))
        let body = String(decoding: try #require(socket.receive(exactly: length)), as: UTF8.self)
        return "\(seen): \(body)"
    }
}

/// Answers every request with the body it received, and says how it was framed in `X-Seen`
/// ("POST /a length 5", "POST /b chunked", "GET /c none").
final class BodyEchoBackend: Sendable {
    private let listener = LoopbackHTTPListener()

    func start(group: any EventLoopGroup) async throws -> Int {
        try await listener.start(group: group) { BodyEchoHandler() }
    }

    func stop() async { await listener.stop() }
}

private final class BodyEchoHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
        case .body(var part):
            body.writeBuffer(&part)
        case .end:
            guard let head else { return }
            let framing = head.headers.first(name: "content-length").map { "length \($0)" }
                ?? (head.headers.first(name: "transfer-encoding") != nil ? "chunked" : "none")
            var headers = HTTPHeaders([("X-Seen", "\(head.method.rawValue) \(head.uri) \(framing)"), ("Content-Length", "\(body.readableBytes)")])
            headers.add(name: "Connection", value: "keep-alive")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
