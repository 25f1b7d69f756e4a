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
            #expect(try await Self.get(harness, generalPath: false), "round \(round), lane")
            #expect(try await Self.get(harness, generalPath: true), "round \(round), general path")
        }
        // Every request came after the one before had ended, so each event loop (the harness runs two)
        // never needed more than one connection; two pools would have needed one per path per loop.
        #expect(backend.requestLines.count == 16)
        #expect(backend.connectionsAccepted <= 2, "backend connections opened: \(backend.connectionsAccepted)")
    }

    /// A backend that sends bytes after its response is out of step: its connection is closed, not
    /// pooled, on either path, and the next request gets a fresh one.
    @Test func aConnectionWithBytesAfterTheResponseIsNotReused() async throws {
        let backend = ScriptedBackend(["/": ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n", false)])
        let harness = try await FastLaneTests.gateway(backend: backend.start)
        defer { Task { await backend.stop(); await harness.stop() } }
        for generalPath in [false, true, false, true] {
            #expect(try await Self.get(harness, generalPath: generalPath), "general path: \(generalPath)")
        }
        #expect(backend.requestLines.count == 4)
        #expect(backend.connectionsAccepted == 4, "backend connections opened: \(backend.connectionsAccepted)")
    }

    /// One GET on a new client connection, answered 200 "ok". On the lane the head comes in one read;
    /// for the general path it comes in two, which makes the connection leave the lane.
    static func get(_ harness: GatewayHarness, generalPath: Bool) async throws -> Bool {
        let socket = try BlockingSocket(port: harness.port, timeout: 3)
        if generalPath {
            socket.send("GET / HTTP/1.1\r\nHo")
            try await Task.sleep(for: .milliseconds(30))
            socket.send("st: a.example.com\r\n\r\n")
        } else {
            socket.send("GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n")
        }
        return socket.receive(through: "\r\n\r\n")?.hasPrefix("HTTP/1.1 200") == true && socket.receive(exactly: 2) == Array("ok".utf8)
    }
}
