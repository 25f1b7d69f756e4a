@testable import ArchwayCore
import Foundation
import GatewayAPI
import Testing

/// A change of EndpointSlices alone moves traffic to the new endpoints without a translation (no
/// route is translated again, no status recomputed or written); any other change still translates.
/// `archway_translations_total` and `archway_endpoint_updates_total` tell which path ran.
@Suite(.timeLimit(.minutes(2)))
struct EndpointUpdateTests {
    /// Service `svc`'s EndpointSlice: its one endpoint on loopback at `port`.
    static func slice(port: Int) -> String {
        """
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: svc-1, namespace: default, labels: {kubernetes.io/service-name: svc}}
        addressType: IPv4
        ports: [{name: http, port: \(port)}]
        endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
        """
    }

    /// Service `svc` with no EndpointSlice of its own (`slice` gives it one).
    static let service = """
        apiVersion: v1
        kind: Service
        metadata: {name: svc, namespace: default}
        spec: {ports: [{name: http, port: 80, targetPort: 8080}]}
        """

    static func counts(_ harness: GatewayHarness) async throws -> (translations: Double, endpointUpdates: Double) {
        let samples = try await MetricsTests.scrape(harness)
        return (samples["archway_translations_total"] ?? -1, samples["archway_endpoint_updates_total"] ?? -1)
    }

    @Test func inAClusterAnEndpointSliceChangeIsServedWithoutATranslation() async throws {
        let harness = GatewayHarness()
        try await harness.startBackend("a")
        try await harness.startBackend("b")
        let server = FakeAPIServer()
        try await server.start()
        try server.apply(Manifests.join(Manifests.gateway(), Self.service, Self.slice(port: harness.backendPorts["a"]!),
                                        Manifests.route("r", path: "/", service: "svc"), KubernetesTests.archwayService))
        _ = try await KubernetesTests.replica(server, backends: harness)
        defer { Task { await harness.stop(); await server.stop() } }
        #expect(try await harness.send("/", host: "any.example").echoName == "a")
        // Our own status writes come back as watch events (the Gateway's addresses are read back, so
        // that brings one more full translation): wait until that has settled.
        try await KubernetesTests.waitUntil("the statuses are written") {
            server.statusWriteCount("Gateway", "default", "gw") == 1 && server.statusWriteCount("HTTPRoute", "default", "r") == 1
        }
        try await Self.waitUntilSettled(harness)
        let before = try await Self.counts(harness)
        #expect(before.translations >= 1)

        try server.apply(Self.slice(port: harness.backendPorts["b"]!))
        try await KubernetesTests.waitUntil("requests reach the new endpoint") { try await harness.send("/", host: "any.example").echoName == "b" }
        let moved = try await Self.counts(harness)
        #expect(moved.translations == before.translations, "an EndpointSlice change translated the configuration again")
        #expect(moved.endpointUpdates > before.endpointUpdates)
        try await Task.sleep(for: .milliseconds(300))
        #expect(server.statusWriteCount("HTTPRoute", "default", "r") == 1, "no status is written for new endpoints")
        #expect(server.statusWriteCount("Gateway", "default", "gw") == 1)

        // A route change is translated, and its status written.
        try server.apply(Manifests.route("r2", path: "/two", service: "svc"))
        try await KubernetesTests.waitUntil("the new route's status is written") { server.statusWriteCount("HTTPRoute", "default", "r2") == 1 }
        #expect(try await Self.counts(harness).translations > moved.translations)
        #expect(try await harness.send("/two", host: "any.example").echoName == "b")
    }

    @Test func inFileModeAnEndpointSliceEditIsServedWithoutATranslation() async throws {
        let harness = GatewayHarness()
        try await harness.startBackend("a")
        try await harness.startBackend("b")
        try harness.write("gw.yaml", Manifests.join(Manifests.gateway(), Self.service, Manifests.route("r", path: "/", service: "svc")))
        try harness.write("endpoints.yaml", Self.slice(port: harness.backendPorts["a"]!))
        try await harness.start()
        defer { Task { await harness.stop() } }
        #expect(try await harness.send("/", host: "any.example").echoName == "a")
        #expect(try await Self.counts(harness) == (1, 0))

        // An edit of anything else is translated: route r now sends /two only. (The first change
        // after start is translated in any case: the addresses the Gateway was given are carried
        // into the next translation's input, AddressMemory.)
        try harness.write("gw.yaml", Manifests.join(Manifests.gateway(), Self.service, Manifests.route("r", path: "/two", service: "svc")))
        try await KubernetesTests.waitUntil("the edited route serves") { try await harness.send("/", host: "any.example").status == 404 }
        #expect(try await Self.counts(harness) == (2, 0))

        try harness.write("endpoints.yaml", Self.slice(port: harness.backendPorts["b"]!))
        try await KubernetesTests.waitUntil("requests reach the new endpoint") { try await harness.send("/two", host: "any.example").echoName == "b" }
        let moved = try await Self.counts(harness)
        #expect(moved.translations == 2, "an EndpointSlice edit translated the configuration again")
        #expect(moved.endpointUpdates == 1)

        try harness.write("endpoints.yaml", Self.slice(port: harness.backendPorts["a"]!))
        try await KubernetesTests.waitUntil("requests are back on the first endpoint") { try await harness.send("/two", host: "any.example").echoName == "a" }
        #expect(try await Self.counts(harness) == (2, 2))
        #expect(try await harness.send("/", host: "any.example").status == 404, "the route is still the edited one")
    }

    /// Until no configuration has been applied for a while (well past the provider's debounce).
    static func waitUntilSettled(_ harness: GatewayHarness) async throws {
        var last = await harness.runtime.generation
        var quiet = 0
        for _ in 0..<100 where quiet < 4 {
            try await Task.sleep(for: .milliseconds(150))
            let now = await harness.runtime.generation
            quiet = now == last ? quiet + 1 : 0
            last = now
        }
    }
}
