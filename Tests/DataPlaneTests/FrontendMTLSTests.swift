import Foundation
import Testing

/// Gateway `spec.tls.frontend` with curl as the client, after the upstream tests
/// GatewayFrontendClientCertificateValidation, …InsecureFallback and
/// GatewayFrontendInvalidDefaultClientCertificateValidation: HTTPS listeners ask for a client
/// certificate and check it against the default CAs, or the perPort entry's on its port.
@Suite(.timeLimit(.minutes(2)))
struct FrontendMTLSTests {
    struct Setup {
        let harness: GatewayHarness
        let server: TestCertificate
        /// Signed by the default CA, and by the per-port (8443) CA.
        let defaultClient: ClientCredentials
        let perPortClient: ClientCredentials
    }

    /// A client certificate and key on disk, for `curl --cert --key`.
    struct ClientCredentials {
        let certificatePath: String
        let keyPath: String
        init(_ certificate: TestCertificate, in directory: URL) throws {
            certificatePath = certificate.path
            keyPath = directory.appendingPathComponent("client-\(UUID().uuidString).key").path
            try certificate.keyPEM.write(toFile: keyPath, atomically: true, encoding: .utf8)
        }
    }

    /// Gateway `gw`: HTTP on 80, HTTPS on 443 (any host) and 8443 (second-example.org), one echo
    /// backend. `frontend` is the Gateway's `spec.tls.frontend` in flow-style YAML; `defaultCA`
    /// names the default CA ConfigMap (a missing one for the invalid-default case).
    static func start(mode: String, defaultCA: String = "default-ca") async throws -> Setup {
        let harness = GatewayHarness()
        harness.extraPortMap = [443: 0, 8443: 0]
        let directory = harness.directory
        let server = try TestCertificate(names: ["example.org", "second-example.org"], in: directory)
        let defaultAuthority = try TestCertificate.authority("default client CA", in: directory)
        let perPortAuthority = try TestCertificate.authority("per-port client CA", in: directory)
        try await harness.startBackend("svc")
        try harness.write("gw.yaml", Manifests.join(
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
              tls:
                frontend:
                  default: {validation: {mode: \(mode), caCertificateRefs: [{kind: ConfigMap, group: "", name: \(defaultCA)}]}}
                  perPort:
                  - {port: 8443, tls: {validation: {mode: \(mode), caCertificateRefs: [{kind: ConfigMap, group: "", name: per-port-ca}]}}}
              listeners:
              - {name: http, protocol: HTTP, port: 80}
              - {name: https, protocol: HTTPS, port: 443, tls: {certificateRefs: [{name: server-cert}]}}
              - {name: https-with-hostname, protocol: HTTPS, port: 8443, hostname: second-example.org, tls: {certificateRefs: [{name: server-cert}]}}
            """,
            Manifests.service("svc", targetPort: harness.backendPorts["svc"]!),
            defaultAuthority.caConfigMap("default-ca"), perPortAuthority.caConfigMap("per-port-ca"), server.secret("server-cert"),
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: r}
            spec:
              parentRefs: [{name: gw}]
              rules: [{backendRefs: [{name: svc, port: 80}]}]
            """))
        try await harness.start()
        return Setup(harness: harness, server: server,
                     defaultClient: try ClientCredentials(try defaultAuthority.issue(["default-client"], in: directory), in: directory),
                     perPortClient: try ClientCredentials(try perPortAuthority.issue(["per-port-client"], in: directory), in: directory))
    }

    /// curl to `host` on the listener port, presenting `client` (or no certificate).
    static func curl(_ setup: Setup, port listenerPort: Int, host: String, client: ClientCredentials?) async throws
        -> (status: Int32, body: String, writeOut: String, stderr: String) {
        let port = await setup.harness.hostPort(listenerPort)
        let credentials = client.map { ["--cert", $0.certificatePath, "--key", $0.keyPath] } ?? []
        return try ExternalTool.curl(credentials + ["--cacert", setup.server.path, "--resolve", "\(host):\(port):127.0.0.1",
                                                    "-w", "\n@@\n%{http_code}", "https://\(host):\(port)/mtls"])
    }

