@testable import ArchwayCore
import Foundation
import GatewayAPI
import Providers
import Testing

/// `archway status --from-cluster` and `describe --from-cluster` against a fake API server whose
/// statuses and Events a real `serve --kubernetes` wrote.
@Suite(.timeLimit(.minutes(2)))
struct ClusterDescribeTests {
    static let controller = KubernetesTests.controller

    @Test func statusAndDescribeShowWhatTheLeaderWroteWithItsEvents() async throws {
        let harness = GatewayHarness()
        let server = try await KubernetesTests.cluster(group: harness)
        // A route to a Service that does not exist, and a Gateway of another controller's class.
        try server.apply(Manifests.join(Manifests.route("broken", path: "/b", service: "missing"), """
            apiVersion: gateway.networking.k8s.io/v1
            kind: GatewayClass
            metadata: {name: other}
            spec: {controllerName: example.com/other}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: theirs}
            spec: {gatewayClassName: other, listeners: [{name: http, protocol: HTTP, port: 80}]}
            """))
        _ = try await KubernetesTests.replica(server, backends: harness)
        defer { Task { await harness.stop(); await server.stop() } }
        func brokenEvents() -> [[String: Any]] {
            server.objects(kind: "Event").filter { ($0["regarding"] as? [String: Any])?["name"] as? String == "broken" }
        }
        try await KubernetesTests.waitUntil("the statuses and the route's Event are written") {
            server.statusWriteCount("HTTPRoute", "default", "broken") == 1 && !brokenEvents().isEmpty
        }
        let event = try #require(brokenEvents().first)
        #expect(event["reportingController"] as? String == Self.controller && event["type"] as? String == "Warning")
        #expect(event["reason"] as? String == "BackendNotFound", "\(event)")
        #expect((event["regarding"] as? [String: Any])?["kind"] as? String == "HTTPRoute")
        // MicroTime: the API server refuses an eventTime without exactly six fractional digits.
        #expect((event["eventTime"] as? String)?.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$"#, options: .regularExpression) != nil, "\(event)")

        let (source, errors) = try await ClusterStatus.read(connection: KubeConnection(server: server.url, token: "test-token"),
                                                            controllerName: Self.controller,
                                                            eventsRegarding: ObjectRef(kind: "HTTPRoute", namespace: "default", name: "broken"))
        #expect(errors.isEmpty)
        let table = source.report.table()
        let lines = table.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("HTTPRoute ") && $0.contains(" r ") && $0.contains("default/gw: Accepted=True ResolvedRefs=True") }, "\(table)")
        #expect(lines.contains { $0.hasPrefix("Gateway ") && $0.contains(" theirs ") && $0.hasSuffix("NoStatus") }, "\(table)")
        #expect(table.contains("! its class other is not archway's"), "\(table)")

        let described = try source.describe(kind: "HTTPRoute", namespace: "default", name: "broken")
        let resolved = described.conditions.first?.conditions.first { $0.type == "ResolvedRefs" }
        #expect(resolved?.status == "False" && resolved?.reason == "BackendNotFound")
        #expect(described.events.contains { $0.type == .Warning && $0.reason == "BackendNotFound" })
        let gateway = try source.describe(kind: "Gateway", namespace: "default", name: "gw")
        #expect(gateway.attachedRoutes?.map(\.name) == ["broken", "r"])

        // The same through the command line, with a kubeconfig as a user has one.
        let kubeconfig = try server.kubeconfig(in: harness.directory)
        let status = try ExternalTool.run(CLITests.binary, ["status", "--from-cluster", "--kubeconfig", kubeconfig])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("ResolvedRefs=False BackendNotFound"), "\(status.stdout)")
        let cli = try ExternalTool.run(CLITests.binary, ["describe", "httproute/broken", "--from-cluster", "--kubeconfig", kubeconfig])
        #expect(cli.status == 0, "\(cli.stderr)")
        #expect(cli.stdout.contains("Source:       the cluster") && cli.stdout.contains("Warning  BackendNotFound"), "\(cli.stdout)")
        let missing = try ExternalTool.run(CLITests.binary, ["describe", "httproute/broken", "-n", "shop", "--from-cluster", "--kubeconfig", kubeconfig])
        #expect(missing.status == 1 && missing.stderr.contains("exists in namespace default (-n default)"), "\(missing.stderr)")
    }

    /// The same reason about the same object again updates the Event's series rather than adding one.
    @Test func aRepeatedEventUpdatesItsSeries() async throws {
        let server = FakeAPIServer()
        try await server.start()
        defer { Task { await server.stop() } }
        try server.apply(Manifests.route("r", path: "/", service: "svc"))
        let client = try KubeClient(connection: KubeConnection(server: server.url, token: "test-token"))
        let writer = EventWriter(client: client, controllerName: Self.controller, instance: "replica-a",
                                 limiter: TokenBucket(qps: 100, burst: 10), logger: KubernetesTests.logger)
        let event = KubeEvent(regarding: ObjectRef(kind: "HTTPRoute", namespace: "default", name: "r"), type: "Warning",
                              reason: "BackendNotFound", note: "Service default/svc not found")
        await writer.write([event])
        await writer.write([event])
        await client.shutdown()
        let events = server.objects(kind: "Event")
        #expect(events.count == 1, "\(events)")
        let series = events.first?["series"] as? [String: Any]
        #expect(series?["count"] as? Int == 2 && series?["lastObservedTime"] is String, "\(events)")
        #expect(server.calls.contains { $0.verb == "patch" && $0.resource == "events" })
    }
}
