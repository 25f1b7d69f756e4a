import GatewayAPI
import RoutingTable
import Testing
import Translator

/// Where an HTTP-01 answer of archway's own ACME order goes in the routing table: on the HTTP
/// listeners of the Gateway that asked for the certificate, for the one host, first in that host's
/// rules, and nowhere else.
struct ACMEChallengeAnswerTests {
    static let manifests = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: GatewayClass
        metadata: {name: archway}
        spec: {controllerName: archway.dev/gateway-controller}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: web, namespace: default, annotations: {archway.dev/acme-issuer: letsencrypt}}
        spec:
          gatewayClassName: archway
          listeners:
          - {name: http, protocol: HTTP, port: 80}
          - {name: https, protocol: HTTPS, port: 443, hostname: app.example.com, tls: {certificateRefs: [{name: app-tls}]}}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: other, namespace: default}
        spec:
          gatewayClassName: archway
          listeners: [{name: http, protocol: HTTP, port: 8080}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: exact-host, namespace: default}
        spec:
          parentRefs: [{name: web, sectionName: http}]
          hostnames: [app.example.com]
          rules: [{matches: [{path: {type: PathPrefix, value: /.well-known}}], filters: [{type: RequestRedirect, requestRedirect: {hostname: mine.example, statusCode: 302}}]}]
        """

    @Test func theAnswerIsTheFirstRuleOfItsHostOnTheGatewaysHTTPListenersOnly() throws {
        var snapshot = ResourceSnapshot(ManifestLoader().parse(text: Self.manifests, file: "acme.yaml").resources.map(\.resource))
        snapshot.acmeChallengeAnswers = [ACMEChallengeAnswer(gateway: NamespacedName("default", "web"), name: "app.example.com",
                                                             token: "tok-1", keyAuthorization: "tok-1.thumbprint")]
        let table = Translator().translate(snapshot).table
        let port80 = try #require(table.ports.first { $0.port == 80 })
        let host = try #require(port80.listeners.first?.virtualHosts.first { $0.hostname == "app.example.com" })
        let first = try #require(host.routes.first)
        #expect(first.match.path == .exact("/.well-known/acme-challenge/tok-1"))
        #expect(first.action == .direct(status: 200, reason: "tok-1.thumbprint"))
        #expect(first.edge.isEmpty && first.filters.isEmpty)
        // The user's own route for the host and a prefix of the path still follows it.
        #expect(host.routes.dropFirst().first?.origin.name == "exact-host")
        // Not on the other Gateway, not on the HTTPS listener.
        let elsewhere = table.ports.filter { $0.port != 80 }.flatMap(\.listeners).flatMap(\.virtualHosts).flatMap(\.routes)
        #expect(!elsewhere.contains { $0.match.path == .exact("/.well-known/acme-challenge/tok-1") })
    }

    /// An answer is a certificate for the name: one for a name no listener asks archway to order, or
    /// for a Gateway that names no ACMEIssuer, is not served, whoever put it on an issuer's status.
    @Test func answersForNamesNobodyOrdersAreNotServed() throws {
        var snapshot = ResourceSnapshot(ManifestLoader().parse(text: Self.manifests, file: "acme.yaml").resources.map(\.resource))
        snapshot.acmeChallengeAnswers = [
            ACMEChallengeAnswer(gateway: NamespacedName("default", "web"), name: "bank.example.com", token: "tok-2", keyAuthorization: "x"),
            ACMEChallengeAnswer(gateway: NamespacedName("default", "other"), name: "app.example.com", token: "tok-3", keyAuthorization: "y"),
        ]
        let table = Translator().translate(snapshot).table
        let paths = table.ports.flatMap(\.listeners).flatMap(\.virtualHosts).flatMap(\.routes).map(\.match.path)
        #expect(!paths.contains(.exact("/.well-known/acme-challenge/tok-2")) && !paths.contains(.exact("/.well-known/acme-challenge/tok-3")))
    }
}
