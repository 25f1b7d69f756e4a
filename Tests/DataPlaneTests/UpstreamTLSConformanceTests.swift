import ArchwayCore
import Foundation
import NIOCore
import NIOSSL
import Testing

/// Upstream Gateway API conformance tests of TLSRoute traffic: the upstream test's manifest verbatim
/// (conformance/tests/*.yaml), the suite's tcp-backend Service (conformance/base/manifests.yaml) backed
/// by a TLS echo server with its own certificate, and curl as the client. Their statuses are fixtures.
@Suite(.timeLimit(.minutes(2)))
struct UpstreamTLSConformanceTests {
    /// The suite's tcp-backend Service, with an EndpointSlice to `port` for its echo-tcp-tls port and
    /// `plainPort` for its echo-tcp-plain port.
    static func tcpBackend(port: Int, plainPort: Int) -> String {
        """
        apiVersion: v1
        kind: Service
        metadata:
          name: tcp-backend
          namespace: gateway-conformance-infra
        spec:
          selector:
            app: tcp-backend
          ports:
            - name: echo-tcp-plain
              protocol: TCP
              port: 3000
              targetPort: 3000
            - name: echo-tcp-tls
              protocol: TCP
              port: 8443
              targetPort: 8443
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: tcp-backend-1, namespace: gateway-conformance-infra, labels: {kubernetes.io/service-name: tcp-backend}}
        addressType: IPv4
        ports: [{name: echo-tcp-tls, port: \(port), protocol: TCP}, {name: echo-tcp-plain, port: \(plainPort), protocol: TCP}]
        endpoints:
        - addresses: [127.0.0.1]
          conditions: {ready: true}
        """
    }

    /// Archway on `listenerPort` serving `manifest`, with tcp-backend a TLS echo server whose
    /// certificate names `backendNames` (and a plain echo server on its plain port), and the Secret
    /// tls-terminate-checks-certificate for `gatewayNames`; returns the harness, the backend's
    /// certificate, the backends and the bound port.
    static func start(_ manifest: String, backendNames: [String], listenerPort: Int = 443,
                      gatewayCertificate: TestCertificate? = nil) async throws -> (GatewayHarness, TestCertificate, [any Channel], Int) {
        let harness = GatewayHarness()
        harness.extraPortMap = [listenerPort: 0]
        let certificate = try TestCertificate(names: backendNames, in: harness.directory)
        var serverTLS = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(certificate.chainPEM.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(certificate.keyPEM.utf8), format: .pem)))
        serverTLS.applicationProtocols = ["http/1.1"]
        let backend = try await EchoServer.start(name: "tcp-backend", host: "127.0.0.1", port: 0, group: harness.group,
                                                 tls: try NIOSSLContext(configuration: serverTLS))
        let plain = try await EchoServer.start(name: "tcp-backend", host: "127.0.0.1", port: 0, group: harness.group)
        try harness.write("gw.yaml", """
            apiVersion: gateway.networking.k8s.io/v1
            kind: GatewayClass
            metadata: {name: archway}
            spec: {controllerName: archway.dev/gateway-controller}
            ---
            \(tcpBackend(port: backend.localAddress!.port!, plainPort: plain.localAddress!.port!))
            ---
            \(gatewayCertificate?.secret("tls-terminate-checks-certificate", namespace: "gateway-conformance-infra") ?? "")
            ---
            \(manifest)

            """)
        try await harness.start()
        return (harness, certificate, [backend, plain], await harness.hostPort(listenerPort))
    }

    /// Conformance: TLSRouteSimpleSameNamespace
    /// A Passthrough TLSRoute for abc.example.com to tcp-backend (conformance/tests/tlsroute-simple-same-namespace.yaml):
    /// a TLS client for abc.example.com verifies the backend's own certificate, so TLS ended at the
    /// backend, which answers. (The route's status is fixture 113.)
    @Test func tlsRouteSimpleSameNamespace() async throws {
        let (harness, certificate, backend, port) = try await Self.start(Self.tlsRouteSimpleSameNamespaceManifest, backendNames: ["abc.example.com"])
        defer { for channel in backend { channel.close(promise: nil) }; Task { await harness.stop() } }
        let answer = try await ExternalTool.curlOffThePool(["--cacert", certificate.path, "--resolve", "abc.example.com:\(port):127.0.0.1",
                                                            "-w", "\n@@\n%{http_code}", "https://abc.example.com:\(port)/"])
        #expect(answer.status == 0 && answer.writeOut == "200", "\(answer.stderr)")
        #expect(answer.body.contains("\"name\":\"tcp-backend\""), "\(answer.body)")
    }

    static let tlsRouteSimpleSameNamespaceManifest = #"""
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata:
  name: gateway-conformance-infra-test
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: gateway-tlsroute
    namespace: gateway-conformance-infra
  hostnames:
  - abc.example.com
  rules:
  - backendRefs:
    - name: tcp-backend
      port: 8443
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gateway-tlsroute
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: archway
  listeners:
  - name: https
    port: 443
    protocol: TLS
    hostname: "*.example.com"
    allowedRoutes:
      namespaces:
        from: Same
      kinds:
      - kind: TLSRoute
    tls:
      mode: Passthrough
