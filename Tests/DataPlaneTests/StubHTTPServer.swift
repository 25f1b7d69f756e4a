import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// A small HTTP/1.1 server whose answers a test decides from each request head: an auth service for
/// ForwardAuth, a JWKS endpoint. It remembers the heads it saw.
final class StubHTTPServer: Sendable {
    struct Answer: Sendable {
        var status: Int
        var headers: [(String, String)] = []
        var body: String = ""
    }
    typealias Decide = @Sendable (HTTPRequestHead) -> Answer
    private let decide: Decide
    private let seen = NIOLockedValueBox<[HTTPRequestHead]>([])
    private let listener = LoopbackHTTPListener()

    init(_ decide: @escaping Decide) { self.decide = decide }

    var requests: [HTTPRequestHead] { seen.withLockedValue { $0 } }

    func start(group: any EventLoopGroup) async throws -> Int {
        try await listener.start(group: group) { StubHandler(server: self) }
    }

    func stop() async { await listener.stop() }

    fileprivate func answer(_ head: HTTPRequestHead) -> Answer {
        seen.withLockedValue { $0.append(head) }
        return decide(head)
    }
}

private final class StubHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let server: StubHTTPServer
    var head: HTTPRequestHead?

    init(server: StubHTTPServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            let answer = server.answer(head)
            var headers = HTTPHeaders(answer.headers)
            headers.replaceOrAdd(name: "content-length", value: String(answer.body.utf8.count))
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: answer.status), headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: answer.body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
