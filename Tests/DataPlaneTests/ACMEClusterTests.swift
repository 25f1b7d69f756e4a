@testable import ArchwayCore
import Foundation
import GatewayAPI
import PebbleLab
import Providers
import Testing

/// Two `serve --kubernetes` replicas against the fake API server and a real Pebble: only the replica
/// holding the Lease orders; the certificate lands in the listener's Secret through the API server and
/// both replicas serve it; the account key is kept in a Secret, so a new leader reuses the account.
/// Pebble resolves the name to the replica that is *not* leading (127.0.0.2), so the HTTP-01 answer it
/// fetches, or the TLS-ALPN-01 certificate it is shown, can only come from the ACMEIssuer status the
/// leader shared.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ACMEClusterTests {
    static func manifests(pebble: Pebble, challenge: String) -> String {
        let bundle = pebble.tlsTrustRootPEM.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n")
        return """
            apiVersion: gateway.networking.k8s.io/v1
            kind: GatewayClass
            metadata: {name: archway}
            spec: {controllerName: archway.dev/gateway-controller}
            ---
            apiVersion: archway.dev/v1alpha1
            kind: ACMEIssuer
            metadata: {name: pebble}
            spec:
              server: \(pebble.directoryURL)
              email: ops@example.test
              termsOfServiceAgreed: true
              challenge: \(challenge)
              caBundle: |
            \(bundle)
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata:
              name: web
              namespace: default
              annotations: {archway.dev/acme-issuer: pebble}
            spec:
              gatewayClassName: archway
              listeners:
              - {name: http, protocol: HTTP, port: 80}
              - {name: https, protocol: HTTPS, port: 443, hostname: app.example.test, tls: {certificateRefs: [{name: app-tls}]}}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: to-https, namespace: default}
            spec:
              parentRefs: [{name: web, sectionName: http}]
              rules: [{filters: [{type: RequestRedirect, requestRedirect: {scheme: https, statusCode: 301}}]}]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: app, namespace: default}
            spec:
              parentRefs: [{name: web, sectionName: https}]
              rules: [{filters: [{type: RequestRedirect, requestRedirect: {hostname: served.example, statusCode: 302}}]}]
            """
    }

    /// `archway_acme_orders_total` of one replica, summed over its labels.
    static func orders(_ harness: GatewayHarness, result: String) async throws -> Int {
        let text = String(decoding: try await AdminReader.get(host: "127.0.0.1", port: harness.adminPort, path: "/metrics"), as: UTF8.self)
        return text.split(separator: "\n").filter { $0.hasPrefix("archway_acme_orders_total{") && $0.contains("result=\"\(result)\"") }
            .compactMap { Double($0.split(separator: " ").last ?? "") }.reduce(0) { $0 + Int($1) }
    }

    static func certificatePEM(_ server: FakeAPIServer) -> String? {
        guard let data = server.object(kind: "Secret", namespace: "default", name: "app-tls")?["data"] as? [String: Any],
              let encoded = data["tls.crt"] as? String, let bytes = Data(base64Encoded: encoded) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func issuerStatus(_ server: FakeAPIServer) -> [String: Any] {
        server.object(kind: "ACMEIssuer", namespace: nil, name: "pebble")?["status"] as? [String: Any] ?? [:]
    }

    /// A request over HTTPS to a replica, trusting only Pebble's root: the certificate served chains to it.
    static func httpsStatus(_ harness: GatewayHarness, root: String) async throws -> Int {
        let client = try await TestHTTPClient.connect(host: harness.portHost, port: await harness.hostPort(443), group: harness.group,
                                                      tls: (root, "app.example.test"))
        defer { Task { await client.close() } }
        return Int(try await client.request(.GET, "/", host: "app.example.test").status)
    }

    @Test(arguments: ["HTTP-01", "TLS-ALPN-01"])
    func onlyTheLeaderOrdersEveryReplicaAnswersAndServesAndANewLeaderReusesTheAccount(challenge: String) async throws {
        // Where Pebble validates: port 80 of both replicas for HTTP-01, port 443 for TLS-ALPN-01.
        let challengePort = try freeLoopbackPort()
        let tls = challenge == "TLS-ALPN-01"
        let ports = tls ? [443: challengePort] : [80: challengePort, 443: 0]
        // No authorization reuse: the second order is validated again, on the replica that no longer leads.
        try await Pebble.with(tls ? .init(tlsPort: challengePort, authorizationReuse: 0) : .init(httpPort: challengePort, authorizationReuse: 0)) { pebble in
            try await pebble.resolve("app.example.test", to: "127.0.0.2")
            let server = FakeAPIServer(collections: FakeAPIServer.defaultCollections + [FakeAPIServer.acmeIssuers])
            try await server.start()
            try server.apply(Manifests.join(Self.manifests(pebble: pebble, challenge: challenge), KubernetesTests.archwayService))
            let lease = NamespacedName("archway-system", "archway-leader")
            let timing = LeaderElector.Timing(leaseDuration: .seconds(1), renewDeadline: .milliseconds(700), retryPeriod: .milliseconds(150))
            var acmeTiming = ACMEAutomation.Timing()
            acmeTiming.retryAfterFailure = .seconds(2)

            let first = GatewayHarness()
            first.extraPortMap = ports
            first.acmeTiming = acmeTiming
            _ = try await KubernetesTests.replica(server, backends: first, lease: lease, identity: "replica-a", timing: timing)
            try await KubernetesTests.waitUntil("replica a leads") { await first.kubernetes!.isLeader }
            let second = GatewayHarness()
            second.portHost = "127.0.0.2"
            second.extraPortMap = ports
            second.acmeTiming = acmeTiming
            _ = try await KubernetesTests.replica(server, backends: second, lease: lease, identity: "replica-b", timing: timing)
            defer { Task { await first.stop(); await second.stop(); await server.stop() } }

            // a orders; Pebble validates on b (127.0.0.2), which learnt the answer from the issuer's status.
            try await KubernetesTests.waitUntil("the certificate is in Secret default/app-tls", seconds: 60) { Self.certificatePEM(server) != nil }
            let firstPEM = try #require(Self.certificatePEM(server))
            let secret = try #require(server.object(kind: "Secret", namespace: "default", name: "app-tls"))
            let annotations = (secret["metadata"] as? [String: Any])?["annotations"] as? [String: String] ?? [:]
            #expect(secret["type"] as? String == "kubernetes.io/tls")
            #expect(annotations["archway.dev/acme-issuer"] == "pebble" && annotations["archway.dev/acme-names"] == "app.example.test", "\(annotations)")
            try await KubernetesTests.waitUntil("the leader counts its order") { try await Self.orders(first, result: "issued") == 1 }
            let secondIssued = try await Self.orders(second, result: "issued"), secondFailed = try await Self.orders(second, result: "failed")
            #expect(secondIssued == 0 && secondFailed == 0, "the replica without the Lease ordered")
            let accountSecret = server.object(kind: "Secret", namespace: "archway-system", name: "archway-acme-account-pebble")
            #expect(((accountSecret?["data"] as? [String: Any])?["key.pem"]) != nil, "the account key is kept in archway's namespace")

            // Both replicas serve it, from the Secret the watch brought (b never held an order).
            let root = try await pebble.issuingRootPEM()
            try await KubernetesTests.waitUntil("both replicas serve the issued certificate", seconds: 10) {
                let fromA = try? await Self.httpsStatus(first, root: root)
                let fromB = try? await Self.httpsStatus(second, root: root)
                return fromA == 302 && fromB == 302
            }
            // The issuer's status says it is issued, and the challenges are gone from it once done.
            try await KubernetesTests.waitUntil("the issuer's status shows the certificate issued, with no challenge left", seconds: 10) {
                let status = Self.issuerStatus(server)
                let certificates = status["certificates"] as? [[String: Any]] ?? []
                return certificates.first?["state"] as? String == "Issued" && status["challenges"] == nil
            }
            let account = Self.issuerStatus(server)["account"] as? String
            #expect(account?.contains("/my-account/") == true, "account: \(account ?? "none")")

            // a stops renewing the Lease; b leads. The Secret is deleted: b orders again, with the same account.
            await first.kubernetes!.stopRenewing()
            try await KubernetesTests.waitUntil("replica b takes over", seconds: 5) { await second.kubernetes!.isLeader }
            try await pebble.resolve("app.example.test", to: "127.0.0.1")  // now a, which no longer leads, answers
            server.delete(kind: "Secret", namespace: "default", name: "app-tls")
            try await KubernetesTests.waitUntil("the new leader writes a new certificate", seconds: 60) {
                Self.certificatePEM(server).map { $0 != firstPEM } ?? false
            }
            // The order is counted just after its Secret is written; then nothing more is ordered.
            try await KubernetesTests.waitUntil("the new leader counts its order") { try await Self.orders(second, result: "issued") == 1 }
            try await Task.sleep(for: .seconds(1))
            #expect(try await Self.orders(second, result: "issued") == 1, "the new leader ordered more than once")
            #expect(try await Self.orders(first, result: "issued") == 1, "the replica that lost the Lease ordered again")
            try await KubernetesTests.waitUntil("the new leader's status names the same account", seconds: 10) {
                Self.issuerStatus(server)["account"] as? String == account
            }
            try await KubernetesTests.waitUntil("both replicas serve the new certificate", seconds: 10) {
                let fromA = try? await Self.httpsStatus(first, root: root)
                let fromB = try? await Self.httpsStatus(second, root: root)
                return fromA == 302 && fromB == 302
            }
            for call in try DeployManifestTests.callsNotAllowed(Set(server.calls)) {
                Issue.record("deploy/rbac.yaml does not allow a call ACME ordering made: \(call)")
            }
        }
    }
}