"""#

    /// Conformance: TLSRouteInvalidBackendRefNonexistent
    /// A TLSRoute whose only backendRef names a Service that does not exist (conformance/tests/
    /// tlsroute-invalid-backendref-nonexistent.yaml): a TLS connection for example.com is refused.
    /// (ResolvedRefs False/BackendNotFound is fixture 114.)
    @Test func tlsRouteInvalidBackendRefNonexistent() async throws {
        try await Self.expectRefused(Self.tlsRouteInvalidBackendRefNonexistentManifest)
    }

    static let tlsRouteInvalidBackendRefNonexistentManifest = #"""
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gateway-tlsroute-invalid-backend-ref-nonexistent
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: archway
  listeners:
  - name: tls
    protocol: TLS
    port: 443
    allowedRoutes:
      namespaces:
        from: Same
    tls:
      mode: Passthrough
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata:
  name: invalid-backend-ref-nonexistent
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: gateway-tlsroute-invalid-backend-ref-nonexistent
    namespace: gateway-conformance-infra
  hostnames:
  - "example.com"
  rules:
  - backendRefs:
    - name: nonexistent
      namespace: gateway-conformance-infra
      port: 443
"""#

    /// Conformance: TLSRouteInvalidBackendRefUnknownKind
    /// A TLSRoute whose only backendRef is of an unknown kind (conformance/tests/
    /// tlsroute-invalid-backendref-unknown-kind.yaml): a TLS connection for example.com is refused.
    /// (ResolvedRefs False/InvalidKind is fixture 115.)
    @Test func tlsRouteInvalidBackendRefUnknownKind() async throws {
        try await Self.expectRefused(Self.tlsRouteInvalidBackendRefUnknownKindManifest)
    }

    static let tlsRouteInvalidBackendRefUnknownKindManifest = #"""
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gateway-tlsroute-invalid-backend-ref-unknown-kind
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: archway
  listeners:
  - name: tls
    protocol: TLS
    port: 443
    allowedRoutes:
      namespaces:
        from: Same
    tls:
      mode: Passthrough
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata:
  name: invalid-backend-ref-unknown-kind
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: gateway-tlsroute-invalid-backend-ref-unknown-kind
    namespace: gateway-conformance-infra
  hostnames:
  - "example.com"
  rules:
  - backendRefs:
    - group: unknownkind.example.com
      kind: NonExistent
      name: tls-backend
      port: 443
