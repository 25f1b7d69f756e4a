import Foundation
import NIOCore
import Testing

/// HTTPRoute timeouts, retries and RequestMirror filters, against backends that hang, fail and count.
@Suite(.timeLimit(.minutes(2)))
struct ResilienceTests {
    /// On the fast lane and on the general path alike: one `UpstreamTries` decides for both.
    @Test(arguments: [true, false]) func timeoutsAnswer504AndABackendTimeoutRetriesElsewhere(fastLane: Bool) async throws {
        let harness = GatewayHarness()
        harness.fastLane = fastLane
        try await harness.startBackend("good")
        let silent = RecordingBackend(name: "silent", silent: true)
        let silentPort = try await silent.start(group: harness.group)
        defer { Task { await silent.stop() } }
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(),
            Manifests.service("silent", targetPort: silentPort),
            Manifests.service("mixed", targetPorts: [silentPort, harness.backendPorts["good"]!]),
            Manifests.route("whole", path: "/whole", service: "silent", ruleFields: "timeouts: {request: 300ms}"),
            Manifests.route("per-try", path: "/per-try", service: "silent", ruleFields: "timeouts: {request: 5s, backendRequest: 200ms}"),
            Manifests.route("elsewhere", path: "/elsewhere", service: "mixed", ruleFields: "timeouts: {backendRequest: 200ms}\nretry: {attempts: 1}")))
        try await harness.start()
        defer { Task { await harness.stop() } }

        let clock = ContinuousClock()
        var whole: TestHTTPClient.Response?
        let took = try await clock.measure { whole = try await harness.send("/whole", host: "t.example.com") }
        #expect(whole?.status == 504)
        #expect(whole?.text.contains("timeouts.request (300ms)") == true, "\(whole?.text ?? "")")
        #expect(took < .seconds(8), "a hung backend is given up on at the limit, not held")

        let perTry = try await harness.send("/per-try", host: "t.example.com")
        #expect(perTry.status == 504 && perTry.text.contains("timeouts.backendRequest (200ms)"), "\(perTry.text)")

        // Whichever endpoint round robin picks first, the silent one is left after 200 ms for the other.
        for _ in 0..<4 {
            let response = try await harness.send("/elsewhere", host: "t.example.com")
            #expect(response.status == 200 && response.echoName == "good")
        }
        #expect(silent.requests.contains { $0.path == "/elsewhere" }, "some tries did reach the silent endpoint first")
    }

    /// On the fast lane and on the general path alike: one `UpstreamTries` decides for both.
    @Test(arguments: [true, false]) func retriesOnConfiguredCodesGoToAnotherEndpoint(fastLane: Bool) async throws {
        let harness = GatewayHarness()
        harness.fastLane = fastLane
        try await harness.startBackend("good")
        let flaky = RecordingBackend(name: "flaky", status: 503)
        let flakyPort = try await flaky.start(group: harness.group)
        defer { Task { await flaky.stop() } }
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(),
            Manifests.service("mixed", targetPorts: [flakyPort, harness.backendPorts["good"]!]),
            Manifests.service("flaky", targetPort: flakyPort),
            Manifests.route("mixed", path: "/mixed", service: "mixed", ruleFields: "retry: {codes: [503], attempts: 2, backoff: 10ms}"),
            Manifests.route("hopeless", path: "/hopeless", service: "flaky", ruleFields: "retry: {codes: [503], attempts: 2, backoff: 50ms}"),
            Manifests.route("other-code", path: "/other-code", service: "flaky", ruleFields: "retry: {codes: [500], attempts: 2}")))
        try await harness.start()
        defer { Task { await harness.stop() } }

        let client = try await harness.client()
        for _ in 0..<6 {
            let get = try await client.request(.GET, "/mixed", host: "r.example.com")
            #expect(get.status == 200 && get.echoName == "good")
        }
        // A body within the replay buffer is sent again in full.
        let post = try await client.request(.POST, "/mixed", host: "r.example.com", bodyChunks: 2, chunkSize: 8 * 1024)
        #expect(post.status == 200 && post.echo["body_bytes"] as? Int == 16 * 1024, "\(post.text)")
        #expect(flaky.requests.contains { $0.path == "/mixed" })

        let before = flaky.requests.count
        let clock = ContinuousClock()
        var hopeless: TestHTTPClient.Response?
        let took = try await clock.measure { hopeless = try await client.request(.GET, "/hopeless", host: "r.example.com") }
        #expect(hopeless?.status == 503 && hopeless?.text == "flaky", "the last try's answer is passed on")
        #expect(flaky.requests.count - before == 3, "one try and two retries")
        #expect(took >= .milliseconds(100), "two backoffs of at least 50 ms")

        let other = flaky.requests.count
        #expect(try await client.request(.GET, "/other-code", host: "r.example.com").status == 503)
        #expect(flaky.requests.count - other == 1, "503 is not in the route's codes")
        await client.close()
    }

    @Test(arguments: [true, false]) func mirrorsGetCopiesAndNeverDelayThePrimary(fastLane: Bool) async throws {
        let harness = GatewayHarness()
        harness.fastLane = fastLane
        try await harness.startBackend("primary")
        try await harness.startBackend("gone")
        let gonePort = harness.backendPorts["gone"]!
        try await harness.stopBackend("gone")
        let shadow = RecordingBackend(name: "shadow")
        let blackhole = RecordingBackend(name: "blackhole", silent: true)
        let sampled = RecordingBackend(name: "sampled")
        let shadowPort = try await shadow.start(group: harness.group)
        let blackholePort = try await blackhole.start(group: harness.group)
        let sampledPort = try await sampled.start(group: harness.group)
        defer { Task { await shadow.stop(); await blackhole.stop(); await sampled.stop() } }
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(),
            Manifests.service("primary", targetPort: harness.backendPorts["primary"]!),
            Manifests.service("shadow", targetPort: shadowPort),
            Manifests.service("blackhole", targetPort: blackholePort),
            Manifests.service("gone", targetPort: gonePort),
            Manifests.service("sampled", targetPort: sampledPort),
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: mirrored}
            spec:
              parentRefs: [{name: gw}]
              rules:
              - matches: [{path: {type: PathPrefix, value: /all}}]
                filters:
                - {type: RequestMirror, requestMirror: {backendRef: {name: shadow, port: 80}}}
                - {type: RequestMirror, requestMirror: {backendRef: {name: blackhole, port: 80}}}
                - {type: RequestMirror, requestMirror: {backendRef: {name: gone, port: 80}}}
                backendRefs: [{name: primary, port: 80}]
              - matches: [{path: {type: PathPrefix, value: /half}}]
                filters: [{type: RequestMirror, requestMirror: {backendRef: {name: sampled, port: 80}, fraction: {numerator: 1, denominator: 2}}}]
                backendRefs: [{name: primary, port: 80}]
            """))
        try await harness.start()
        defer { Task { await harness.stop() } }

        let client = try await harness.client()
        let clock = ContinuousClock()
        let took = try await clock.measure {
            for index in 0..<20 {
                let response = try await client.request(.POST, "/all/\(index)", host: "m.example.com", bodyChunks: 1, chunkSize: 1000)
                #expect(response.status == 200 && response.echoName == "primary")
            }
        }
        #expect(took < .seconds(5), "a mirror that never answers and one that refuses do not hold the primary")
        try await Self.eventually { shadow.requests.count == 20 && blackhole.requests.count == 20 }
        #expect(shadow.requests.allSatisfy { $0.method == "POST" && $0.bodyBytes == 1000 && $0.host == "m.example.com" })
        #expect(Set(shadow.requests.map(\.path)) == Set((0..<20).map { "/all/\($0)" }))

        for _ in 0..<200 { _ = try await client.request(.GET, "/half", host: "m.example.com") }
        try await Task.sleep(for: .milliseconds(300))
        #expect((60...140).contains(sampled.requests.count), "about half of 200: \(sampled.requests.count)")
        await client.close()
    }

    static func eventually(_ condition: @Sendable () -> Bool) async throws {
        for _ in 0..<100 where !condition() { try await Task.sleep(for: .milliseconds(50)) }
        #expect(condition())
    }
}
