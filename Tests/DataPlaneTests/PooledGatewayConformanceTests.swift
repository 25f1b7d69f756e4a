import ArchwayCore
import Foundation
import NIOCore
import NIOSSL
import Testing

/// Upstream conformance tests whose Gateways share a port and ask for no address: each must be served
/// on an address of its own, which archway takes from an AddressPool (the suite's stand-in for the
/// cluster's load-balancer addresses). The Gateways' status.addresses say where to connect.
@Suite(.timeLimit(.minutes(2)))
struct PooledGatewayConformanceTests {
    /// A pool of loopback addresses, all local on Linux.
    static func pool(_ range: String) -> String {
        """
        apiVersion: archway.dev/v1alpha1
        kind: AddressPool
        metadata: {name: conformance}
        spec: {addresses: ["\(range)"]}
        """
    }

    /// The address archway reports for Gateway `name` (gateway-conformance-infra).
    static func address(of name: String, in harness: GatewayHarness) async throws -> String {
        let gateway = try await harness.statusItems().first {
            $0["kind"] as? String == "Gateway" && ($0["metadata"] as? [String: Any])?["name"] as? String == name
        }
        let addresses = ((gateway?["status"] as? [String: Any])?["addresses"] as? [[String: Any]]) ?? []
        return try #require(addresses.first?["value"] as? String, "Gateway \(name) has no address")
    }

    /// Conformance: HTTPRouteMultipleGateways
    /// The suite's Gateways same-namespace and all-namespaces, both on port 80 without addresses, each given its own from an AddressPool, and upstream's conformance/tests/httproute-multiple-gateways.yaml verbatim: the shared route answers on both, each dedicated `/` route only on its own Gateway, with and without the fast lane.
    @Test(arguments: [true, false])
    func multipleGatewaysOnOnePort(fastLane: Bool) async throws {
        let gateways = """
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: same-namespace, namespace: gateway-conformance-infra}
            spec:
              gatewayClassName: archway
              listeners: [{name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: all-namespaces, namespace: gateway-conformance-infra}
            spec:
              gatewayClassName: archway
              listeners: [{name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}]
            """
        let manifest = [Self.pool("127.0.30.1-127.0.30.9"), gateways, GatewayAddressTests.multipleGatewaysManifest].joined(separator: "\n---\n")
        let (harness, backends) = try await UpstreamConformanceTests.start(manifest: manifest, suiteGateway: false, fastLane: fastLane)
        defer { Task { await harness.stop(); for backend in backends.values { await backend.stop() } } }
        var seen: Set<String> = []
        for (gateway, dedicated) in [("same-namespace", "infra-backend-v2"), ("all-namespaces", "infra-backend-v3")] {
            let address = try await Self.address(of: gateway, in: harness)
            #expect(address.hasPrefix("127.0.30."), "\(gateway) got \(address), not a pool address")
            seen.insert(address)
            let client = try await harness.client(address: address)
            defer { Task { await client.close() } }
            let shared = try await client.request(.GET, "/shared", host: "example.com")
            #expect(shared.status == 200 && shared.echoName == "infra-backend-v1", "\(gateway)/shared: \(shared.status) from \(shared.echoName ?? "none")")
            for _ in 0..<3 {
                let own = try await client.request(.GET, "/", host: "example.com")
                #expect(own.status == 200 && own.echoName == dedicated, "\(gateway)/: \(own.status) from \(own.echoName ?? "none")")
            }
        }
        #expect(seen.count == 2, "each Gateway has an address of its own")
    }

