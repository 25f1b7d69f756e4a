import GatewayAPI
import RoutingTable
import Testing
import Translator

/// Where TLS-ALPN-01 certificates of archway's own orders go in the routing table, and when a
/// Gateway cannot be proven by TLS-ALPN-01 at all.
struct ACMETLSChallengeTranslationTests {
    static func manifests(listeners: String) -> String {
        """
        apiVersion: gateway.networking.k8s.io/v1
        kind: GatewayClass
        metadata: {name: archway}
        spec: {controllerName: archway.dev/gateway-controller}
        ---
        apiVersion: archway.dev/v1alpha1
        kind: ACMEIssuer
        metadata: {name: ca}
        spec: {server: "https://ca.example/dir", termsOfServiceAgreed: true, challenge: TLS-ALPN-01}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: web, namespace: default, annotations: {archway.dev/acme-issuer: ca}}
        spec:
          gatewayClassName: archway
          listeners:
        \(listeners)
        """
    }

    static func snapshot(_ yaml: String, challenges: [ACMETLSChallenge] = []) -> ResourceSnapshot {
        let result = ManifestLoader().parse(text: yaml, file: "test.yaml")
        #expect(result.errors.isEmpty, "\(result.errors)")
        var snapshot = ResourceSnapshot(result.resources.map(\.resource))
        snapshot.acmeTLSChallenges = challenges
        return snapshot
    }

    static let challenge = ACMETLSChallenge(gateway: NamespacedName("default", "web"), name: "app.example.test",
                                            certificatePEM: "-----BEGIN CERTIFICATE-----\nchallenge\n", keyPEM: "key")

    /// Before the first certificate the HTTPS listener has no Secret and serves nothing, yet port 443
    /// is in the table with the challenge, for the CA to connect to; other names' listeners get none.
    @Test func theChallengeGoesOnThePortOfTheListenerThatCoversTheName() throws {
        let yaml = Self.manifests(listeners: """
              - {name: app, protocol: HTTPS, port: 443, hostname: app.example.test, tls: {certificateRefs: [{name: app-tls}]}}
              - {name: other, protocol: HTTPS, port: 8443, hostname: other.example.test, tls: {certificateRefs: [{name: other-tls}]}}
            """)
        let quiet = Translator().translate(Self.snapshot(yaml))
        #expect(quiet.table.ports.allSatisfy { $0.acmeChallenges == nil }, "no order in progress, nothing to peek for")
        #expect(quiet.certificates.first { $0.secret.name == "app-tls" }?.problem == nil)

        let result = Translator().translate(Self.snapshot(yaml, challenges: [Self.challenge]))
        let port443 = try #require(result.table.ports.first { $0.port == 443 }, "bound for the challenge")
        #expect(port443.protocol == "TLS")
        #expect(port443.acmeChallenges?.map(\.name) == ["app.example.test"])
        #expect(port443.acmeChallenges?.first?.certificate.chainPEM == Self.challenge.certificatePEM)
        #expect(result.table.ports.first { $0.port == 8443 }?.acmeChallenges == nil)
    }

    /// The CA validates on 443: a Gateway whose HTTPS listener for the name is elsewhere is told so.
    @Test func withoutAnHTTPSListenerOn443ForTheNameItIsNotOrdered() {
        let yaml = Self.manifests(listeners: """
              - {name: app, protocol: HTTPS, port: 8443, hostname: app.example.test, tls: {certificateRefs: [{name: app-tls}]}}
              - {name: elsewhere, protocol: HTTPS, port: 443, hostname: other.example.test, tls: {certificateRefs: [{name: other-tls}]}}
            """)
        let result = Translator().translate(Self.snapshot(yaml))
        let app = result.certificates.first { $0.secret.name == "app-tls" }
        #expect(app?.problem?.contains("TLS-ALPN-01 is answered on port 443") == true, "\(String(describing: app?.problem))")
        #expect(result.certificates.first { $0.secret.name == "other-tls" }?.problem == nil)
    }
}
