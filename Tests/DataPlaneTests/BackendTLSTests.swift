import ArchwayCore
import Foundation
import NIOCore
import NIOSSL
import Testing

/// BackendTLSPolicy: archway speaks TLS to the backend, trusting only the policy's CA bundle and
/// checking the policy hostname.
@Suite(.timeLimit(.minutes(2)))
struct BackendTLSTests {
    static func tlsBackend(_ name: String, certificate: TestCertificate, harness: GatewayHarness) async throws -> Int {
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(certificate.chainPEM.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(certificate.keyPEM.utf8), format: .pem)))
        let channel = try await EchoServer.start(name: name, host: "127.0.0.1", port: 0, group: harness.group,
                                                 tls: try NIOSSLContext(configuration: configuration))
        return channel.localAddress!.port!
    }

    static func policy(_ name: String, service: String, configMap: String) -> String {
        """
        apiVersion: gateway.networking.k8s.io/v1
        kind: BackendTLSPolicy
        metadata: {name: \(name)}
        spec:
          targetRefs: [{group: "", kind: Service, name: \(service)}]
          validation:
            caCertificateRefs: [{group: "", kind: ConfigMap, name: \(configMap)}]
            hostname: backend.internal
        """
    }

    /// On the fast lane (TLS under its bytes) and on the general path alike.
    @Test(arguments: [true, false]) func backendCertificateFromThePolicyCAIsAcceptedAndAnotherCAIsRefused(fastLane: Bool) async throws {
        let harness = GatewayHarness()
        harness.fastLane = fastLane
        defer { Task { await harness.stop() } }
        let trusted = try TestCertificate.authority("trusted CA", in: harness.directory)
        let other = try TestCertificate.authority("other CA", in: harness.directory)
        let goodPort = try await Self.tlsBackend("good", certificate: try trusted.issue(["backend.internal"], in: harness.directory), harness: harness)
        let badPort = try await Self.tlsBackend("bad", certificate: try other.issue(["backend.internal"], in: harness.directory), harness: harness)
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(), Manifests.service("good", targetPort: goodPort), Manifests.service("bad", targetPort: badPort),
            trusted.caConfigMap("trusted-ca"), Self.policy("good-tls", service: "good", configMap: "trusted-ca"),
            Self.policy("bad-tls", service: "bad", configMap: "trusted-ca"),
            Self.policy("broken-tls", service: "good", configMap: "no-such-configmap"),
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: r}
            spec:
              parentRefs: [{name: gw}]
              rules:
              - matches: [{path: {type: PathPrefix, value: /good}}]
                backendRefs: [{name: good, port: 80}]
              - matches: [{path: {type: PathPrefix, value: /bad}}]
                backendRefs: [{name: bad, port: 80}]
            """))
        try await harness.start()

        let good = try await harness.send("/good/x", host: "app.example.com")
        #expect(good.status == 200)
        #expect(good.echoName == "good", "the TLS backend answered through the policy's CA")
        for _ in 0..<5 {  // pooled TLS connections are reused
            #expect(try await harness.send("/good/again", host: "app.example.com").status == 200)
        }
        let bad = try await harness.send("/bad/x", host: "app.example.com")
        #expect(bad.status == 502, "a certificate from another CA is refused")
        #expect(bad.text.contains("bad"), "\(bad.text)")

        let statuses = try #require(await harness.runtime.statuses)
        let accepted = statuses.backendTLSPolicies.first { $0.key.name == "good-tls" }?.value.ancestors.first?.conditions
        #expect(accepted?.first { $0.type == "Accepted" }?.status == "True")
        let broken = statuses.backendTLSPolicies.first { $0.key.name == "broken-tls" }?.value.ancestors.first?.conditions
        #expect(broken?.first { $0.type == "Accepted" }?.reason == "NoValidCACertificate")
        #expect(broken?.first { $0.type == "ResolvedRefs" }?.reason == "InvalidCACertificateRef")
    }

    /// Conformance: BackendTLSPolicyTLSRouteTerminate
    /// A TLSRoute on a Terminate listener to a Service with a BackendTLSPolicy: TLS ends at the
    /// gateway and starts again towards the backend (SNI and verified name: the policy hostname), and
    /// the policy is Accepted with its references resolved.
    @Test func aTerminatedTLSRouteSpeaksTLSToABackendWithAPolicy() async throws {
        let harness = GatewayHarness()
        harness.extraPortMap = [443: 0]
        defer { Task { await harness.stop() } }
        let trusted = try TestCertificate.authority("trusted CA", in: harness.directory)
        let backendPort = try await Self.tlsBackend("tls-only", certificate: try trusted.issue(["backend.internal"], in: harness.directory), harness: harness)
        let gatewayCert = try TestCertificate(names: ["edge.example.com"], in: harness.directory)
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(listeners: [
                "{name: term, protocol: TLS, port: 443, hostname: edge.example.com, tls: {mode: Terminate, certificateRefs: [{name: edge}]}}",
            ]),
            gatewayCert.secret("edge"), Manifests.service("secure", targetPort: backendPort),
            trusted.caConfigMap("trusted-ca"), Self.policy("secure-tls", service: "secure", configMap: "trusted-ca"),
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: TLSRoute
            metadata: {name: edge}
            spec:
              parentRefs: [{name: gw, sectionName: term}]
              hostnames: [edge.example.com]
              rules: [{backendRefs: [{name: secure, port: 80}]}]
            """))
        try await harness.start()
        let port = await harness.hostPort(443)
        let term = try ExternalTool.curl(["--cacert", gatewayCert.path, "--resolve", "edge.example.com:\(port):127.0.0.1",
                                          "-w", "\n@@\n%{http_code}", "https://edge.example.com:\(port)/re-encrypted"])
        #expect(term.status == 0 && term.writeOut == "200", "\(term.writeOut) \(term.stderr)")
        #expect(term.body.contains("\"name\":\"tls-only\""), "the TLS-only backend answered: \(term.body)")
        let conditions = try #require(await harness.runtime.statuses?.backendTLSPolicies.first { $0.key.name == "secure-tls" }?.value.ancestors.first?.conditions)
        #expect(conditions.first { $0.type == "Accepted" }?.status == "True" && conditions.first { $0.type == "ResolvedRefs" }?.status == "True",
                "\(conditions.map { "\($0.type)=\($0.status)/\($0.reason)" })")
    }

    /// Conformance: BackendTLSPolicySANValidation
    /// subjectAltNames: the backend's certificate must carry one of the listed names (a DNS name or
    /// a URI), and the policy hostname is then only the SNI. Four Services on one TLS backend whose
    /// certificate names abc.example.com and spiffe://abc.example.com/test-identity, as upstream.
    @Test func BackendTLSPolicySANValidation() async throws {
        let harness = GatewayHarness()
        defer { Task { await harness.stop() } }
        let trusted = try TestCertificate.authority("trusted CA", in: harness.directory)
        let certificate = try trusted.issue(["abc.example.com", "spiffe://abc.example.com/test-identity"], in: harness.directory)
        let port = try await Self.tlsBackend("san", certificate: certificate, harness: harness)
        let cases = [("san-dns", "{type: Hostname, hostname: abc.example.com}", 200),
                     ("san-dns-mismatch", "{type: Hostname, hostname: dce.example.com}", 502),
                     ("san-uri", "{type: URI, uri: \"spiffe://abc.example.com/test-identity\"}", 200),
                     ("san-uri-mismatch", "{type: URI, uri: \"spiffe://dce.example.com/test-identity\"}", 502)]
        var manifests = [Manifests.gateway(), trusted.caConfigMap("tls-checks-ca-certificate")]
        for (name, san, _) in cases {
            manifests.append(Manifests.service(name, targetPort: port))
            manifests.append("""
                apiVersion: gateway.networking.k8s.io/v1
                kind: BackendTLSPolicy
                metadata: {name: \(name)}
                spec:
                  targetRefs: [{group: "", kind: Service, name: \(name)}]
                  validation:
                    caCertificateRefs: [{group: "", kind: ConfigMap, name: tls-checks-ca-certificate}]
                    hostname: abc.example.com
                    subjectAltNames: [\(san)]
                """)
            manifests.append(Manifests.route(name, path: "/backendtlspolicy-\(name)", service: name))
        }
        try harness.write("gw.yaml", manifests.joined(separator: "\n---\n") + "\n")
        try await harness.start()
        let statuses = try #require(await harness.runtime.statuses)
        for (name, _, status) in cases {
            let accepted = statuses.backendTLSPolicies.first { $0.key.name == name }?.value.ancestors.first?.conditions.first { $0.type == "Accepted" }
            #expect(accepted?.status == "True", "\(name) is accepted")
            let answer = try await harness.send("/backendtlspolicy-\(name)", host: "abc.example.com")
            #expect(answer.status == status, "\(name): \(answer.status) \(answer.text)")
            if status != 200 { #expect(answer.text.contains("subjectAltNames"), "\(name): \(answer.text)") }
        }
    }

    /// A Service whose only BackendTLSPolicy cannot be used (its CA ConfigMap is missing) is not
    /// reached in plaintext: its requests get a 500 naming the policy, on both paths.
    @Test(arguments: [true, false]) func anUnusablePolicyFailsClosed(fastLane: Bool) async throws {
        let harness = GatewayHarness()
        harness.fastLane = fastLane
        defer { Task { await harness.stop() } }
        let backend = RecordingBackend(name: "plain")
        let port = try await backend.start(group: harness.group)
        defer { Task { await backend.stop() } }
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(), Manifests.service("plain", targetPort: port),
            Self.policy("broken-tls", service: "plain", configMap: "no-such-configmap"),
            Manifests.route("r", path: "/", service: "plain")))
        try await harness.start()
        let answer = try await harness.send("/secret", host: "app.example.com")
        #expect(answer.status == 500, "\(answer.status) \(answer.text)")
        #expect(answer.text.contains("BackendTLSPolicy default/broken-tls"), "\(answer.text)")
        #expect(backend.requests.isEmpty, "the backend was reached in plaintext: \(backend.requests.map(\.path))")
    }

    /// A CA bundle that looks like PEM but does not parse is reported on the policy (it used to pass the
    /// translator and fail only when the table was swapped in); its Service fails closed, and a route
    /// beside it is served.
    @Test func anUnparseableCABundleIsReportedAndOnlyItsServiceIsRefused() async throws {
        let harness = GatewayHarness()
        defer { Task { await harness.stop() } }
        let services = try await harness.startBackendServices("guarded", "open")
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(), services,
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: broken-ca}\ndata: {ca.crt: \"-----BEGIN CERTIFICATE-----\\nbm90IGEgY2VydGlmaWNhdGU=\\n-----END CERTIFICATE-----\\n\"}",
            Self.policy("broken-ca-tls", service: "guarded", configMap: "broken-ca"),
            Manifests.route("guarded", path: "/guarded", service: "guarded"), Manifests.route("open", path: "/open", service: "open")))
        try await harness.start()
        let conditions = try #require(await harness.runtime.statuses?.backendTLSPolicies.first { $0.key.name == "broken-ca-tls" }?.value.ancestors.first?.conditions)
        let accepted = conditions.first { $0.type == "Accepted" }, refs = conditions.first { $0.type == "ResolvedRefs" }
        #expect(accepted?.status == "False" && accepted?.reason == "NoValidCACertificate", "\(conditions)")
        #expect(refs?.status == "False" && refs?.reason == "InvalidCACertificateRef" && refs?.message.contains("cannot be used") == true, "\(conditions)")
        #expect(try await harness.send("/guarded", host: "app.example.com").status == 500)
        #expect(try await harness.send("/open", host: "app.example.com").status == 200)
    }

    /// Conformance: BackendTLSPolicy
    /// The upstream test's three requests: HTTP and re-encrypted HTTPS to a Service whose policy is
    /// valid reach the TLS backend (200); a policy whose hostname the certificate does not carry is
    /// still Accepted with its references resolved, and its requests fail (502), never sent unverified.
    @Test func backendTLSPolicyReencryptsAndRefusesAMismatchedHostname() async throws {
        let harness = GatewayHarness()
        harness.extraPortMap = [443: 0]
        defer { Task { await harness.stop() } }
        let trusted = try TestCertificate.authority("trusted CA", in: harness.directory)
        let backendPort = try await Self.tlsBackend("abc", certificate: try trusted.issue(["abc.example.com"], in: harness.directory), harness: harness)
        let listenerCert = try TestCertificate(names: ["https-listener.org"], in: harness.directory)
        func policy(_ name: String, service: String, hostname: String) -> String {
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: BackendTLSPolicy
            metadata: {name: \(name)}
            spec:
              targetRefs: [{group: "", kind: Service, name: \(service)}]
              validation:
                caCertificateRefs: [{group: "", kind: ConfigMap, name: backend-ca}]
                hostname: \(hostname)
            """
        }
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(listeners: ["{name: http, protocol: HTTP, port: 80}",
                                          "{name: https, protocol: HTTPS, port: 443, tls: {certificateRefs: [{name: listener-cert}]}}"]),
            listenerCert.secret("listener-cert"), trusted.caConfigMap("backend-ca"),
            Manifests.service("valid", targetPort: backendPort), Manifests.service("mismatch", targetPort: backendPort),
            policy("valid-policy", service: "valid", hostname: "abc.example.com"),
            policy("mismatch-policy", service: "mismatch", hostname: "mismatch.example.com"),
            Manifests.route("valid", path: "/backendtlspolicy", service: "valid"),
            Manifests.route("mismatch", path: "/backendtlspolicy-host-mismatch", service: "mismatch")))
        try await harness.start()
        let statuses = try #require(await harness.runtime.statuses)
        for name in ["valid-policy", "mismatch-policy"] {
            let conditions = statuses.backendTLSPolicies.first { $0.key.name == name }?.value.ancestors.first?.conditions ?? []
            #expect(conditions.first { $0.type == "Accepted" }?.status == "True" && conditions.first { $0.type == "ResolvedRefs" }?.status == "True",
                    "\(name): \(conditions.map { "\($0.type)=\($0.status)/\($0.reason)" })")
        }
        #expect(try await harness.send("/backendtlspolicy", host: "abc.example.com").status == 200)
        let port = await harness.hostPort(443)
        let reencrypted = try ExternalTool.curl(["--cacert", listenerCert.path, "--resolve", "https-listener.org:\(port):127.0.0.1",
                                                 "-w", "\n@@\n%{http_code}", "https://https-listener.org:\(port)/backendtlspolicy"])
        #expect(reencrypted.writeOut == "200" && reencrypted.body.contains("\"name\":\"abc\""), "\(reencrypted.writeOut) \(reencrypted.stderr)")
        let mismatch = try await harness.send("/backendtlspolicy-host-mismatch", host: "abc.example.org")
        #expect(mismatch.status == 502, "\(mismatch.status) \(mismatch.text)")
    }
}
