import DataPlane
import Foundation
import NIOCore
import Testing

/// Client limits: oversized requests refused before a backend is touched, dawdling connections
/// closed, and a connection budget that closes the excess at accept.
@Suite(.timeLimit(.minutes(2)))
struct LimitsTests {
    static func harness(fastLane: Bool = true, _ configure: (inout ClientLimits) -> Void) async throws -> (GatewayHarness, RecordingBackend) {
        let harness = GatewayHarness()
        harness.fastLane = fastLane
        configure(&harness.limits)
        let backend = RecordingBackend(name: "backend")
        let port = try await backend.start(group: harness.group)
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(),
            Manifests.service("backend", targetPort: port),
            Manifests.route("all", path: "/", service: "backend")))
        try await harness.start()
        return (harness, backend)
    }

    /// Sends raw bytes and reads until the gateway closes the connection.
    static func exchange(_ port: Int, _ text: String) throws -> String {
        let socket = try BlockingSocket(port: port, timeout: 5)
        socket.send(text)
        return String(decoding: socket.receiveAll(), as: UTF8.self)
    }

    @Test(arguments: [true, false]) func oversizedRequestsAreRefusedBeforeTheBackend(fastLane: Bool) async throws {
        let (harness, backend) = try await Self.harness(fastLane: fastLane) { $0.maxRequestBodyBytes = 1000 }
        defer { Task { await harness.stop(); await backend.stop() } }
        let manyHeaders = (0..<150).map { "X-H\($0): v\r\n" }.joined()
        let tooMany = try Self.exchange(harness.port, "GET /a HTTP/1.1\r\nHost: a\r\n\(manyHeaders)\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(tooMany.hasPrefix("HTTP/1.1 431") && tooMany.contains("151 header fields; the limit is 100"), "\(tooMany.prefix(200))")
        #expect(!tooMany.contains("HTTP/1.1 200"), "the connection closes; the pipelined request is not served")

        let longURI = "/" + String(repeating: "u", count: 20_000)
        let uri = try Self.exchange(harness.port, "GET \(longURI) HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(uri.hasPrefix("HTTP/1.1 414"), "\(uri.prefix(200))")

        let declared = try Self.exchange(harness.port, "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n")
        #expect(declared.hasPrefix("HTTP/1.1 413") && declared.contains("5000 bytes; the limit is 1000"), "answered before the body is sent")

        let chunk = String(repeating: "c", count: 600)
        let streamed = try Self.exchange(harness.port, "POST /stream HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n\(chunk)\r\n258\r\n\(chunk)\r\n0\r\n\r\n")
        #expect(streamed.hasPrefix("HTTP/1.1 413") && streamed.contains("exceeded the limit of 1000"), "\(streamed.prefix(200))")

        #expect(backend.requests.allSatisfy { $0.path != "/smuggled" && $0.path != "/upload" })
        #expect(!backend.requests.contains { $0.path == "/stream" }, "the backend never saw a complete oversized request")
        #expect(try await harness.send("/fine", host: "a").status == 200, "everyone else is still served")
    }

    @Test func slowAndIdleClientsAreClosed() async throws {
        let (harness, backend) = try await Self.harness {
            // Long enough that a loaded CI machine still gets an ordinary request in on time.
            $0.headerTimeout = .milliseconds(2000)
            $0.idleTimeout = .milliseconds(3000)
        }
        defer { Task { await harness.stop(); await backend.stop() } }
        let clock = ContinuousClock()

        // Slowloris: half a head, then nothing.
        let slow = try BlockingSocket(port: harness.port, timeout: 5)
        slow.send("GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ")
        var reply = ""
        let slowTook = clock.measure { reply = String(decoding: slow.receiveAll(), as: UTF8.self) }
        #expect(reply.hasPrefix("HTTP/1.1 408") && reply.contains("request head not received within 2s"), "\(reply)")
        #expect(slowTook >= .milliseconds(1900) && slowTook < .seconds(5))

        // A connection that never sends a byte gets the header timeout too.
        let silent = try BlockingSocket(port: harness.port, timeout: 5)
        let silentTook = clock.measure { _ = silent.receiveAll() }
        #expect(silentTook < .seconds(5))

        // Keep-alive: served, then closed after the idle timeout, not the shorter header timeout.
        let idle = try BlockingSocket(port: harness.port, timeout: 5)
        idle.send("GET /one HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(idle.receive(through: "\r\n\r\n")?.hasPrefix("HTTP/1.1 200") == true)
        let idleTook = clock.measure { _ = idle.receiveAll() }
        #expect(idleTook >= .milliseconds(2600) && idleTook < .seconds(7), "\(idleTook)")

        #expect(try await harness.send("/after", host: "a").status == 200)
    }

    @Test func connectionsOverTheBudgetAreClosedAtAccept() async throws {
        let (harness, backend) = try await Self.harness { $0.maxConnections = 3 }
        defer { Task { await harness.stop(); await backend.stop() } }
        var held = try (0..<3).map { _ in try BlockingSocket(port: harness.port, timeout: 2) }
        for socket in held {
            socket.send("GET /held HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(socket.receive(through: "\r\n\r\n")?.hasPrefix("HTTP/1.1 200") == true)
        }
        let extra = try BlockingSocket(port: harness.port, timeout: 2)
        extra.send("GET /extra HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(extra.receiveAll().isEmpty, "the fourth connection is closed without an answer")
        held.removeLast()  // closes one
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await harness.send("/again", host: "a").status == 200, "a freed slot is usable again")
        for socket in held {
            socket.send("GET /still HTTP/1.1\r\nHost: a\r\n\r\n")
            // The first answer's body ("backend") is still unread ahead of this head.
            #expect(socket.receive(through: "\r\n\r\n")?.contains("backendHTTP/1.1 200") == true, "held connections are unaffected")
        }
    }
}
