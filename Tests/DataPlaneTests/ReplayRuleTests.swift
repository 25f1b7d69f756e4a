import Foundation
import NIOCore
import Testing

/// One rule for sending a request again, on every path: a request meets a pooled connection the
/// backend has just closed; it is sent once more only when a second copy can do no harm.
@Suite(.timeLimit(.minutes(2)))
struct ReplayRuleTests {
    static func staleBackend() -> ScriptedBackend {
        // Each connection answers one request, then closes when the next one arrives, unanswered.
        ScriptedBackend(["/": ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false)], answersPerConnection: 1)
    }

    /// HTTP/1 on the fast lane and on the general path alike.
    @Test(arguments: [true, false]) func aBodylessPOSTOnAStaleConnectionIsNotSentTwice(fastLane: Bool) async throws {
        let backend = Self.staleBackend()
        let harness = try await FastLaneTests.gateway(fastLane: fastLane, backend: backend.start)
        defer { Task { await backend.stop(); await harness.stop() } }
        let client = try await harness.client()
        #expect(try await client.request(.GET, "/", host: "a.example.com").status == 200)
        let post = try await client.request(.POST, "/", host: "a.example.com", headers: [("content-length", "0")])
        #expect(post.status == 502, "a POST whose connection closed unanswered may have had its effect: \(post.status)")
        await client.close()
        #expect(backend.requestLines.filter { $0.hasPrefix("POST ") }.count == 1, "the backend saw the POST twice: \(backend.requestLines)")
        // A PUT is idempotent, but once its body has gone out (here it arrives with its head) it is
        // not sent again either. One whose body had not yet arrived may be: the backend saw no body.
        let socket = try BlockingSocket(port: harness.port, timeout: 3)
        socket.send("GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n")
        #expect(socket.receive(through: "\r\n\r\n")?.hasPrefix("HTTP/1.1 200") == true && socket.receive(exactly: 2) != nil)
        socket.send("PUT / HTTP/1.1\r\nHost: a.example.com\r\nContent-Length: 4\r\n\r\ndata")
        let put = socket.receive(through: "\r\n\r\n") ?? ""
        #expect(put.hasPrefix("HTTP/1.1 502"), "\(put)")
        #expect(backend.requestLines.filter { $0.hasPrefix("PUT ") }.count == 1, "the backend saw the PUT twice: \(backend.requestLines)")
        // An idempotent request in the same situation is sent again, and the client never knows.
        let again = try await harness.client()
        #expect(try await again.request(.GET, "/", host: "a.example.com").status == 200)
        #expect(try await again.request(.GET, "/", host: "a.example.com").status == 200)
        await again.close()
    }

    /// The same over HTTP/2 from the client: both requests on one h2c connection (python h2).
    @Test func overHTTP2TheSameRuleHolds() async throws {
        let backend = Self.staleBackend()
        let harness = try await FastLaneTests.gateway(backend: backend.start)
        defer { Task { await backend.stop(); await harness.stop() } }
        let client = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers/h2_client.py").path
        let run = try ExternalTool.run("python3", [client, String(harness.port), "a.example.com", "GET:/", "POST:/"])
        #expect(run.stdout == "200 502\n", "\(run.stdout) \(run.stderr) \(run.status)")
        #expect(backend.requestLines.filter { $0.hasPrefix("POST ") }.count == 1, "the backend saw the POST twice: \(backend.requestLines)")
    }

    /// A client that leaves while its request waits out a retry back-off gives back its circuit-breaker
    /// slot at once: the next request is not refused as if it were still in flight.
    @Test func aClientLeavingDuringBackoffFreesItsSlot() async throws {
        let backend = ScriptedBackend(["/retry": ("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", false),
                                       "/plain": ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false)])
        let harness = GatewayHarness()
        let port = try await backend.start(group: harness.group)
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(), Manifests.service("svc", targetPort: port),
            """
            apiVersion: archway.dev/v1alpha1
            kind: BackendTrafficPolicy
            metadata: {name: svc}
            spec:
              targetRefs: [{group: "", kind: Service, name: svc}]
              circuitBreaker: {maxRequests: 1}
            """,
            Manifests.route("retrying", path: "/retry", service: "svc", ruleFields: "retry: {codes: [500], attempts: 1, backoff: 10s}"),
            Manifests.route("plain", path: "/plain", service: "svc")))
        try await harness.start()
        defer { Task { await backend.stop(); await harness.stop() } }
        var leaving: BlockingSocket? = try BlockingSocket(port: harness.port, timeout: 5)
        leaving?.send("GET /retry HTTP/1.1\r\nHost: a.example.com\r\n\r\n")
        try await ResilienceTests.eventually { backend.requestLines.count == 1 }
        try await Task.sleep(for: .milliseconds(100))  // the 500 arrives; the retry waits out its back-off
        leaving = nil  // closes the socket
        #expect(leaving == nil)
        try await Task.sleep(for: .milliseconds(200))
        let next = try await harness.send("/plain", host: "a.example.com")
        #expect(next.status == 200, "the slot of the client that left is still taken: \(next.status) \(next.text)")
    }
}
