import Foundation
import NIOCore
import Testing

/// BackendTrafficPolicy: outlier ejection, the circuit breaker, and active health checks, against
/// backends that fail, hang and count.
@Suite(.timeLimit(.minutes(2)))
struct BackendTrafficPolicyTests {
    static func policy(_ service: String, _ spec: String) -> String {
        """
        apiVersion: archway.dev/v1alpha1
        kind: BackendTrafficPolicy
        metadata: {name: \(service)-traffic}
        spec:
          targetRefs: [{group: "", kind: Service, name: \(service)}]
        \(spec.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        """
    }

    /// Each test runs on the fast lane and on the general path: both go through `BackendGate`.
    @Test(arguments: [true, false]) func failingEndpointsAreEjectedAndAllEjectedAnswers503AtOnce(fastLane: Bool) async throws {
        let harness = GatewayHarness()
        harness.fastLane = fastLane
        try await harness.startBackend("good")
        let flaky = RecordingBackend(name: "flaky", status: 503)
        let alone = RecordingBackend(name: "alone", status: 502)
        let flakyPort = try await flaky.start(group: harness.group)
        let alonePort = try await alone.start(group: harness.group)
        defer { Task { await flaky.stop(); await alone.stop() } }
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(),
            Manifests.service("mixed", targetPorts: [flakyPort, harness.backendPorts["good"]!]),
            Manifests.service("alone", targetPort: alonePort),
            Self.policy("mixed", "outlierDetection: {consecutive5xx: 2, baseEjectionTime: 30s}"),
            Self.policy("alone", "outlierDetection: {consecutive5xx: 1, baseEjectionTime: 30s}"),
            Manifests.route("route-mixed", path: "/mixed", service: "mixed"),
            Manifests.route("route-alone", path: "/alone", service: "alone")))
        try await harness.start()
        defer { Task { await harness.stop() } }

        let client = try await harness.client()
        var statuses: [Int] = []
        for _ in 0..<20 { statuses.append(try await client.request(.GET, "/mixed", host: "o.example.com").status) }
        #expect(flaky.requests.count == 2, "ejected after its second 503 in a row")
        #expect(statuses.suffix(15).allSatisfy { $0 == 200 }, "\(statuses)")

        #expect(try await client.request(.GET, "/alone", host: "o.example.com").status == 502)
        let clock = ContinuousClock()
        var ejected: TestHTTPClient.Response?
        let took = try await clock.measure { ejected = try await client.request(.GET, "/alone", host: "o.example.com") }
        #expect(ejected?.status == 503 && ejected?.text.contains("every endpoint of Service default/alone:80 is ejected") == true, "\(ejected?.text ?? "")")
        #expect(took < .seconds(2) && alone.requests.count == 1, "answered by the gateway without trying the backend")
        await client.close()
    }

    @Test(arguments: [true, false]) func circuitBreakerRefusesOverMaxRequests(fastLane: Bool) async throws {
        let harness = GatewayHarness()
        harness.fastLane = fastLane
        let hanging = RecordingBackend(name: "hanging", silent: true)
        let port = try await hanging.start(group: harness.group)
        defer { Task { await hanging.stop() } }
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(),
            Manifests.service("slow", targetPort: port),
            Self.policy("slow", "circuitBreaker: {maxRequests: 1}"),
            Manifests.route("route-slow", path: "/", service: "slow", ruleFields: "timeouts: {request: 6s}")))
        try await harness.start()
        defer { Task { await harness.stop() } }

        let first = Task { try await harness.send("/first", host: "c.example.com") }
        try await ResilienceTests.eventually { hanging.requests.count == 1 }
        let second = try await harness.send("/second", host: "c.example.com")
        #expect(second.status == 503 && second.text.contains("maxRequests (1)"), "\(second.text)")
        #expect(try await first.value.status == 504, "the request holding the slot ends at its timeout")
        // The slot is free again: the next request reaches the backend (and times out there).
        let third = try await harness.send("/third", host: "c.example.com")
        #expect(third.status == 504 && hanging.requests.contains { $0.path == "/third" })
    }

    @Test(arguments: [true, false]) func healthChecksTakeFailingEndpointsOutOfRotation(fastLane: Bool) async throws {
        let harness = GatewayHarness()
        harness.fastLane = fastLane
        let healthy = RecordingBackend(name: "healthy")
        let sick = RecordingBackend(name: "sick", status: 500)
        let healthyPort = try await healthy.start(group: harness.group)
        let sickPort = try await sick.start(group: harness.group)
        defer { Task { await healthy.stop(); await sick.stop() } }
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(),
            Manifests.service("pair", targetPorts: [healthyPort, sickPort]),
            Self.policy("pair", "healthCheck: {path: /healthz, interval: 100ms, timeout: 500ms, unhealthyThreshold: 2, healthyThreshold: 1, expectedStatuses: [200]}"),
            Manifests.route("route-pair", path: "/", service: "pair")))
        try await harness.start()
        defer { Task { await harness.stop() } }

        try await ResilienceTests.eventually { sick.requests.filter { $0.path == "/healthz" }.count >= 4 }
        let before = sick.requests.filter { $0.path != "/healthz" }.count
        for _ in 0..<10 {
            let response = try await harness.send("/work", host: "h.example.com")
            #expect(response.status == 200 && response.text == "healthy")
        }
        #expect(sick.requests.filter { $0.path != "/healthz" }.count == before, "no request went to the endpoint failing its checks")
        #expect(healthy.requests.contains { $0.path == "/healthz" && $0.method == "GET" })
    }
}
