import Foundation
import Testing

/// HTTP/2 streams driven at the connection level (`HTTP2Connection`, `HTTP2ServerStream`), over
/// loopback with a real client (python h2, prior-knowledge h2c, `Peers/h2_streams.py`) and archway's
/// echo backend: many streams at once, backpressure both ways through flow control, a client reset
/// mid-response, malformed streams among good ones, and gRPC's own answers.
@Suite(.timeLimit(.minutes(2)))
struct HTTP2StreamTests {
    static let peer = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers/h2_streams.py").path

    static func peer(_ arguments: String...) throws -> ExternalTool.Output {
        try ExternalTool.run("python3", [peer] + arguments)
    }

    @Test func manyConcurrentStreamsOnOneConnectionEachGetTheirOwnAnswer() async throws {
        let harness = try await GatewayHarness.startWithOneRoute()
        defer { Task { await harness.stop() } }
        let run = try Self.peer("concurrent", String(harness.port), "a.example.com", "100")
        #expect(run.stdout == "ok 100\n", "\(run.stdout) \(run.stderr)")
    }

    /// The backend accepts no bytes (a listening socket nobody accepts from): the client's window must
    /// stop reopening once the kernel's buffers are full, rather than archway holding the upload.
    @Test func aSlowBackendHoldsTheUploadBackThroughTheStreamWindow() async throws {
        let stalled = try StalledListener()
        defer { stalled.close() }
        let harness = GatewayHarness()
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(), Manifests.service("svc", targetPort: stalled.port),
            Manifests.route("r", path: "/", service: "svc")))
        try await harness.start()
        defer { Task { await harness.stop() } }
        let total = 256 << 20
        let run = try Self.peer("upload", String(harness.port), "a.example.com", String(total))
        let sent = Int(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        // The stream window (1 MiB), one backend write high-water mark and the loopback socket
        // buffers: tens of MiB at most; without backpressure it would be the whole upload.
        #expect(sent > 0 && sent < 48 << 20, "the client could send \(sent) of \(total) bytes to a backend that reads nothing: \(run.stderr)")
    }

    /// A client that never reopens its window: the response waits in NIOHTTP2Handler only up to the
    /// stream's high-water mark, and the backend is not read meanwhile.
    @Test func aClientThatReadsNothingHoldsTheBackendBack() async throws {
        let harness = try await GatewayHarness.startWithOneRoute()
        defer { Task { await harness.stop() } }
        let before = StreamingTests.residentMiB()
        let total = 512 << 20
        let port = harness.port
        async let stalled = Task.detached { try Self.peer("download", String(port), "a.example.com", String(total), "2") }.value
        try await Task.sleep(for: .seconds(3))
        let growth = StreamingTests.residentMiB() - before
        let run = try await stalled
        let received = Int(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        #expect(received > 0 && received <= 65535, "received \(received): \(run.stderr)")
        #expect(growth < 128, "resident memory grew by \(growth) MiB while a 512 MiB response waited for a client that reads nothing")
    }

    /// An HTTP/2 connection left without a stream for the idle timeout gets a GOAWAY naming the last
    /// stream it served and is closed, as an idle HTTP/1 connection is.
    @Test func anIdleConnectionIsToldGoAwayAndClosed() async throws {
        let harness = GatewayHarness()
        harness.limits.idleTimeout = .milliseconds(1000)
        try await harness.startBackend("svc")
        try harness.write("gw.yaml", Manifests.join(Manifests.gateway(), Manifests.service("svc", targetPort: harness.backendPorts["svc"]!),
                                                    Manifests.route("r", path: "/", service: "svc")))
        try await harness.start()
        defer { Task { await harness.stop() } }
        let run = try Self.peer("idle", String(harness.port), "a.example.com")
        let fields = run.stdout.split(separator: " ").map(String.init)
        #expect(fields.prefix(3) == ["200", "goaway:1", "closed"], "\(run.stdout) \(run.stderr)")
        let seconds = Double(fields.last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? -1
        #expect(seconds >= 0.8 && seconds < 5, "closed \(seconds) s after the answer, with a 1 s idle timeout")
    }

    /// `Expect: 100-continue` over HTTP/2 (curl): the gateway's own 100 (a HEADERS block) lets the
    /// body come, and the backend gets it whole, without the expectation.
    @Test func aContinueExpectationIsAnsweredOnAStream() async throws {
        let harness = try await GatewayHarness.startWithOneRoute()
        defer { Task { await harness.stop() } }
        let body = String(repeating: "x", count: 5000)
        let result = try await ExternalTool.curlOffThePool(["--http2-prior-knowledge", "-H", "Host: a.example.com", "-H", "Expect: 100-continue",
                                                            "--data-binary", body, "-w", "\n@@\n%{http_code} %{http_version}",
                                                            "http://127.0.0.1:\(harness.port)/upload"])
        #expect(result.writeOut == "200 2", "\(result)")
        let echoed = try JSONSerialization.jsonObject(with: Data(result.body.utf8)) as? [String: Any] ?? [:]
        #expect(echoed["body_bytes"] as? Int == 5000, "\(result.body.prefix(300))")
        let forwarded = echoed["headers"] as? [String: Any] ?? [:]
        #expect(forwarded["x-forwarded-for"] != nil && forwarded["expect"] == nil, "the expectation is the gateway's to answer, not forwarded: \(forwarded)")
    }

    @Test func aResetMidResponseFreesTheBackendExchange() async throws {
        let harness = try await GatewayHarness.startWithOneRoute()
        defer { Task { await harness.stop() } }
        let run = try Self.peer("reset", String(harness.port), "a.example.com")
        #expect(run.stdout == "200 /after\n", "\(run.stdout) \(run.stderr)")
        // And on a fresh connection, after the abandoned exchange: the pool holds nothing half-read.
        let again = try Self.peer("concurrent", String(harness.port), "a.example.com", "4")
        #expect(again.stdout == "ok 4\n", "\(again.stdout) \(again.stderr)")
    }

    /// RFC 9113 §8.2/§8.3: a malformed request is a stream error (RST_STREAM PROTOCOL_ERROR = 1); the
    /// other streams of the connection go on.
    @Test func malformedStreamsAreResetAndTheOthersContinue() async throws {
        let harness = try await GatewayHarness.startWithOneRoute()
        defer { Task { await harness.stop() } }
        let run = try Self.peer("malformed", String(harness.port), "a.example.com")
        #expect(run.stdout == "reset:1 reset:1 reset:1 reset:1 200\n", "\(run.stdout) \(run.stderr)")
    }

    /// Shutdown drains an HTTP/2 connection: GOAWAY names the stream in flight, which is answered
    /// whole, then the connection closes.
    @Test func drainSendsGoAwayFinishesTheStreamAndCloses() async throws {
        let harness = try await GatewayHarness.startWithOneRoute()
        defer { Task { await harness.stop() } }
        let size = 64 << 20
        let port = harness.port
        let ready = harness.directory.appendingPathComponent("h2-stream-started").path
        async let drained = Task.detached { try Self.peer("drain", String(port), "a.example.com", String(size), ready) }.value
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: ready) { try await Task.sleep(for: .milliseconds(50)) }
        await harness.runtime.shutdown()
        let run = try await drained
        #expect(run.stdout == "\(size) goaway:1 closed\n", "\(run.stdout) \(run.stderr)")
    }

    /// No route: gRPC's Trailers-Only answer, one HEADERS frame with grpc-status 12 (UNIMPLEMENTED).
    @Test func grpcLocalAnswersAreTrailersOnly() async throws {
        let harness = GatewayHarness()
        try await harness.startBackend("svc")
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(), Manifests.service("svc", targetPort: harness.backendPorts["svc"]!),
            Manifests.route("r", path: "/only", service: "svc")))
        try await harness.start()
        defer { Task { await harness.stop() } }
        let run = try Self.peer("grpc", String(harness.port), "a.example.com", "/echo.Echo/Say")
        #expect(run.stdout == "1 12\n", "\(run.stdout) \(run.stderr)")
    }
}

/// A loopback listening socket nothing ever accepts from: connections complete in the kernel's
/// backlog and their bytes fill its buffers, then stop.
final class StalledListener {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound, listen(fd, 16) == 0 else { throw HarnessError.timeout("stalled listener: errno \(errno)") }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() { _ = Glibc.close(fd) }
}
