import Foundation
import NIOCore
import NIOPosix
import Testing

@Suite(.timeLimit(.minutes(2)))
struct LifecycleTests {
    /// Shutdown (what SIGTERM triggers): readyz turns 503 while draining, the listener stops
    /// accepting, and a response already in flight is delivered whole.
    @Test func shutdownDrainsInFlightRequests() async throws {
        let harness = try await GatewayHarness.startWithOneRoute()
        let admin = try await TestHTTPClient.connect(port: harness.adminPort, group: harness.group)
        #expect(try await admin.request(.GET, "/readyz", host: "admin").status == 200)
        let metrics = try await admin.request(.GET, "/metrics", host: "admin")
        #expect(metrics.text.contains("gateway_active_connections"))

        let client = try await harness.client()
        let size = 256 << 20
        let inFlight = Task { try await client.request(.GET, "/__echo/bytes/\(size)", host: "d.example.com", keepBody: false) }
        try await Task.sleep(for: .milliseconds(30))
        let runtime = harness.runtime!
        let shutdown = Task { await runtime.shutdown() }
        let response = try await inFlight.value
        #expect(response.status == 200 && response.bodyBytes == size)
        await shutdown.value
        await #expect(throws: (any Error).self) {
            _ = try await TestHTTPClient.connect(port: harness.port, group: harness.group)
        }
        await harness.stop()
    }

    /// Every proxied request is counted with the contract's labels.
    @Test func requestMetricsCarryRouteLabels() async throws {
        let harness = GatewayHarness()
        try await harness.startBackend("svc")
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(namespace: "infra"), Manifests.service("svc", namespace: "apps", targetPort: harness.backendPorts["svc"]!),
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: shop, namespace: apps}
            spec:
              parentRefs: [{name: gw, namespace: infra}]
              rules: [{backendRefs: [{name: svc, port: 80}]}]
            """))
        try await harness.start()
        defer { Task { await harness.stop() } }
        let client = try await harness.client()
        for _ in 0..<3 { _ = try await client.request(.GET, "/", host: "m.example.com") }
        _ = try await client.request(.POST, "/__echo/status/503", host: "m.example.com")
        await client.close()
        let admin = try await TestHTTPClient.connect(port: harness.adminPort, group: harness.group)
        let text = try await admin.request(.GET, "/metrics", host: "admin").text
        await admin.close()
        #expect(text.contains(#"gateway_http_requests_total{gateway_name="gw",namespace="apps",route_name="shop",backend_name="svc",method="GET",status="200"} 3"#))
        #expect(text.contains(#"gateway_http_requests_total{gateway_name="gw",namespace="apps",route_name="shop",backend_name="svc",method="POST",status="503"} 1"#))
        #expect(text.contains(#"gateway_http_request_duration_seconds_count{gateway_name="gw",namespace="apps",route_name="shop",backend_name="svc",method="GET"} 3"#))
    }

    /// A listener port that cannot be bound is reported in the live status (PortUnavailable) and keeps
    /// /readyz at 503, while the ports that did bind serve.
    @Test func unavailablePortIsReportedAndNotReady() async throws {
        let blocker = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 0)
            .bind(host: "127.0.0.1", port: 0).get()
        defer { blocker.close(promise: nil) }
        let harness = GatewayHarness()
        harness.extraPortMap = [9000: blocker.localAddress!.port!]
        try harness.write("gw.yaml", Manifests.gateway().replacingOccurrences(
            of: "allowedRoutes: {namespaces: {from: All}}}",
            with: "allowedRoutes: {namespaces: {from: All}}}\n  - {name: taken, protocol: HTTP, port: 9000}"))
        try await harness.start()
        defer { Task { await harness.stop() } }
        let admin = try await TestHTTPClient.connect(port: harness.adminPort, group: harness.group)
        #expect(try await admin.request(.GET, "/readyz", host: "admin").status == 503)
        let status = try await admin.request(.GET, "/status", host: "admin").text
        await admin.close()
        #expect(status.contains("PortUnavailable"))
        #expect(status.contains("port 9000 cannot be bound"))
        #expect(try await harness.send("/", host: "x.example.com").status == 404)  // port 80 serves
    }
}