    /// Conformance: TLSRouteHostnameIntersection
    /// Four Gateways with a Passthrough TLS listener on port 443 (exact, more and less specific wildcard, and no hostname) and their TLSRoutes, upstream's conformance/tests/tlsroute-hostname-intersection.yaml verbatim, each Gateway on an address from an AddressPool: per Gateway, SNI abc.example.com reaches tls-backend, other.example.com tls-backend-2 where a route's hostname intersects, and a name outside the intersection is refused.
    @Test func tlsRouteHostnameIntersection() async throws {
        let harness = GatewayHarness()
        harness.extraPortMap = [443: 0]
        let certificate = try TestCertificate(names: ["abc.example.com", "other.example.com"], in: harness.directory)
        var serverTLS = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(certificate.chainPEM.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(certificate.keyPEM.utf8), format: .pem)))
        serverTLS.applicationProtocols = ["http/1.1"]
        var documents = ["""
            apiVersion: gateway.networking.k8s.io/v1
            kind: GatewayClass
            metadata: {name: archway}
            spec: {controllerName: archway.dev/gateway-controller}
            """, Self.pool("127.0.31.1-127.0.31.9")]
        var servers: [any Channel] = []
        for name in ["tls-backend", "tls-backend-2"] {
            let server = try await EchoServer.start(name: name, host: "127.0.0.1", port: 0, group: harness.group,
                                                    tls: try NIOSSLContext(configuration: serverTLS))
            servers.append(server)
            documents.append("""
                apiVersion: v1
                kind: Service
                metadata: {name: \(name), namespace: gateway-conformance-infra}
                spec: {ports: [{name: https, port: 443, targetPort: 8443}]}
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: \(name)-1, namespace: gateway-conformance-infra, labels: {kubernetes.io/service-name: \(name)}}
                addressType: IPv4
                ports: [{name: https, port: \(server.localAddress!.port!)}]
                endpoints:
                - addresses: [127.0.0.1]
                  conditions: {ready: true}
                """)
        }
        documents.append(Self.tlsRouteHostnameIntersectionManifest.replacingOccurrences(of: "\"{GATEWAY_CLASS_NAME}\"", with: "archway"))
        try harness.write("gw.yaml", documents.joined(separator: "\n---\n") + "\n")
        try await harness.start()
        defer { for server in servers { server.close(promise: nil) }; Task { await harness.stop() } }

        func backend(_ gateway: String, _ serverName: String) async throws -> String? {
            let address = try await Self.address(of: gateway, in: harness)
            let port = await harness.hostPort(443, address: address)
            let answer = try await ExternalTool.curlOffThePool(["--cacert", certificate.path, "--max-time", "3",
                                                                "--resolve", "\(serverName):\(port):\(address)", "https://\(serverName):\(port)/"])
            guard answer.status == 0 else { return nil }
            return (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])?["name"] as? String
        }
        let cases: [(gateway: String, serverName: String, backend: String?)] = [
            ("gw-tlsroute-exact-hostname-x-1", "abc.example.com", "tls-backend"),
            ("gw-tlsroute-exact-hostname-x-1", "non.matching.com", nil),
            ("gw-tlsroute-more-specific-wc-hostname-x-2", "abc.example.com", "tls-backend"),
            ("gw-tlsroute-more-specific-wc-hostname-x-2", "other.example.com", "tls-backend-2"),
            ("gw-tlsroute-more-specific-wc-hostname-x-2", "non.matching.com", nil),
            ("gw-tlsroute-less-specific-wc-hostname-x-3", "abc.example.com", "tls-backend"),
            ("gw-tlsroute-less-specific-wc-hostname-x-3", "other.example.com", "tls-backend-2"),
            ("gw-tlsroute-less-specific-wc-hostname-x-3", "non.matching.com", nil),
            ("gw-tlsroute-empty-hostname-x-4", "abc.example.com", "tls-backend"),
            ("gw-tlsroute-empty-hostname-x-4", "other.example.com", "tls-backend-2"),
            ("gw-tlsroute-empty-hostname-x-4", "non.matching.org", nil),
        ]
        var addresses: Set<String> = []
        for gateway in Set(cases.map(\.gateway)) { addresses.insert(try await Self.address(of: gateway, in: harness)) }
        #expect(addresses.count == 4 && addresses.allSatisfy { $0.hasPrefix("127.0.31.") }, "each Gateway on a pool address of its own: \(addresses)")
        for c in cases {
            let answered = try await backend(c.gateway, c.serverName)
            #expect(answered == c.backend, "\(c.gateway) with SNI \(c.serverName): answered by \(answered ?? "nobody (refused)")")
        }
    }

    static let tlsRouteHostnameIntersectionManifest = #"""
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw-tlsroute-exact-hostname-x-1
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
  - name: listener-exact-hostname
    protocol: TLS
    port: 443
    hostname: abc.example.com
    allowedRoutes:
      namespaces:
        from: Same
      kinds:
      - kind: TLSRoute
    tls:
      mode: Passthrough
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw-tlsroute-more-specific-wc-hostname-x-2
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
  - name: listener-more-specific-wc-hostname
    protocol: TLS
    port: 443
    hostname: "*.example.com"
    allowedRoutes:
      namespaces:
        from: Same
      kinds:
      - kind: TLSRoute
    tls:
      mode: Passthrough
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw-tlsroute-less-specific-wc-hostname-x-3
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
  - name: listener-less-specific-wc-hostname
    protocol: TLS
    port: 443
    hostname: "*.com"
    allowedRoutes:
      namespaces:
        from: Same
      kinds:
      - kind: TLSRoute
    tls:
      mode: Passthrough
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw-tlsroute-empty-hostname-x-4
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
  - name: listener-empty-hostname
    protocol: TLS
    port: 443
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
  name: tlsroute-more-specific-wc-hostname-x-1
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: gw-tlsroute-exact-hostname-x-1
    namespace: gateway-conformance-infra
  hostnames:
  - "*.example.com"
  rules:
  - backendRefs:
    - name: tls-backend
      port: 443
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata:
  name: tlsroute-exact-hostname-x-2
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: gw-tlsroute-more-specific-wc-hostname-x-2
    namespace: gateway-conformance-infra
  hostnames:
  - abc.example.com
  rules:
  - backendRefs:
    - name: tls-backend
      port: 443
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata:
  name: tlsroute-less-specific-wc-hostname-x-2
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: gw-tlsroute-more-specific-wc-hostname-x-2
    namespace: gateway-conformance-infra
  hostnames:
  - "*.com"
  rules:
  - backendRefs:
    - name: tls-backend-2
      port: 443
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata:
  name: tlsroute-exact-hostname-x-3
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: gw-tlsroute-less-specific-wc-hostname-x-3
    namespace: gateway-conformance-infra
  hostnames:
  - abc.example.com
  rules:
  - backendRefs:
    - name: tls-backend
      port: 443
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata:
  name: tlsroute-more-specific-wc-hostname-x-3
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: gw-tlsroute-less-specific-wc-hostname-x-3
    namespace: gateway-conformance-infra
  hostnames:
  - "*.example.com"
  rules:
  - backendRefs:
    - name: tls-backend-2
      port: 443
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata:
  name: tlsroute-exact-hostname-x-4
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: gw-tlsroute-empty-hostname-x-4
    namespace: gateway-conformance-infra
  hostnames:
  - abc.example.com
  rules:
  - backendRefs:
    - name: tls-backend
      port: 443
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata:
  name: tlsroute-less-specific-wc-hostname-x-4
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: gw-tlsroute-empty-hostname-x-4
    namespace: gateway-conformance-infra
  hostnames:
  - "*.com"
  rules:
  - backendRefs:
    - name: tls-backend-2
      port: 443
"""#
}
