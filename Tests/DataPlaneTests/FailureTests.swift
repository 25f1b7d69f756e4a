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
        let harness = GatewayHarness()
        try await harness.startBackend("svc")
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(), Manifests.service("svc", targetPort: harness.backendPorts["svc"]!),
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: r}
            spec:
              parentRefs: [{name: gw}]
              rules: [{backendRefs: [{name: svc, port: 80}]}]
            """))
        try await harness.start()
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
