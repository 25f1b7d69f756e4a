import Glibc
import Foundation
import NIOCore
import Testing

/// What a client sees when something behind the gateway is wrong: each answer has its own status and a
/// body saying why, and the gateway keeps serving everything else.
@Suite(.timeLimit(.minutes(2)))
struct FailureTests {
    @Test func statusCodesForBrokenBackends() async throws {
        let harness = GatewayHarness()
        try await harness.startBackend("alive")
        try await harness.startBackend("doomed")
        let deadPort = harness.backendPorts["doomed"]!
        try await harness.stopBackend("doomed")  // nothing listens there any more
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(namespace: "apps"),
            Manifests.service("alive", namespace: "apps", targetPort: harness.backendPorts["alive"]!),
            Manifests.service("dead", namespace: "apps", targetPort: deadPort),
            Manifests.service("not-ready", namespace: "apps", targetPort: harness.backendPorts["alive"]!, ready: false),
            Manifests.service("elsewhere", namespace: "other", targetPort: harness.backendPorts["alive"]!),
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: broken, namespace: apps}
            spec:
              parentRefs: [{name: gw}]
              rules:
              - matches: [{path: {type: PathPrefix, value: /missing}}]
                backendRefs: [{name: no-such-service, port: 80}]
              - matches: [{path: {type: PathPrefix, value: /refused}}]
                backendRefs: [{name: elsewhere, namespace: other, port: 80}]
              - matches: [{path: {type: PathPrefix, value: /dead}}]
                backendRefs: [{name: dead, port: 80}]
              - matches: [{path: {type: PathPrefix, value: /not-ready}}]
                backendRefs: [{name: not-ready, port: 80}]
              - matches: [{path: {type: PathPrefix, value: /}}]
                backendRefs: [{name: alive, port: 80}]
            """))
        try await harness.start()
        defer { Task { await harness.stop() } }

        let client = try await harness.client()
        let missing = try await client.request(.GET, "/missing", host: "x.example.com")
        #expect(missing.status == 500 && missing.text.contains("no-such-service"))
        let refused = try await client.request(.GET, "/refused", host: "x.example.com")
        #expect(refused.status == 500 && refused.text.contains("ReferenceGrant"))
        let dead = try await client.request(.GET, "/dead", host: "x.example.com")
        #expect(dead.status == 502 && dead.text.contains("cannot connect"))
        let notReady = try await client.request(.GET, "/not-ready", host: "x.example.com")
        #expect(notReady.status == 503 && notReady.text.contains("no ready endpoints"))
        let hangup = try await client.request(.GET, "/__echo/hangup", host: "x.example.com")
        #expect(hangup.status == 502 && hangup.text.contains("failed before responding"))
        // The same keep-alive connection still works after all of that.
        let fine = try await client.request(.GET, "/ok", host: "x.example.com")
        #expect(fine.status == 200 && fine.echoName == "alive")
        // A request body sent to a route the gateway answers itself is read and dropped; the connection survives.
        let rejected = try await client.request(.POST, "/missing", host: "x.example.com", bodyChunks: 4, chunkSize: 64 * 1024)
        #expect(rejected.status == 500)
        #expect(try await client.request(.GET, "/ok", host: "x.example.com").status == 200)
        await client.close()
    }

    @Test func backendStatusCodesPassThrough() async throws {
        let harness = try await GatewayHarness.startWithOneRoute()
        defer { Task { await harness.stop() } }
        let client = try await harness.client()
        for code in [201, 204, 404, 500, 503] {
            let response = try await client.request(.GET, "/__echo/status/\(code)", host: "s.example.com")
            #expect(response.status == code)
        }
        let head = try await client.request(.HEAD, "/", host: "s.example.com")
        #expect(head.status == 200 && head.bodyBytes == 0)
        #expect(try await client.request(.GET, "/", host: "s.example.com").status == 200)
        await client.close()
    }
}

/// Malformed or ambiguous framing is answered 400 (an oversized head 431) with the reason, and the
/// connection is closed.
@Suite(.timeLimit(.minutes(1)))
struct MalformedRequestTests {
    @Test(arguments: [
        "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "GARBAGE\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + String(repeating: "a", count: 100_000) + "\r\n\r\n",
    ])
    func rejectedWith400(_ request: String) async throws {
        let harness = try await GatewayHarness.startWithOneRoute()
        defer { Task { await harness.stop() } }
        let reply = try rawExchange(port: harness.port, request)
        let expected = request.count > 60_000 ? "HTTP/1.1 431 Request Header Fields Too Large" : "HTTP/1.1 400 Bad Request"
        #expect(reply.hasPrefix(expected), "\(reply)")
        #expect(reply.contains("malformed HTTP request"))
        #expect(reply.lowercased().contains("connection: close"))
    }

    /// RELIABILITY.md's smuggling vectors, each with a request pipelined behind it: the vector is
    /// refused with 400 and the connection closed, so the follow-up is never served.
    @Test(arguments: [
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +2\r\n\r\nab",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{0}b\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\na\r\n0\r\n\r\n",
        "GET /a%2fb HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /../../etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n",
    ])
    func smugglingVectorsCloseTheConnection(_ vector: String) async throws {
        let harness = try await GatewayHarness.startWithOneRoute()
        defer { Task { await harness.stop() } }
        let reply = try rawExchange(port: harness.port, vector + "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(reply.hasPrefix("HTTP/1.1 400") || reply.hasPrefix("HTTP/1.0 400"), "\(reply)")
        #expect(reply.lowercased().contains("connection: close"))
        #expect(!reply.contains("/smuggled"), "the pipelined request was served: \(reply)")
    }

    /// Sends bytes on a plain socket and reads until the server closes (or 3 s pass).
    func rawExchange(port: Int, _ text: String) throws -> String {
        let socket = try BlockingSocket(port: port, timeout: 3)
        socket.send(text)
        return String(decoding: socket.receiveAll(), as: UTF8.self)
    }
}
