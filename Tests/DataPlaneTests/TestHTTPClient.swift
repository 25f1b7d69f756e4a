import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A plain HTTP/1.1 client over a real socket, one connection, requests in sequence (keep-alive).
/// Bodies can be streamed from a generator so multi-hundred-MiB uploads never sit in memory.
final class TestHTTPClient: Sendable {
    struct Response: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: ByteBuffer
        var text: String { String(buffer: body) }
        var bodyBytes: Int
    }

    let channel: any Channel
    private let handler: ResponseCollector

    /// `tls`: speak HTTPS, sending `serverName` as SNI and trusting only `trustPEM`.
    static func connect(host: String = "127.0.0.1", port: Int, group: any EventLoopGroup, tls: (trustPEM: String, serverName: String)? = nil) async throws -> TestHTTPClient {
        let collector = ResponseCollector()
        let sslContext = try tls.map { tls in
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(tls.trustPEM.utf8)))
            configuration.applicationProtocols = ["http/1.1"]
            return try NIOSSLContext(configuration: configuration)
        }
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext, let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: tls.serverName))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(collector)
                }
            }
            .connect(host: host, port: port).get()
        return TestHTTPClient(channel: channel, handler: collector)
    }

    private init(channel: any Channel, handler: ResponseCollector) {
        self.channel = channel
        self.handler = handler
    }

    /// Sends one request. `bodyChunks` chunks of `chunkSize` bytes are streamed, each written once the
    /// previous one has left, so the client holds one chunk at a time. `keepBody: false` only counts.
    func request(_ method: HTTPMethod = .GET, _ uri: String, host: String, headers: [(String, String)] = [],
                 body: ByteBuffer? = nil, bodyChunks: Int = 0, chunkSize: Int = 1 << 20, chunked: Bool = false,
                 keepBody: Bool = true) async throws -> Response {
        var requestHeaders = HTTPHeaders([("host", host)])
        requestHeaders.add(contentsOf: headers)
        if let body {
            requestHeaders.add(name: "content-length", value: String(body.readableBytes))
        } else if bodyChunks > 0 {
            requestHeaders.add(name: chunked ? "transfer-encoding" : "content-length",
                               value: chunked ? "chunked" : String(bodyChunks * chunkSize))
        }
        let promise = channel.eventLoop.makePromise(of: Response.self)
        handler.expect(promise, keepBody: keepBody, channel: channel)
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: requestHeaders)
        do {
            try await channel.writeAndFlush(HTTPClientRequestPart.head(head))
            if let body {
                try await channel.writeAndFlush(HTTPClientRequestPart.body(.byteBuffer(body)))
            }
            if bodyChunks > 0 {
                let chunk = channel.allocator.buffer(repeating: UInt8(ascii: "a"), count: chunkSize)
                for _ in 0..<bodyChunks {
                    try await channel.writeAndFlush(HTTPClientRequestPart.body(.byteBuffer(chunk)))
                }
            }
            try await channel.writeAndFlush(HTTPClientRequestPart.end(nil))
        } catch {
            // The server may answer and close before the request is written out (a refused request):
            // its answer, if it came, is still the result.
            handler.giveUp(promise, error: error, channel: channel)
        }
        return try await promise.futureResult.get()
    }

    func close() async {
        try? await channel.close()
    }
}

private final class ResponseCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart

    private var promise: EventLoopPromise<TestHTTPClient.Response>?
    private var keepBody = true
    private var head: HTTPResponseHead?
    private var body = ByteBuffer()
    private var bodyBytes = 0

    /// Fails the request's promise unless the answer already completed it.
    func giveUp(_ promise: EventLoopPromise<TestHTTPClient.Response>, error: any Error, channel: any Channel) {
        channel.eventLoop.execute {
            guard self.promise?.futureResult === promise.futureResult else { return }
            self.promise = nil
            promise.fail(error)
        }
    }

    func expect(_ promise: EventLoopPromise<TestHTTPClient.Response>, keepBody: Bool, channel: any Channel) {
        channel.eventLoop.execute {
            // A connection the server already closed will never answer.
            guard channel.isActive else { return promise.fail(ChannelError.ioOnClosedChannel) }
            self.promise = promise
            self.keepBody = keepBody
            self.head = nil
            self.body.clear()
            self.bodyBytes = 0
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            if head.status.code >= 200 { self.head = head }
        case .body(var buffer):
            bodyBytes += buffer.readableBytes
            if keepBody { body.writeBuffer(&buffer) }
        case .end:
            guard let head else { return }
            promise?.succeed(.init(status: Int(head.status.code), headers: head.headers, body: body, bodyBytes: bodyBytes))
            promise = nil
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise?.fail(ChannelError.eof)
        promise = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise?.fail(error)
        promise = nil
        context.close(promise: nil)
    }
}
