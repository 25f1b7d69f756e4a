import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

/// What the upstream conformance tests HTTPRouteRetryConnectionError and HTTPRouteRetryWithTimeouts
/// assert, against a backend that drops the first requests it gets on a path and then answers.
@Suite(.timeLimit(.minutes(2)))
struct RetryConformanceTests {
    /// Conformance: HTTPRouteRetryConnectionError
    /// HTTPRouteRetryConnectionError, `attempts: 3`: a backend that recovers after two resets is
    /// reached (200); one that needs four never is, and the client gets a 503 after exactly four tries,
    /// even when the first goes out on a warm pooled connection.
    @Test(arguments: [true, false]) func HTTPRouteRetryConnectionError(fastLane: Bool) async throws {
        for (failures, status, tries) in [(2, 200, 3), (4, 503, 4)] {
            let backend = DroppingBackend(dropFirst: failures, onPath: "/retry")
            let harness = try await FastLaneTests.gateway(fastLane: fastLane, ruleFields: "retry: {attempts: 3}", backend: backend.start)
            defer { Task { await backend.stop(); await harness.stop() } }
            let client = try await harness.client()
            #expect(try await client.request(.GET, "/warm", host: "a.example.com").status == 200)  // a pooled connection to start on
            let answer = try await client.request(.GET, "/retry", host: "a.example.com")
            await client.close()
            #expect(answer.status == status, "\(failures) resets: \(answer.status) \(answer.text)")
            #expect(backend.seen("/retry") == tries, "\(failures) resets: the backend saw \(backend.seen("/retry")) tries")
        }
    }

    /// Between tries the gateway waits (25 ms when the route names no back-off, as Envoy does): a
    /// request timeout of 400 ms leaves room for fewer tries than a back-to-back loop would make.
    @Test func triesAreSpacedByTheDefaultBackoff() async throws {
        let backend = DroppingBackend(dropFirst: 100, onPath: "/retry")
        let harness = try await FastLaneTests.gateway(ruleFields: "retry: {attempts: 40}\ntimeouts: {request: 400ms}", backend: backend.start)
        defer { Task { await backend.stop(); await harness.stop() } }
        let answer = try await harness.send("/retry", host: "a.example.com")
        #expect(answer.status == 504, "\(answer.status) \(answer.text)")
        // 400 ms at 25 ms apart is at most 17 tries; back to back on loopback it would be hundreds.
        #expect(backend.seen("/retry") <= 17 && backend.seen("/retry") >= 5, "tries: \(backend.seen("/retry"))")
    }
}

/// Closes the connection, unanswered, on the first `dropFirst` requests for `onPath`; answers every
/// other request 200 "ok" and keeps the connection.
final class DroppingBackend: Sendable {
    private let dropFirst: Int
    private let path: String
    private let counts = NIOLockedValueBox<[String: Int]>([:])
    private let channel = NIOLockedValueBox<(any Channel)?>(nil)

    init(dropFirst: Int, onPath path: String) {
        self.dropFirst = dropFirst
        self.path = path
    }

    func seen(_ path: String) -> Int { counts.withLockedValue { $0[path] ?? 0 } }

    func start(group: any EventLoopGroup) async throws -> Int {
        let bound = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(DroppingHandler(backend: self)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        channel.withLockedValue { $0 = bound }
        return bound.localAddress!.port!
    }

    func stop() async { try? await channel.withLockedValue { $0 }?.close() }

    /// Whether this request (by its path) is to be dropped.
    fileprivate func arrived(_ requestPath: String) -> Bool {
        counts.withLockedValue { counts in
            counts[requestPath, default: 0] += 1
            return requestPath == path && counts[requestPath]! <= dropFirst
        }
    }
}

private final class DroppingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let backend: DroppingBackend
    private var held = ""

    init(backend: DroppingBackend) { self.backend = backend }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        held += buffer.readString(length: buffer.readableBytes) ?? ""
        while let end = held.range(of: "\r\n\r\n") {
            let head = held[..<end.lowerBound]
            held = String(held[end.upperBound...])
            let target = head.split(separator: " ").dropFirst().first.map(String.init) ?? "/"
            if backend.arrived(target) { return context.close(promise: nil) }
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")), promise: nil)
        }
    }
}
