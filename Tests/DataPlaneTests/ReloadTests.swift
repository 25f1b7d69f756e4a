import Foundation
import NIOCore
import Testing

/// Configuration changes land without dropping a request; bad changes are refused and the last good
/// configuration keeps serving.
@Suite(.timeLimit(.minutes(2)))
struct ReloadTests {
    static func route(to backend: String) -> String {
        """
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: r}
        spec:
          parentRefs: [{name: gw}]
          hostnames: [reload.example.com]
          rules: [{backendRefs: [{name: \(backend), port: 80}]}]
        """
    }

    /// Backends `blue` and `green`; the route (its own file, so tests can rewrite it) points at blue.
    static func blueGreen() async throws -> GatewayHarness {
        let harness = GatewayHarness()
        try harness.write("00-gw.yaml", Manifests.join(Manifests.gateway(), try await harness.startBackendServices("blue", "green")))
        try harness.write("10-route.yaml", route(to: "blue"))
        try await harness.start()
        return harness
    }

    @Test func reloadUnderContinuousRequestsLosesNothing() async throws {
        let harness = try await Self.blueGreen()
        defer { Task { await harness.stop() } }

        // Four keep-alive connections send requests back to back while the route flips ten times.
        let stop = Stopwatch()
        let load = (0..<4).map { _ in
            Task { () -> (ok: Int, failed: [String], seen: Set<String>) in
                let client = try await harness.client()
                var ok = 0
                var failed: [String] = []
                var seen = Set<String>()
                while !stop.isStopped {
                    do {
                        let response = try await client.request(.GET, "/", host: "reload.example.com")
                        if response.status == 200, let name = response.echoName {
                            ok += 1
                            seen.insert(name)
                        } else {
                            failed.append("status \(response.status): \(response.text)")
                        }
                    } catch {
                        failed.append("\(error)")
                    }
                }
                await client.close()
                return (ok, failed, seen)
            }
        }
        for flip in 1...10 {
            try harness.write("10-route.yaml", Self.route(to: flip % 2 == 1 ? "green" : "blue"))
            try await harness.waitForGeneration(atLeast: flip + 1)
            try await Task.sleep(for: .milliseconds(50))
        }
        stop.stop()
        var total = 0
        var failures: [String] = []
        var seen = Set<String>()
        for task in load {
            let result = try await task.value
            total += result.ok
            failures += result.failed
            seen.formUnion(result.seen)
        }
        #expect(failures.isEmpty, "\(failures.count) failed requests, first: \(failures.first ?? "")")
        // Proof that load really ran across the flips; a count, not a rate, so a busy machine passes.
        #expect(total >= 40, "only \(total) requests completed")
        #expect(seen == ["blue", "green"])
        // The last flip (10, even) pointed at blue.
        #expect(try await harness.send("/", host: "reload.example.com").echoName == "blue")
    }

    @Test func invalidChangeKeepsLastGoodConfiguration() async throws {
        let harness = try await Self.blueGreen()
        defer { Task { await harness.stop() } }
        #expect(try await harness.send("/", host: "reload.example.com").echoName == "blue")

        // Broken YAML, then a schema violation: both refused, blue keeps serving. Each is awaited
        // through the failure counter, not a fixed sleep: a loaded machine may poll late.
        func waitForFailures(_ count: Double) async throws {
            func failures() async throws -> Double? { try await MetricsTests.scrape(harness)["gateway_config_reload_failures_total"] }
            for _ in 0..<100 where try await failures() != count {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(try await failures() == count)
        }
        try harness.write("10-route.yaml", "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r\n")
        try await waitForFailures(1)
        try harness.write("10-route.yaml", Self.route(to: "green").replacingOccurrences(of: "port: 80}", with: "port: 80, weight: -5}"))
        try await waitForFailures(2)
        #expect(await harness.runtime.generation == 1)
        #expect(try await harness.send("/", host: "reload.example.com").echoName == "blue")

        // A good change then lands.
        try harness.write("10-route.yaml", Self.route(to: "green"))
        try await harness.waitForGeneration(atLeast: 2)
        #expect(try await harness.send("/", host: "reload.example.com").echoName == "green")
    }

    /// A second listener port is bound when a Gateway gains a listener and released when it loses it,
    /// while the first port keeps serving throughout.
    @Test func listenerPortsFollowTheGateway() async throws {
        let harness = try await Self.blueGreen()
        defer { Task { await harness.stop() } }
        #expect(await harness.runtime.localAddress(listenerPort: 8080) == nil)
        let twoListeners = Manifests.gateway(listeners: [
            "{name: http, protocol: HTTP, port: 80, allowedRoutes: {namespaces: {from: All}}}",
            "{name: alt, protocol: HTTP, port: 8080}",
        ])
        try harness.write("00-gw.yaml", Manifests.join(twoListeners,
            Manifests.service("blue", targetPort: harness.backendPorts["blue"]!),
            Manifests.service("green", targetPort: harness.backendPorts["green"]!)))
        try await harness.waitForGeneration(atLeast: 2)
        let altPort = try #require(await harness.runtime.localAddress(listenerPort: 8080)?.port)
        let alt = try await TestHTTPClient.connect(port: altPort, group: harness.group)
        #expect(try await alt.request(.GET, "/", host: "reload.example.com").echoName == "blue")
        await alt.close()

        try harness.write("00-gw.yaml", Manifests.join(Manifests.gateway(),
            Manifests.service("blue", targetPort: harness.backendPorts["blue"]!),
            Manifests.service("green", targetPort: harness.backendPorts["green"]!)))
        try await harness.waitForGeneration(atLeast: 3)
        #expect(await harness.runtime.localAddress(listenerPort: 8080) == nil)
        await #expect(throws: (any Error).self) {
            _ = try await TestHTTPClient.connect(port: altPort, group: harness.group)
        }
        #expect(try await harness.send("/", host: "reload.example.com").echoName == "blue")
    }
}


final class Stopwatch: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    var isStopped: Bool { lock.withLock { stopped } }
    func stop() { lock.withLock { stopped = true } }
}
