@testable import ArchwayCore
import Foundation
import GatewayAPI
import Providers
import Testing

/// Archway as the cluster's load balancer against the fake API server: LoadBalancer Services of its
/// class get an address from an AddressPool in status.loadBalancer.ingress (the playbook's EXTERNAL-IP
/// <pending> becomes an address), Gateways that ask for none get theirs from the same pool, and a
/// new leader keeps every assignment the old one wrote.
@Suite(.timeLimit(.minutes(2)))
struct KubernetesAddressPoolTests {
    static let pool = """
        apiVersion: archway.dev/v1alpha1
        kind: AddressPool
        metadata: {name: lan, creationTimestamp: "2026-01-01T00:00:00Z"}
        spec: {addresses: [127.0.40.1-127.0.40.9]}
        """

    static func loadBalancer(_ name: String, created: String, loadBalancerClass: String = "archway.dev/load-balancer") -> String {
        """
        apiVersion: v1
        kind: Service
        metadata: {name: \(name), namespace: default, creationTimestamp: "\(created)"}
        spec: {type: LoadBalancer, loadBalancerClass: \(loadBalancerClass), ports: [{name: http, port: 80}]}
        """
    }

    static func externalIPs(_ server: FakeAPIServer, _ name: String) -> [String] {
        let status = server.object(kind: "Service", namespace: "default", name: name)?["status"] as? [String: Any]
        return ((status?["loadBalancer"] as? [String: Any])?["ingress"] as? [[String: Any]] ?? []).compactMap { $0["ip"] as? String }
    }

    static func gatewayAddresses(_ server: FakeAPIServer) -> [String] {
        let status = server.object(kind: "Gateway", namespace: "default", name: "gw")?["status"] as? [String: Any]
        return (status?["addresses"] as? [[String: Any]] ?? []).compactMap { $0["value"] as? String }
    }

    @Test func loadBalancerServicesGetPoolAddressesAndANewLeaderKeepsThem() async throws {
        let lease = NamespacedName("archway-system", "archway-leader")
        let timing = LeaderElector.Timing(leaseDuration: .seconds(1), renewDeadline: .milliseconds(700), retryPeriod: .milliseconds(150))
        let first = GatewayHarness()
        // A cluster with archway's AddressPool CRD installed.
        let server = FakeAPIServer(collections: FakeAPIServer.defaultCollections + [FakeAPIServer.addressPools])
        try await server.start()
        try await first.startBackend("svc")
        try server.apply(Manifests.join(Manifests.gateway(), Manifests.service("svc", targetPort: first.backendPorts["svc"]!),
                                        Manifests.route("r", path: "/", service: "svc"), KubernetesTests.archwayService))
        // web carries another controller's condition, which must survive archway's writes.
        let foreign = "\nstatus: {conditions: [{type: Ready, status: \"True\", reason: Probed, message: seen, lastTransitionTime: \"2026-01-01T00:00:00Z\"}]}"
        try server.apply(Manifests.join(Self.pool, Self.loadBalancer("web", created: "2026-01-02T00:00:00Z") + foreign,
                                        Self.loadBalancer("metallb-s", created: "2026-01-02T00:00:00Z", loadBalancerClass: "metallb.io/metallb"),
                                        // Given .9 by an earlier leader: what the object records is kept,
                                        // whatever a fresh choice would have been.
                                        Self.loadBalancer("kept", created: "2026-01-05T00:00:00Z") + "\nstatus: {loadBalancer: {ingress: [{ip: 127.0.40.9}]}}"))
        _ = try await KubernetesTests.replica(server, backends: first, lease: lease, identity: "replica-a", timing: timing)
        try await KubernetesTests.waitUntil("replica a leads") { await first.kubernetes!.isLeader }
        let second = GatewayHarness()
        _ = try await KubernetesTests.replica(server, backends: second, lease: lease, identity: "replica-b", timing: timing)
        defer { Task { await first.stop(); await second.stop(); await server.stop() } }

        try await KubernetesTests.waitUntil("web gets its EXTERNAL-IP") { !Self.externalIPs(server, "web").isEmpty }
        let web = Self.externalIPs(server, "web")
        #expect(web.count == 1 && web[0].hasPrefix("127.0.40."), "\(web)")
        let conditions = KubernetesTests.conditions(server.object(kind: "Service", namespace: "default", name: "web"), at: ["status"])
        #expect(conditions["archway.dev/AddressAssigned"]?["status"] as? String == "True")
        #expect(conditions["Ready"]?["reason"] as? String == "Probed", "another controller's condition on the Service is kept: \(conditions.keys.sorted())")
        try await KubernetesTests.waitUntil("the Gateway gets a pool address") { Self.gatewayAddresses(server).first?.hasPrefix("127.0.40.") == true }
        let gateway = Self.gatewayAddresses(server)
        #expect(gateway.count == 1 && !web.contains(gateway[0]), "Gateway and Service hold different addresses: \(gateway) \(web)")
        #expect(server.statusWriteCount("Service", "default", "metallb-s") == 0, "another load balancer's Service is left alone")
        #expect(server.statusWriteCount("Service", "archway-system", "archway") == 0, "a Service naming no class is left alone unless archway is the default")
        let pool = server.object(kind: "AddressPool", namespace: nil, name: "lan")?["status"] as? [String: Any]
        #expect(Self.externalIPs(server, "kept") == ["127.0.40.9"])
        #expect(pool?["used"] as? Int == 3 && pool?["free"] as? String == "6", "\(pool ?? [:])")

        // a crashes without letting go; b takes over and, reading what a wrote, renumbers nobody,
        // while a new Service gets an address nobody holds.
        await first.kubernetes!.stopRenewing()
        try await KubernetesTests.waitUntil("replica b takes over", seconds: 5) { await second.kubernetes!.isLeader }
        try server.apply(Self.loadBalancer("api", created: "2026-01-03T00:00:00Z"))
        try await KubernetesTests.waitUntil("api gets its EXTERNAL-IP") { !Self.externalIPs(server, "api").isEmpty }
        #expect(Self.externalIPs(server, "web") == web, "the new leader keeps web's address")
        #expect(Self.gatewayAddresses(server) == gateway, "and the Gateway's")
        let api = Self.externalIPs(server, "api")
        #expect(api.count == 1 && !web.contains(api[0]) && !gateway.contains(api[0]) && api[0] != "127.0.40.9", "\(api)")
        #expect(server.statusWriteCount("Service", "default", "web") == 1, "web's status was written once, by a")

        // Deleting a Service frees its address.
        server.delete(kind: "Service", namespace: "default", name: "api")
        try await KubernetesTests.waitUntil("the pool counts one address fewer") {
            (server.object(kind: "AddressPool", namespace: nil, name: "lan")?["status"] as? [String: Any])?["used"] as? Int == 3
        }
    }
}
