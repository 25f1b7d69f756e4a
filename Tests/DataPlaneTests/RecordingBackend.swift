import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// An HTTP/1.1 server on a loopback port for test peers; each connection gets a handler from `makeHandler`.
final class LoopbackHTTPListener: Sendable {
    private let channel = NIOLockedValueBox<(any Channel)?>(nil)

    func start(group: any EventLoopGroup, makeHandler: @escaping @Sendable () -> any ChannelInboundHandler) async throws -> Int {
        let bound = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(makeHandler())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        channel.withLockedValue { $0 = bound }
        return bound.localAddress!.port!
    }

    func stop() async {
        try? await channel.withLockedValue { $0 }?.close()
    }
}

/// A backend that remembers what reached it, for tests that must count tries and mirrored copies.
/// It answers `status` (with its name as the body), or never answers when `silent`.
final class RecordingBackend: Sendable {
    struct Seen: Sendable {
        var method: String
        var path: String
        var host: String
        var bodyBytes: Int
        /// The body itself (for a collector that must be read, e.g. OTLP/JSON).
        var body: [UInt8]
        var headers: HTTPHeaders = [:]
    }
    let name: String
    let status: Int
    let silent: Bool
    private let seen = NIOLockedValueBox<[Seen]>([])
    private let listener = LoopbackHTTPListener()

    init(name: String, status: Int = 200, silent: Bool = false) {
        self.name = name
        self.status = status
        self.silent = silent
    }

    var requests: [Seen] { seen.withLockedValue { $0 } }

    func start(group: any EventLoopGroup) async throws -> Int {
        try await listener.start(group: group) { RecordingHandler(backend: self) }
    }

    func stop() async { await listener.stop() }

    fileprivate func record(_ entry: Seen) { seen.withLockedValue { $0.append(entry) } }
}

private final class RecordingHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let backend: RecordingBackend
    var head: HTTPRequestHead?
    var bodyBytes = 0
    var body: [UInt8] = []

    init(backend: RecordingBackend) { self.backend = backend }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            bodyBytes = 0
            body = []
        case .body(let buffer):
            bodyBytes += buffer.readableBytes
            body += buffer.readableBytesView
        case .end:
            guard let head else { return }
            backend.record(.init(method: head.method.rawValue, path: head.uri, host: head.headers.first(name: "host") ?? "", bodyBytes: bodyBytes, body: body, headers: head.headers))
            guard !backend.silent else { return }
            let body = context.channel.allocator.buffer(string: backend.name)
            let response = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: backend.status),
                                            headers: ["content-length": String(body.readableBytes), "x-backend": backend.name])
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}

extension Manifests {
    /// A Service on port 80 whose ready endpoints are 127.0.0.1 at each of `targetPorts`, one
    /// EndpointSlice per port (a slice has one port list, so different ports need different slices).
    static func service(_ name: String, namespace: String = "default", targetPorts: [Int]) -> String {
        var documents = ["""
        apiVersion: v1
        kind: Service
        metadata: {name: \(name), namespace: \(namespace)}
        spec: {ports: [{name: http, port: 80, targetPort: 8080}]}
        """]
        for (index, port) in targetPorts.enumerated() {
            documents.append("""
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: \(name)-\(index), namespace: \(namespace), labels: {kubernetes.io/service-name: \(name)}}
            addressType: IPv4
            ports: [{name: http, port: \(port)}]
            endpoints:
            - addresses: [127.0.0.1]
              conditions: {ready: true}
            """)
        }
        return documents.joined(separator: "\n---\n")
    }
}
