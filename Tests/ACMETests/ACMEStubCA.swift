import PebbleLab
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A scripted ACME server over plain HTTP for what Pebble 2.4.0 will not do on demand (rate limits,
/// a refused nonce, an authorization that never finishes). Every request is recorded.
final class StubCA: LoopbackTestServer {
    struct Request: Sendable {
        var method: HTTPMethod
        var path: String
        /// The JWS protected header's nonce, for POSTs.
        var nonce: String?
    }

    struct Response: Sendable {
        var status: HTTPResponseStatus
        var headers: [(String, String)] = []
        var body: String = ""
    }

    typealias Script = @Sendable (_ request: Request, _ earlierPOSTsToPath: Int) -> Response

    let port: Int
    var directoryURL: String { "http://127.0.0.1:\(port)/dir" }
    private let requests: NIOLockedValueBox<[Request]>
    private let channel: any Channel

    init(script: @escaping Script) async throws {
        let requests = NIOLockedValueBox<[Request]>([])
        let nonces = NIOLockedValueBox(0)
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Responder { head, body in
                        let port = channel.localAddress?.port ?? 0
                        let request = Request(method: head.method, path: head.uri, nonce: Self.nonce(inJWS: body))
                        let earlier = requests.withLockedValue { all in
                            defer { all.append(request) }
                            return all.filter { $0.method == .POST && $0.path == head.uri }.count
                        }
                        var response: Response
                        switch (head.method, head.uri) {
                        case (.GET, "/dir"):
                            let base = "http://127.0.0.1:\(port)"
                            response = Response(status: .ok, body: #"{"newNonce":"\#(base)/nonce","newAccount":"\#(base)/account","newOrder":"\#(base)/order"}"#)
                        case (.HEAD, "/nonce"):
                            response = Response(status: .ok)
                        default:
                            response = script(request, earlier)
                        }
                        let nonce = nonces.withLockedValue { $0 += 1; return "nonce-\($0)" }
                        response.headers.append(("Replay-Nonce", nonce))
                        return response
                    })
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
        self.requests = requests
    }

    var recorded: [Request] { requests.withLockedValue { $0 } }

    func close() async { try? await channel.close() }

    static func problem(_ type: String, status: HTTPResponseStatus, detail: String, headers: [(String, String)] = []) -> Response {
        Response(status: status, headers: headers + [("Content-Type", "application/problem+json")],
                 body: #"{"type":"urn:ietf:params:acme:error:\#(type)","detail":"\#(detail)","status":\#(status.code)}"#)
    }

    private static func nonce(inJWS body: ByteBuffer) -> String? {
        guard body.readableBytes > 0,
              let jws = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
              var protected = jws["protected"] as? String else { return nil }
        protected = protected.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        protected += String(repeating: "=", count: (4 - protected.count % 4) % 4)
        guard let data = Data(base64Encoded: protected),
              let header = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return header["nonce"] as? String
    }

    private final class Responder: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let answer: (HTTPRequestHead, ByteBuffer) -> Response
        var head: HTTPRequestHead?
        var body = ByteBuffer()

        init(answer: @escaping (HTTPRequestHead, ByteBuffer) -> Response) { self.answer = answer }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body.clear()
            case .body(var chunk):
                body.writeBuffer(&chunk)
            case .end:
                guard let head else { return }
                let response = answer(head, body)
                var headers = HTTPHeaders(response.headers)
                headers.add(name: "Content-Length", value: "\(response.body.utf8.count)")
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: response.status, headers: headers))),
                              promise: nil)
                if head.method != .HEAD { context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: response.body)))), promise: nil) }
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
