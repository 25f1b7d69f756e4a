import DataPlane
import Foundation
import NIOCore
import Testing

/// A cleartext connection's life with the fast lane as its only handler: the protocol told by the
/// first bytes, the active-connections gauge and the timeouts on both paths, and drain.
@Suite(.timeLimit(.minutes(2)))
struct ConnectionSetupTests {
    static func activeConnections(_ harness: GatewayHarness) async throws -> Double {
        let admin = try await TestHTTPClient.connect(port: harness.adminPort, group: harness.group)
        defer { Task { await admin.close() } }
        let text = try await admin.request(.GET, "/metrics", host: "admin").text
        let line = text.split(separator: "\n").first { $0.hasPrefix("gateway_active_connections") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? -1
    }

    /// Polls until the gauge reads `expected` (it follows closes a moment later), then returns it.
    static func activeConnections(_ harness: GatewayHarness, becoming expected: Double) async throws -> Double {
        var value = try await activeConnections(harness)
        for _ in 0..<40 where value != expected {
            try await Task.sleep(for: .milliseconds(50))
            value = try await activeConnections(harness)
        }
        return value
    }

    /// Listeners share their port between event loops (SO_REUSEPORT); a second archway started on a
    /// port the first holds must still be refused it, not silently take a share of its connections.
    @Test func aSecondGatewayCannotJoinATakenPort() async throws {
        let first = try await GatewayHarness.startWithOneRoute()
        defer { Task { await first.stop() } }
        let second = GatewayHarness()
        try await second.startBackend("other")
        try second.write("gw.yaml", Manifests.join(Manifests.gateway(), Manifests.service("other", targetPort: second.backendPorts["other"]!),
                                                   Manifests.route("r", path: "/", service: "other")))
        second.extraPortMap = [80: first.port]
        let started: Bool
        do {
            try await second.start()
            started = await second.hostPort(80) == first.port
        } catch {
            started = false
        }
        defer { Task { await second.stop() } }
        #expect(!started, "the second gateway must not hold the first one's port")
        for index in 0..<20 {
            let socket = try BlockingSocket(port: first.port, timeout: 3)
            socket.send("GET /\(index) HTTP/1.1\r\nHost: a.example.com\r\nConnection: close\r\n\r\n")
            let answer = String(decoding: socket.receiveAll(), as: UTF8.self)
            #expect(answer.contains("svc") && !answer.contains("other"), "every connection reaches the first gateway: \(answer.prefix(300))")
        }
    }

    @Test func theHTTP2PrefaceSplitOverReadsStillChoosesHTTP2() async throws {
        let harness = try await GatewayHarness.startWithOneRoute()
        defer { Task { await harness.stop() } }
        let h2 = try BlockingSocket(port: harness.port)
        h2.send("PRI * HTTP/2.0\r\n")
        try await Task.sleep(for: .milliseconds(100))
        h2.send(Array("\r\nSM\r\n\r\n".utf8) + [0, 0, 0, 4, 0, 0, 0, 0, 0])  // the preface's rest, then an empty SETTINGS
        let frame = h2.receive(exactly: 9)
        #expect(frame?[3] == 4 && frame?[4] == 0, "the server's first frame is its SETTINGS: \(frame ?? [])")

        // An HTTP/1 request line split the same way is HTTP/1, served.
        let h1 = try BlockingSocket(port: harness.port)
        h1.send("GET /split HT")
        try await Task.sleep(for: .milliseconds(100))
        h1.send("TP/1.1\r\nHost: a\r\n\r\n")
        #expect(h1.receive(through: "\r\n\r\n")?.hasPrefix("HTTP/1.1 200") == true)
    }

    @Test func eachHTTP1ConnectionIsCountedOnceAndClosedWhenIdleOnEitherPath() async throws {
        let (harness, backend) = try await LimitsTests.harness {
            $0.headerTimeout = .milliseconds(2000)
            $0.idleTimeout = .milliseconds(3000)
        }
        defer { Task { await harness.stop(); await backend.stop() } }
        let before = try await Self.activeConnections(harness)

        let lane = try BlockingSocket(port: harness.port, timeout: 8)
        lane.send("GET /lane HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(lane.receive(through: "\r\n\r\n")?.hasPrefix("HTTP/1.1 200") == true)
        // A head split over reads leaves the lane: the general path takes the connection over.
        let general = try BlockingSocket(port: harness.port, timeout: 8)
        general.send("GET /general HTTP/1.1\r\nHo")
        try await Task.sleep(for: .milliseconds(100))
        general.send("st: a\r\n\r\n")
        #expect(general.receive(through: "\r\n\r\n")?.hasPrefix("HTTP/1.1 200") == true)
        // A connection that has said nothing is not an HTTP/1 connection yet, as before.
        let silent = try BlockingSocket(port: harness.port, timeout: 8)
        #expect(try await Self.activeConnections(harness) == before + 2, "the lane's connection and the general path's, once each")

        let clock = ContinuousClock()
        let (laneTook, generalTook) = (clock.measure { _ = lane.receiveAll() }, clock.measure { _ = general.receiveAll() })
        #expect(laneTook >= .milliseconds(2500) && laneTook < .seconds(6), "idle on the lane: \(laneTook)")
        #expect(generalTook < .seconds(2), "idle on the general path since the same moment: \(generalTook)")
        #expect(silent.receiveAll().isEmpty, "closed by the header timeout")
        #expect(try await Self.activeConnections(harness, becoming: before) == before)
    }

    @Test func drainClosesIdleConnectionsAtOnce() async throws {
        let harness = try await GatewayHarness.startWithOneRoute()
        let idle = try BlockingSocket(port: harness.port, timeout: 8)
        idle.send("GET /one HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(idle.receive(through: "\r\n\r\n")?.hasPrefix("HTTP/1.1 200") == true)
        let silent = try BlockingSocket(port: harness.port, timeout: 8)
        let clock = ContinuousClock()
        let runtime = harness.runtime!
        let shutdown = Task { await runtime.shutdown() }
        // Far sooner than the idle (60 s) or header (10 s) timeout would close them.
        let idleTook = clock.measure { _ = idle.receiveAll() }
        let silentTook = clock.measure { _ = silent.receiveAll() }
        #expect(idleTook < .seconds(3) && silentTook < .seconds(3), "\(idleTook), \(silentTook)")
        await shutdown.value
        await harness.stop()
    }
}
