import Foundation
import NIOCore
import Testing

/// One pool of HTTP/1 backend connections for both request paths: a connection the fast lane
/// used is taken by the general path next, and the other way round.
@Suite(.timeLimit(.minutes(2)))
struct UpstreamPoolTests {
    @Test func theLaneAndTheGeneralPathShareBackendConnections() async throws {
        let backend = ScriptedBackend(["/": ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false)])
        let harness = try await FastLaneTests.gateway(backend: backend.start)
        defer { Task { await backend.stop(); await harness.stop() } }
        for round in 0..<8 {
            // On the lane: a whole head in one read.
            let lane = try BlockingSocket(port: harness.port, timeout: 3)
            lane.send("GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n")
            #expect(lane.receive(through: "\r\n\r\n")?.hasPrefix("HTTP/1.1 200") == true && lane.receive(exactly: 2) != nil, "round \(round), lane")
            // On the general path: a head that arrives in two reads leaves the lane.
            let general = try BlockingSocket(port: harness.port, timeout: 3)
            general.send("GET / HTTP/1.1\r\nHo")
            try await Task.sleep(for: .milliseconds(30))
            general.send("st: a.example.com\r\n\r\n")
            #expect(general.receive(through: "\r\n\r\n")?.hasPrefix("HTTP/1.1 200") == true && general.receive(exactly: 2) != nil,
                    "round \(round), general path")
        }
        // Every request came after the one before had ended, so each event loop (the harness runs two)
        // never needed more than one connection; two pools would have needed one per path per loop.
        #expect(backend.requestLines.count == 16)
        #expect(backend.connectionsAccepted <= 2, "backend connections opened: \(backend.connectionsAccepted)")
    }
}
