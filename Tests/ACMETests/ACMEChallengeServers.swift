import ACME
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A loopback server a test starts and must stop, also when the test throws.
protocol LoopbackTestServer: Sendable {
    func close() async
}

func withServer<Server: LoopbackTestServer, Result>(_ server: Server, _ body: (Server) async throws -> Result) async throws -> Result {
    do {
        let result = try await body(server)
        await server.close()
        return result
    } catch {
        await server.close()
        throw error
    }
}

/// What a name's owner serves on port 80 for HTTP-01: `/.well-known/acme-challenge/TOKEN` → body.
final class HTTP01Server: LoopbackTestServer {
    let port: Int
    private let responses: NIOLockedValueBox<[String: String]>
    private let channel: any Channel

    init() async throws {
        let responses = NIOLockedValueBox<[String: String]>([:])
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Responder(responses: responses))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
        self.responses = responses
    }

    func serve(path: String, body: String) { responses.withLockedValue { $0[path] = body } }

    func close() async { try? await channel.close() }

    private final class Responder: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let responses: NIOLockedValueBox<[String: String]>
        init(responses: NIOLockedValueBox<[String: String]>) { self.responses = responses }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .head(let head) = unwrapInboundIn(data) else { return }
            let body = responses.withLockedValue { $0[head.uri] }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Length", value: "\(body?.utf8.count ?? 0)")
            headers.add(name: "Connection", value: "close")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: body == nil ? .notFound : .ok,
                                                                 headers: headers))), promise: nil)
            if let body { context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil) }
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}

/// A TLS port that answers every handshake with the TLS-ALPN-01 challenge certificate set last.
final class TLSALPN01Server: LoopbackTestServer {
    let port: Int
    private let context: NIOLockedValueBox<NIOSSLContext?>
    private let channel: any Channel

    init() async throws {
        let context = NIOLockedValueBox<NIOSSLContext?>(nil)
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let sslContext = context.withLockedValue({ $0 }) else { throw ChannelError.ioOnClosedChannel }
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
        self.context = context
    }

    func offer(_ certificate: TLSALPN01Certificate) throws {
        let sslContext = try NIOSSLContext(configuration: try certificate.makeServerTLSConfiguration())
        context.withLockedValue { $0 = sslContext }
    }

    func close() async { try? await channel.close() }
}