"""#

    /// A TLS handshake for example.com through port 443 fails: no bytes of an answer come back.
    static func expectRefused(_ manifest: String) async throws {
        let (harness, _, backend, port) = try await start(manifest, backendNames: ["example.com"])
        defer { for channel in backend { channel.close(promise: nil) }; Task { await harness.stop() } }
        let answer = try await ExternalTool.curlOffThePool(["-k", "--resolve", "example.com:\(port):127.0.0.1",
                                                            "-w", "\n@@\n%{http_code}", "https://example.com:\(port)/"])
        #expect(answer.status != 0 && answer.writeOut == "000", "curl \(answer.status) \(answer.writeOut) \(answer.body) \(answer.stderr)")
    }

    /// Conformance: TLSRouteTerminateSimpleSameNamespace
    /// A Terminate TLS listener and its TLSRoute for tls.example.com to tcp-backend's plain port
    /// (conformance/tests/tlsroute-terminate-simple-same-namespace.yaml): the client verifies the
    /// gateway's certificate and the backend receives plain text. (The status is fixture 116.)
    @Test func tlsRouteTerminateSimpleSameNamespace() async throws {
        let directory = FileManager.default.temporaryDirectory
        let gatewayCertificate = try TestCertificate(names: ["tls.example.com"], in: directory)
        let (harness, _, backend, port) = try await Self.start(Self.tlsRouteTerminateSimpleSameNamespaceManifest, backendNames: ["abc.example.com"],
                                                               listenerPort: 8443, gatewayCertificate: gatewayCertificate)
        defer { for channel in backend { channel.close(promise: nil) }; Task { await harness.stop() } }
        let answer = try await ExternalTool.curlOffThePool(["--cacert", gatewayCertificate.path, "--resolve", "tls.example.com:\(port):127.0.0.1",
                                                            "-w", "\n@@\n%{http_code}", "https://tls.example.com:\(port)/"])
        #expect(answer.status == 0 && answer.writeOut == "200", "\(answer.stderr)")
        #expect(answer.body.contains("\"name\":\"tcp-backend\""), "\(answer.body)")
    }

    static let tlsRouteTerminateSimpleSameNamespaceManifest = #"""
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata:
  name: tlsroute-terminated-test
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: gateway-tlsroute-terminate
    namespace: gateway-conformance-infra
  hostnames:
  - tls.example.com
  rules:
  - backendRefs:
    - name: tcp-backend
      port: 3000 # Plain text port
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gateway-tlsroute-terminate
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: archway
  listeners:
  - name: tlsterminate
    port: 8443
    protocol: TLS
    hostname: tls.example.com
    allowedRoutes:
      namespaces:
        from: Same
      kinds:
      - kind: TLSRoute
    tls:
      mode: Terminate
      certificateRefs:
      - name: tls-terminate-checks-certificate
"""#

    /// Conformance: TLSRouteMixedTerminationSameNamespace
    /// A Terminate and a Passthrough TLS listener on one port (conformance/tests/
    /// tlsroute-mixed-termination-same-namespace.yaml): for abc.example.com the client verifies the
    /// backend's certificate (passed through); for tls.example.com it verifies the gateway's and the
    /// backend receives plain text. (The listener and route statuses are fixture 117.)
    @Test func tlsRouteMixedTerminationSameNamespace() async throws {
        let directory = FileManager.default.temporaryDirectory
        let gatewayCertificate = try TestCertificate(names: ["tls.example.com"], in: directory)
        let (harness, backendCertificate, backend, port) = try await Self.start(Self.tlsRouteMixedTerminationSameNamespaceManifest, backendNames: ["abc.example.com"],
                                                                                listenerPort: 8883, gatewayCertificate: gatewayCertificate)
        defer { for channel in backend { channel.close(promise: nil) }; Task { await harness.stop() } }
        for (name, ca) in [("abc.example.com", backendCertificate.path), ("tls.example.com", gatewayCertificate.path)] {
            let answer = try await ExternalTool.curlOffThePool(["--cacert", ca, "--resolve", "\(name):\(port):127.0.0.1",
                                                                "-w", "\n@@\n%{http_code}", "https://\(name):\(port)/"])
            #expect(answer.status == 0 && answer.writeOut == "200", "\(name): \(answer.stderr)")
            #expect(answer.body.contains("\"name\":\"tcp-backend\""), "\(name): \(answer.body)")
        }
    }

    static let tlsRouteMixedTerminationSameNamespaceManifest = #"""
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gateway-tlsroute-mixed-termination
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: archway
  listeners:
  - name: tls-terminate
    port: 8883
    protocol: TLS
    hostname: tls.example.com # This is the valid cert SAN
    allowedRoutes:
      namespaces:
        from: Same
      kinds:
      - kind: TLSRoute
    tls:
      mode: Terminate
      certificateRefs:
      - name: tls-terminate-checks-certificate
  - name: tls-passthrough
    port: 8883
    protocol: TLS
    hostname: abc.example.com # This is the valid cert on backend
    allowedRoutes:
      namespaces:
        from: Same
      kinds:
      - kind: TLSRoute
    tls:
      mode: Passthrough
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata:
  name: gateway-conformance-mixed-passthroughroute
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: gateway-tlsroute-mixed-termination
    namespace: gateway-conformance-infra
  hostnames:
  - abc.example.com
  rules:
  - backendRefs:
    - name: tcp-backend
      port: 8443
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata:
  name: gateway-conformance-mixed-terminateroute
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: gateway-tlsroute-mixed-termination
    namespace: gateway-conformance-infra
  hostnames:
  - tls.example.com
  rules:
  - backendRefs:
    - name: tcp-backend
      port: 3000
"""#
}
