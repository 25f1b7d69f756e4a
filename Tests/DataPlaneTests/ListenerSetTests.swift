@testable import ArchwayCore
import Foundation
import GatewayAPI
import NIOCore
import Providers
import Testing

/// A ListenerSet adds a listener on its own port to a shared Gateway; a route attached to the
/// ListenerSet is served there and nowhere else, in file mode and from a cluster.
@Suite(.timeLimit(.minutes(2)))
struct ListenerSetTests {
    /// Gateway `gw` (HTTP on 80, ListenerSets of its namespace allowed), ListenerSet `team` adding
    /// HTTP on 8080, Service `svc` and route `team-route` whose parent is the ListenerSet.
    static func manifests(backendPort: Int) -> String {
        Manifests.join(base(backendPort: backendPort), listenerSet)
    }

    /// Everything but the ListenerSet, so that a test can create it later.
    static func base(backendPort: Int) -> String {
        Manifests.join("""
            apiVersion: gateway.networking.k8s.io/v1
            kind: GatewayClass
            metadata: {name: archway}
            spec: {controllerName: archway.dev/gateway-controller}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: gw, namespace: default}
            spec:
              gatewayClassName: archway
              allowedListeners: {namespaces: {from: Same}}
              listeners:
              - {name: http, protocol: HTTP, port: 80}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: team-route, namespace: default}
            spec:
              parentRefs: [{group: gateway.networking.k8s.io, kind: ListenerSet, name: team}]
              rules: [{backendRefs: [{name: svc, port: 80}]}]
            """, Manifests.service("svc", targetPort: backendPort))
    }

    static let listenerSet = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: ListenerSet
        metadata: {name: team, namespace: default}
        spec:
          parentRef: {name: gw}
          listeners:
          - {name: team-http, protocol: HTTP, port: 8080}
        """

    /// GET / on a fresh connection to the host port that `listenerPort` is bound to.
    static func get(_ harness: GatewayHarness, listenerPort: Int) async throws -> TestHTTPClient.Response {
        let client = try await TestHTTPClient.connect(port: await harness.hostPort(listenerPort), group: harness.group)
        defer { Task { await client.close() } }
        return try await client.request(.GET, "/", host: "team.example.com", headers: [])
    }

    @Test func aRouteAttachedToAListenerSetListenerServesOnItsPort() async throws {
        let harness = GatewayHarness()
        try await harness.startBackend("svc")
        try harness.write("gw.yaml", Self.manifests(backendPort: harness.backendPorts["svc"]!))
        try await harness.start()
        defer { Task { await harness.stop() } }

        let served = try await Self.get(harness, listenerPort: 8080)
        #expect(served.echoName == "svc", "\(served.status) \(served.text)")
        // The Gateway's own listener does not carry the ListenerSet's route.
        #expect(try await Self.get(harness, listenerPort: 80).status == 404)
    }

    /// An edge policy can target a ListenerSet (every listener it declares) or one of its listeners
    /// (sectionName): it applies there, and not on the Gateway's own listeners.
    @Test(arguments: [nil, "team-http"]) func anEdgePolicyTargetingAListenerSetAppliesToItsListeners(section: String?) async throws {
        let harness = GatewayHarness()
        try await harness.startBackend("svc")
        let policy = """
            apiVersion: archway.dev/v1alpha1
            kind: IPAllowList
            metadata: {name: team-only, namespace: default}
            spec:
              targetRefs: [{group: gateway.networking.k8s.io, kind: ListenerSet, name: team\(section.map { ", sectionName: \($0)" } ?? "")}]
              allow: [192.0.2.0/24]
            """
        let gatewayRoute = """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: gateway-route, namespace: default}
            spec:
              parentRefs: [{name: gw, sectionName: http}]
              rules: [{backendRefs: [{name: svc, port: 80}]}]
            """
        try harness.write("gw.yaml", Manifests.join(Self.manifests(backendPort: harness.backendPorts["svc"]!), policy, gatewayRoute))
        try await harness.start()
        defer { Task { await harness.stop() } }
        let status = await harness.runtime.statuses?.edgePolicies.values.first { $0[NamespacedName("default", "team-only")] != nil }?[NamespacedName("default", "team-only")]
        let accepted = status?.ancestors.first?.conditions.first { $0.type == "Accepted" }
        #expect(accepted?.status == "True" && accepted?.message.contains("ListenerSet default/team") == true, "\(String(describing: status))")
        // 127.0.0.1 is outside the allow list: refused on the ListenerSet's listener, served on the Gateway's.
        #expect(try await Self.get(harness, listenerPort: 8080).status == 403)
        #expect(try await Self.get(harness, listenerPort: 80).echoName == "svc")
    }

    @Test func aListenerSetCreatedInTheClusterGetsStatusAndServes() async throws {
        let harness = GatewayHarness()
        let server = FakeAPIServer()
        try await server.start()
        try await harness.startBackend("svc")
        try server.apply(Manifests.join(Self.base(backendPort: harness.backendPorts["svc"]!), KubernetesTests.archwayService))
        _ = try await KubernetesTests.replica(server, backends: harness)
        defer { Task { await harness.stop(); await server.stop() } }
        try await KubernetesTests.waitUntil("the Gateway's status is written") { server.statusWriteCount("Gateway", "default", "gw") >= 1 }
        // Created while archway runs: it arrives by the watch, not the initial list.
        try server.apply(Self.listenerSet)

        try await KubernetesTests.waitUntil("the ListenerSet's status is written") {
            server.statusWriteCount("ListenerSet", "default", "team") >= 1
        }
        let set = server.object(kind: "ListenerSet", namespace: "default", name: "team")
        #expect(KubernetesTests.conditions(set, at: ["status"])["Accepted"]?["status"] as? String == "True")
        #expect(KubernetesTests.conditions(set, at: ["status"])["Programmed"]?["status"] as? String == "True")
        let listeners = (set?["status"] as? [String: Any])?["listeners"] as? [[String: Any]] ?? []
        #expect(listeners.first?["name"] as? String == "team-http" && listeners.first?["attachedRoutes"] as? Int == 1)
        try await KubernetesTests.waitUntil("the Gateway counts the ListenerSet and the route names it as parent") {
            let gateway = server.object(kind: "Gateway", namespace: "default", name: "gw")
            let route = server.object(kind: "HTTPRoute", namespace: "default", name: "team-route")
            let parent = ((route?["status"] as? [String: Any])?["parents"] as? [[String: Any]])?.first?["parentRef"] as? [String: Any]
            return (gateway?["status"] as? [String: Any])?["attachedListenerSets"] as? Int == 1 && parent?["kind"] as? String == "ListenerSet"
        }
        try await KubernetesTests.waitUntil("the ListenerSet's listener serves the route") {
            (try? await Self.get(harness, listenerPort: 8080))?.echoName == "svc"
        }
    }
}
