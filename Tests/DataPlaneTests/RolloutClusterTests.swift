@testable import ArchwayCore
import Foundation
import GatewayAPI
import Providers
import Testing

/// A Rollout in a cluster: the replica holding the Lease moves it and records its progress on the
/// Rollout's status; the other replica serves the same step from that status; when the leader goes,
/// the new one continues from the recorded step instead of starting again.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct RolloutClusterTests {
    static func manifests(stablePort: Int, canaryPort: Int) -> String {
        Manifests.join(
            Manifests.gateway(), Manifests.service("stable", targetPort: stablePort), Manifests.service("canary", targetPort: canaryPort),
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: app, namespace: default}
            spec:
              parentRefs: [{name: gw}]
              rules:
              - name: main
                backendRefs: [{name: stable, port: 80}, {name: canary, port: 80, weight: 0}]
            ---
            apiVersion: archway.dev/v1alpha1
            kind: Rollout
            metadata: {name: ship, namespace: default}
            spec:
              targetRef: {kind: HTTPRoute, name: app, sectionName: main}
              stable: {name: stable}
              canary: {name: canary}
              steps:
              - {weight: 20, duration: 1s}
              - {weight: 40, duration: 1s}
              - {weight: 60, duration: 600s}
              - {weight: 100}
              analysis: {interval: 500ms, minRequests: 1, maxErrorRate: 50}
            """, KubernetesTests.archwayService)
    }

    static func recorded(_ server: FakeAPIServer) -> (phase: String, step: Int)? {
        guard let progress = (server.object(kind: "Rollout", namespace: "default", name: "ship")?["status"] as? [String: Any])?["progress"] as? [String: Any],
              let phase = progress["phase"] as? String, let step = progress["step"] as? Int else { return nil }
        return (phase, step)
    }

    static func served(_ harness: GatewayHarness) async throws -> Int? {
        try await harness.statusItems().first { $0["kind"] as? String == "Rollout" }
            .flatMap { ($0["status"] as? [String: Any])?["canaryWeight"] as? Int }
    }

    /// Requests through a replica, for its data plane to count (the leader judges what it served).
    static func traffic(_ harness: GatewayHarness, until deadline: ContinuousClock.Instant) async throws {
        let client = try await harness.client()
        while ContinuousClock.now < deadline { _ = try await client.request(.GET, "/", host: "app.example") }
        await client.close()
    }

    @Test func theLeaderMovesItOnItsStatusAndANewLeaderContinuesFromThere() async throws {
        let lease = NamespacedName("archway-system", "archway-leader")
        let timing = LeaderElector.Timing(leaseDuration: .seconds(1), renewDeadline: .milliseconds(700), retryPeriod: .milliseconds(150))
        let first = GatewayHarness()
        try await first.startBackend("stable")
        try await first.startBackend("canary")
        let server = FakeAPIServer(collections: FakeAPIServer.defaultCollections + [FakeAPIServer.rollouts])
        try await server.start()
        try server.apply(Self.manifests(stablePort: first.backendPorts["stable"]!, canaryPort: first.backendPorts["canary"]!))
        _ = try await KubernetesTests.replica(server, backends: first, lease: lease, identity: "replica-a", timing: timing)
        try await KubernetesTests.waitUntil("replica a leads") { await first.kubernetes!.isLeader }
        let second = GatewayHarness()
        second.extraPortMap = [:]
        _ = try await KubernetesTests.replica(server, backends: second, lease: lease, identity: "replica-b", timing: timing)
        defer { Task { await first.stop(); await second.stop(); await server.stop() } }

        // a moves it through the first two steps to the third (a long one), recording each on the status.
        let driving = Task { try await Self.traffic(first, until: .now + .seconds(20)) }
        try await KubernetesTests.waitUntil("the status records the third step", seconds: 15) { Self.recorded(server).map { $0.step == 2 } ?? false }
        driving.cancel()
        #expect(Self.recorded(server)?.phase == "Progressing")
        // b moved nothing itself, and serves the step the status records.
        try await KubernetesTests.waitUntil("replica b serves 60% too") { try await Self.served(second) == 60 }
        #expect(await second.kubernetes!.isLeader == false)

        // a stops renewing; b takes over and carries on from step 3, never from the first.
        await first.kubernetes!.stopRenewing()
        try await KubernetesTests.waitUntil("replica b takes over", seconds: 5) { await second.kubernetes!.isLeader }
        try await Task.sleep(for: .seconds(1))
        #expect(Self.recorded(server)?.step == 2, "the new leader restarted the rollout: \(String(describing: Self.recorded(server)))")
        #expect(try await Self.served(second) == 60)
        // And it is b that moves it now: promoted by command on b.
        let promote = try await ExternalTool.runOffThePool("/usr/bin/curl", ["-s", "-X", "POST", "http://127.0.0.1:\(second.adminPort)/rollouts/default/ship/promote"])
        #expect(promote.stdout.contains("\"phase\":\"Promoted\""), "\(promote.stdout)")
        try await KubernetesTests.waitUntil("the status records the promotion") { Self.recorded(server)?.phase == "Promoted" }
        try await KubernetesTests.waitUntil("a serves it too") { try await Self.served(first) == 100 }
    }
}