    static func expectServed(_ result: (status: Int32, body: String, writeOut: String, stderr: String), _ what: String) {
        #expect(result.status == 0 && result.writeOut.hasPrefix("200"), "\(what): curl \(result.status) \(result.writeOut) \(result.stderr)")
    }

    static func expectRefused(_ result: (status: Int32, body: String, writeOut: String, stderr: String), _ what: String) {
        // TLS 1.3 clients learn of the refusal on their first read, TLS 1.2 ones in the handshake:
        // either way curl fails and no response arrives.
        #expect(result.status != 0 && !result.writeOut.hasPrefix("200"), "\(what) must fail the handshake: curl \(result.status) \(result.writeOut)")
    }

    /// Conformance: GatewayFrontendClientCertificateValidation
    @Test func gatewayFrontendClientCertificateValidation() async throws {
        let setup = try await Self.start(mode: "AllowValidOnly")
        defer { Task { await setup.harness.stop() } }

        Self.expectServed(try await Self.curl(setup, port: 443, host: "example.org", client: setup.defaultClient), "443 with the default CA's client")
        Self.expectRefused(try await Self.curl(setup, port: 443, host: "example.org", client: setup.perPortClient), "443 with another CA's client")
        Self.expectRefused(try await Self.curl(setup, port: 443, host: "example.org", client: nil), "443 without a client certificate")
        Self.expectServed(try await Self.curl(setup, port: 8443, host: "second-example.org", client: setup.perPortClient), "8443 with the per-port CA's client")
        Self.expectRefused(try await Self.curl(setup, port: 8443, host: "second-example.org", client: setup.defaultClient), "8443 with the default CA's client")
        Self.expectRefused(try await Self.curl(setup, port: 8443, host: "second-example.org", client: nil), "8443 without a client certificate")

        let gateway = try #require(await setup.harness.runtime.statuses?.gateways.first { $0.key.name == "gw" }?.value)
        #expect(!gateway.conditions.contains { $0.type == "InsecureFrontendValidationMode" })
    }

    /// Conformance: GatewayFrontendClientCertificateValidationInsecureFallback
    @Test func gatewayFrontendClientCertificateValidationInsecureFallback() async throws {
        let setup = try await Self.start(mode: "AllowInsecureFallback")
        defer { Task { await setup.harness.stop() } }

        for (port, host) in [(443, "example.org"), (8443, "second-example.org")] {
            for client in [setup.defaultClient, setup.perPortClient, nil] {
                Self.expectServed(try await Self.curl(setup, port: port, host: host, client: client),
                                  "\(port) with \(client.map { $0.certificatePath } ?? "no client certificate")")
            }
        }
        let gateway = try #require(await setup.harness.runtime.statuses?.gateways.first { $0.key.name == "gw" }?.value)
        let insecure = gateway.conditions.first { $0.type == "InsecureFrontendValidationMode" }
        #expect(insecure?.status == "True" && insecure?.reason == "ConfigurationChanged")
    }

    /// Conformance: GatewayFrontendInvalidDefaultClientCertificateValidation
    @Test func gatewayFrontendInvalidDefaultClientCertificateValidation() async throws {
        let setup = try await Self.start(mode: "AllowValidOnly", defaultCA: "does-not-exist")
        defer { Task { await setup.harness.stop() } }

        #expect(try await setup.harness.send("/plain", host: "example.org").status == 200, "the HTTP listener is not affected")
        Self.expectRefused(try await Self.curl(setup, port: 443, host: "example.org", client: setup.defaultClient),
                           "443, whose default validation names a missing ConfigMap")
        Self.expectServed(try await Self.curl(setup, port: 8443, host: "second-example.org", client: setup.perPortClient),
                          "8443, whose perPort validation is valid")
        let gateway = try #require(await setup.harness.runtime.statuses?.gateways.first { $0.key.name == "gw" }?.value)
        let https = gateway.listeners.first { $0.name == "https" }?.conditions
        #expect(https?.first { $0.type == "ResolvedRefs" }?.reason == "InvalidCACertificateRef")
        #expect(https?.first { $0.type == "Accepted" }?.reason == "NoValidCACertificate")
        #expect(https?.first { $0.type == "Programmed" }?.status == "False")
    }
}
