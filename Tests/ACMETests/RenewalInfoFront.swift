import ACME
import AsyncHTTPClient
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import PebbleLab

/// Pebble 2.4.0 offers no ACME Renewal Information (RFC 9773), so this stands in front of its
/// directory: `GET /dir` answers Pebble's directory plus a `renewalInfo` URL of its own, and
/// `GET /renewal-info/CERTID` answers a window: for the first certificate ever asked about,
/// `firstWindow` (one in the past, say, as a CA answers after revoking), for every other one the
/// default window; with `Retry-After: 1`. Everything else
/// the directory names is Pebble's, reached directly. Over HTTPS with Pebble's own certificate, so
/// the issuer's caBundle trusts both.
final class RenewalInfoFront: Sendable {
    let port: Int
    var directoryURL: String { "https://127.0.0.1:\(port)/dir" }
    private let windows: NIOLockedValueBox<(default: (start: Date, end: Date), byCertificate: [String: (start: Date, end: Date)])>
    private let asked: NIOLockedValueBox<[String]>
    private let channel: any Channel

    init(pebble: Pebble, window initial: (start: Date, end: Date), firstWindow: (start: Date, end: Date)) async throws {
        let httpClient = try ACMEClient.makeHTTPClient(trustRootsPEM: pebble.tlsTrustRootPEM)
        let response = try await httpClient.execute(HTTPClientRequest(url: pebble.directoryURL), timeout: .seconds(5))
        var directory = try JSONSerialization.jsonObject(with: Data(buffer: try await response.body.collect(upTo: 1 << 20))) as? [String: Any] ?? [:]
        try await httpClient.shutdown()

        let windows = NIOLockedValueBox<(default: (start: Date, end: Date), byCertificate: [String: (start: Date, end: Date)])>((initial, [:]))
        let first = NIOLockedValueBox<String?>(nil)
        let asked = NIOLockedValueBox<[String]>([])
        let certificate = try NIOSSLCertificate.fromPEMFile(pebble.workDirectory.appendingPathComponent("cert.pem").path)
        let key = try NIOSSLPrivateKey(file: pebble.workDirectory.appendingPathComponent("key.pem").path, format: .pem)
        let context = try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: certificate.map { .certificate($0) }, privateKey: .privateKey(key)))
        let port = try freeLoopbackPort()
        directory["renewalInfo"] = "https://127.0.0.1:\(port)/renewal-info"
        let directoryBody = try JSONSerialization.data(withJSONObject: directory)
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Responder { path in
                        if path == "/dir" { return (.ok, directoryBody) }
                        guard path.hasPrefix("/renewal-info/") else { return (.notFound, Data()) }
                        let certID = String(path.dropFirst("/renewal-info/".count))
                        asked.withLockedValue { $0.append(certID) }
                        if first.withLockedValue({ id in defer { id = id ?? certID }; return id == nil }) {
                            windows.withLockedValue { $0.byCertificate[certID] = firstWindow }
                        }
                        let (start, end) = windows.withLockedValue { $0.byCertificate[certID] ?? $0.default }
                        let format = ISO8601DateFormatter()
                        let body = try? JSONSerialization.data(withJSONObject: ["suggestedWindow": ["start": format.string(from: start), "end": format.string(from: end)]])
                        return (.ok, body ?? Data())
                    })
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        self.port = port
        self.windows = windows
        self.asked = asked
    }

    /// The certIDs asked about, in order.
    var certificatesAsked: [String] { asked.withLockedValue { $0 } }

    func close() async { try? await channel.close() }

    private final class Responder: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let answer: @Sendable (String) -> (HTTPResponseStatus, Data)
        init(_ answer: @escaping @Sendable (String) -> (HTTPResponseStatus, Data)) { self.answer = answer }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .head(let head) = unwrapInboundIn(data) else { return }
            let (status, body) = answer(head.uri)
            var headers = HTTPHeaders([("Content-Type", "application/json"), ("Content-Length", "\(body.count)"), ("Retry-After", "1")])
            if !head.isKeepAlive { headers.add(name: "Connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(data: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
