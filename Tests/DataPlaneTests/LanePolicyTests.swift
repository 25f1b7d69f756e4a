import Foundation
import NIOCore
import Testing

/// Edge policies on the HTTP/1 fast lane: a refusal (with or without a body to drop), a deferred
/// decision (ForwardAuth) with a pipelined request waiting behind it, what the policies vouch for on
/// its way upstream, and a BodySize limit crossed mid-body. Both paths, one keep-alive connection
/// each: the client and the backend must see the same answers and fields (the general path moves
/// Transfer-Encoding after the fields it adds, so field order is not compared).
@Suite(.timeLimit(.minutes(2)))
struct LanePolicyTests {
    static func manifests(backendPort: Int, authPort: Int) -> String {
        func route(_ name: String, _ path: String, _ filter: String) -> String {
            let parts = filter.split(separator: "/")
            return Manifests.route(name, path: path, service: "api",
                                   ruleFields: "filters: [{type: ExtensionRef, extensionRef: {group: archway.dev, kind: \(parts[0]), name: \(parts[1])}}]")
        }
        return Manifests.join(
            Manifests.gateway(),
            Manifests.service("api", targetPort: backendPort),
            """
            apiVersion: v1
            kind: Secret
            metadata: {name: keys}
            stringData: {mobile-app: key-for-mobile}
            ---
            apiVersion: archway.dev/v1alpha1
            kind: APIKeyAuth
            metadata: {name: clients}
            spec: {secretRef: {name: keys}}
            ---
            apiVersion: archway.dev/v1alpha1
            kind: ForwardAuth
            metadata: {name: sso}
            spec: {url: "http://127.0.0.1:\(authPort)/verify", responseHeaders: [X-Auth-User], timeout: 2s}
            ---
            apiVersion: archway.dev/v1alpha1
            kind: BodySize
            metadata: {name: small}
            spec: {maxRequestBody: "1Ki"}
            """,
            route("keys", "/keys", "APIKeyAuth/clients"),
            route("app", "/app", "ForwardAuth/sso"),
            route("upload", "/upload", "BodySize/small"))
    }

    /// What one connection's client reads, answer by answer (head fields sorted, then the body).
    static func readAnswers(_ socket: BlockingSocket, count: Int) -> [String] {
        (0..<count).map { _ in
            let head = socket.receive(through: "\r\n\r\n") ?? ""
            let length = Int(head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }?.split(separator: " ").last ?? "0") ?? 0
            let body = String(decoding: socket.receive(exactly: length) ?? [], as: UTF8.self)
            let lines = head.split(separator: "\r\n").map { $0.lowercased() }
            return ([lines.first ?? ""] + lines.dropFirst().sorted()).joined(separator: "|") + " " + body
        }
    }

    @Test func theLaneEnforcesPoliciesAsTheGeneralPathDoes() async throws {
        var answers: [[String]] = []
        var seen: [[String]] = []
        var closedAfterTooLarge: [Bool] = []
        for fastLane in [true, false] {
            let backend = RecordingBackend(name: "api")
            let auth = StubHTTPServer { head in
                head.headers.first(name: "authorization") == "Bearer good"
                    ? .init(status: 200, headers: [("X-Auth-User", "alice")])
                    : .init(status: 401, headers: [("WWW-Authenticate", "Bearer"), ("Content-Type", "text/plain")], body: "go away")
            }
            let harness = GatewayHarness()
            harness.fastLane = fastLane
            let backendPort = try await backend.start(group: harness.group)
            let authPort = try await auth.start(group: harness.group)
            try harness.write("gw.yaml", Self.manifests(backendPort: backendPort, authPort: authPort))
            try await harness.start()
            let socket = try BlockingSocket(port: harness.port, timeout: 3)
            let host = "Host: lane.example.com\r\n"
            // Refused with a body the gateway must read and drop before the next request.
            socket.send("POST /keys HTTP/1.1\r\n\(host)Content-Length: 5\r\n\r\nhello")
            // Let through: the key is swapped for the client's name, a forged name never arrives.
            socket.send("GET /keys/list HTTP/1.1\r\n\(host)X-API-Key: key-for-mobile\r\nX-API-Client: forged\r\n\r\n")
            var received = Self.readAnswers(socket, count: 2)
            // A deferred decision with a chunked body, and a pipelined request behind it that is refused.
            socket.send("POST /app/orders HTTP/1.1\r\n\(host)Authorization: Bearer good\r\nX-Auth-User: mallory\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + "5\r\nhello\r\n0\r\n\r\n"
                        + "GET /app/admin HTTP/1.1\r\n\(host)Authorization: Bearer bad\r\n\r\n")
            received += Self.readAnswers(socket, count: 2)
            // Under the BodySize limit, then over it: 413, and the connection closes.
            socket.send("POST /upload HTTP/1.1\r\n\(host)Content-Length: 10\r\n\r\n0123456789")
            received += Self.readAnswers(socket, count: 1)
            let chunk = String(repeating: "x", count: 1500)
            socket.send("POST /upload HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\n\r\n5dc\r\n\(chunk)\r\n")
            received += Self.readAnswers(socket, count: 1)
            closedAfterTooLarge.append(socket.receiveAll().isEmpty)
            answers.append(received)
            seen.append(backend.requests.map { request in
                "\(request.method) \(request.path) " + String(decoding: request.body, as: UTF8.self) + " "
                    + request.headers.filter { !["x-request-id", "traceparent"].contains($0.name.lowercased()) }
                    .map { "\($0.name.lowercased())=\($0.value)" }.sorted().joined(separator: ",")
            })
            await auth.stop()
            await backend.stop()
            await harness.stop()
        }
        #expect(answers[0] == answers[1])
        #expect(seen[0] == seen[1])
        let lane = answers[0]
        #expect(lane.count == 6 && lane[0].hasPrefix("http/1.1 401") && lane[0].contains("www-authenticate"), "\(lane)")
        #expect(lane[1].hasPrefix("http/1.1 200") && lane[2].hasPrefix("http/1.1 200"), "\(lane)")
        #expect(lane[3].hasPrefix("http/1.1 401") && lane[3].contains(" go away"), "the auth service's answer: \(lane[3])")
        #expect(lane[4].hasPrefix("http/1.1 200") && lane[5].hasPrefix("http/1.1 413"), "\(lane)")
        #expect(closedAfterTooLarge == [true, true])
        let backendSaw = seen[0]
        #expect(backendSaw.count == 3, "\(backendSaw)")
        #expect(backendSaw[0].hasPrefix("GET /keys/list ") && backendSaw[0].contains("x-api-client=mobile-app")
                && !backendSaw[0].contains("forged") && !backendSaw[0].contains("x-api-key"), "\(backendSaw[0])")
        #expect(backendSaw[1].hasPrefix("POST /app/orders hello ") && backendSaw[1].contains("x-auth-user=alice")
                && !backendSaw[1].contains("mallory"), "\(backendSaw[1])")
        #expect(backendSaw[2].hasPrefix("POST /upload 0123456789 "), "\(backendSaw[2])")
    }
}
