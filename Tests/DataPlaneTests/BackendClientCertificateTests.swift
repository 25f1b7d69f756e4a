import ArchwayCore
import Foundation
import NIOCore
import NIOSSL
import Testing

/// Gateway `spec.tls.backend.clientCertificateRef` (upstream GatewayTLSBackendClientCertificate and
/// GatewayInvalidTLSBackendConfiguration): a backend reached over TLS by a BackendTLSPolicy that
/// requires a client certificate is reached only through a Gateway that presents one it trusts.
@Suite(.timeLimit(.minutes(2)))
struct BackendClientCertificateTests {
    /// An echo server over TLS that refuses clients without a certificate signed by `clients`.
    static func mutualTLSBackend(certificate: TestCertificate, clients: TestCertificate, harness: GatewayHarness) async throws -> Int {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(certificate.chainPEM.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(certificate.keyPEM.utf8), format: .pem)))
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(clients.chainPEM.utf8)))
        let channel = try await EchoServer.start(name: "mtls-backend", host: "127.0.0.1", port: 0, group: harness.group,
                                                 tls: try NIOSSLContext(configuration: configuration))
        return channel.localAddress!.port!
    }

    /// GatewayClass `archway` and Gateway `gw` (HTTP on 80) presenting the Secret `secret` to backends.
    static func gateway(presenting secret: String) -> String {
        """
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
          listeners: [{name: http, protocol: HTTP, port: 80}]
          tls: {backend: {clientCertificateRef: {group: "", kind: Secret, name: \(secret)}}}
        """
    }

    /// Two Gateways share port 80: `gw` presents `clientCertificateRef` (a.example.com), `plain` has
    /// no spec.tls (b.example.com). Both route to the one Service the BackendTLSPolicy covers.
    /// Conformance: GatewayTLSBackendClientCertificate
    @Test(arguments: [true, false]) func gatewayTLSBackendClientCertificate(fastLane: Bool) async throws {
        let harness = GatewayHarness()
        harness.fastLane = fastLane
        defer { Task { await harness.stop() } }
        let serverCA = try TestCertificate.authority("backend CA", in: harness.directory)
        let clientCA = try TestCertificate.authority("client CA", in: harness.directory)
        let port = try await Self.mutualTLSBackend(certificate: try serverCA.issue(["backend.internal"], in: harness.directory),
                                                   clients: clientCA, harness: harness)
        let gatewayClient = try clientCA.issue(["archway"], in: harness.directory)
        try harness.write("gw.yaml", Manifests.join(
            Self.gateway(presenting: "gateway-client"), Manifests.service("secure", targetPort: port),
            serverCA.caConfigMap("backend-ca"), BackendTLSTests.policy("secure-tls", service: "secure", configMap: "backend-ca"),
            gatewayClient.secret("gateway-client"),
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: plain, namespace: default}
            spec:
              gatewayClassName: archway
              listeners: [{name: http, protocol: HTTP, port: 80}]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: through-gw}
            spec:
              parentRefs: [{name: gw}]
              hostnames: [a.example.com]
              rules: [{backendRefs: [{name: secure, port: 80}]}]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: through-plain}
            spec:
              parentRefs: [{name: plain}]
              hostnames: [b.example.com]
              rules: [{backendRefs: [{name: secure, port: 80}]}]
            """))
        try await harness.start()

        let presented = try await harness.send("/x", host: "a.example.com")
        #expect(presented.status == 200, "through gw, which presents its client certificate: \(presented.text)")
        #expect(presented.echoName == "mtls-backend")
        for _ in 0..<3 {  // pooled connections keep the certificate they were made with
            #expect(try await harness.send("/again", host: "a.example.com").status == 200)
        }
        let refused = try await harness.send("/x", host: "b.example.com")
        #expect(refused.status == 502, "through plain, which has no client certificate, the backend refuses the handshake")

        let statuses = try #require(await harness.runtime.statuses)
        let gw = statuses.gateways.first { $0.key.name == "gw" }?.value.conditions.first { $0.type == "ResolvedRefs" }
        #expect(gw?.status == "True" && gw?.reason == "ResolvedRefs")
    }

    @Test func gatewayInvalidTLSBackendConfiguration() async throws {
        let harness = GatewayHarness()
        defer { Task { await harness.stop() } }
        try harness.write("gw.yaml", Manifests.join(Self.gateway(presenting: "malformed"), """
            apiVersion: v1
            kind: Secret
            metadata: {name: malformed, namespace: default}
            type: Opaque
            data: {}
            """))
        try await harness.start()
        let statuses = try #require(await harness.runtime.statuses)
        let conditions = statuses.gateways.first { $0.key.name == "gw" }?.value.conditions
        #expect(conditions?.first { $0.type == "ResolvedRefs" }?.reason == "InvalidClientCertificateRef")
        #expect(conditions?.first { $0.type == "Accepted" }?.reason == "Accepted")
    }
}
