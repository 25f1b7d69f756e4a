import Foundation
import NIOCore
import NIOPosix
import Testing

/// A Gateway's own addresses (`spec.addresses`) over real sockets: each Gateway binds its listeners on
/// its own loopback address, so Gateways on one port keep their own routes, and status says what is
/// served. 127.0.0.0/8 is all local on Linux, so 127.0.0.2... need no setup; 192.0.2.1 (TEST-NET-1)
/// is on no interface.
@Suite(.timeLimit(.minutes(2)))
struct GatewayAddressTests {
    static func gateway(_ name: String, addresses: [String], from: String = "Same", port: Int = 80, protocol: String = "HTTP") -> String {
        """
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: \(name), namespace: gateway-conformance-infra}
        spec:
          gatewayClassName: archway
          addresses: [\(addresses.map { "{type: IPAddress, value: \"\($0)\"}" }.joined(separator: ", "))]
          listeners:
          - {name: http, port: \(port), protocol: \(`protocol`), allowedRoutes: {namespaces: {from: \(from)}}}
        """
    }

    /// Two Gateways on port 80, each with an address in spec.addresses, and upstream's
    /// httproute-multiple-gateways.yaml routes: each address serves its own Gateway's routes only, and
    /// nothing is bound on the default address.
    @Test(arguments: [true, false])
    func multipleGatewaysOnOnePortKeepTheirOwnRoutes(fastLane: Bool) async throws {
        let manifest = Self.gateway("same-namespace", addresses: ["127.0.0.2"]) + "\n---\n"
            + Self.gateway("all-namespaces", addresses: ["127.0.0.3"], from: "All") + "\n---\n" + Self.multipleGatewaysManifest
        let (harness, backends) = try await UpstreamConformanceTests.start(manifest: manifest, suiteGateway: false, fastLane: fastLane)
        defer { Task { await harness.stop(); for backend in backends.values { await backend.stop() } } }

        for (address, dedicated) in [("127.0.0.2", "infra-backend-v2"), ("127.0.0.3", "infra-backend-v3")] {
            let client = try await harness.client(address: address)
            defer { Task { await client.close() } }
            let shared = try await client.request(.GET, "/shared", host: "example.com")
            #expect(shared.status == 200 && shared.echoName == "infra-backend-v1", "\(address)/shared: \(shared.status) from \(shared.echoName ?? "none")")
            for _ in 0..<3 {
                let own = try await client.request(.GET, "/", host: "example.com")
                #expect(own.status == 200 && own.echoName == dedicated, "\(address)/: \(own.status) from \(own.echoName ?? "none")")
            }
        }
        // Nothing listens on port 80 of the default address: no Gateway without an address asked for it.
        #expect(await harness.hostPort(80) == 0)
        let items = try await harness.statusItems()
        for (name, address) in [("same-namespace", "127.0.0.2"), ("all-namespaces", "127.0.0.3")] {
            let status = items.first { $0["kind"] as? String == "Gateway" && ($0["metadata"] as? [String: Any])?["name"] as? String == name }?["status"] as? [String: Any]
            let addresses = (status?["addresses"] as? [[String: Any]])?.compactMap { $0["value"] as? String }
            #expect(addresses == [address], "Gateway \(name) status.addresses: \(addresses ?? [])")
            #expect(StatusReportTests.conditions(status)["Programmed"] == "True/Programmed")
        }
    }

    /// Conformance: GatewayStaticAddresses
    /// The upstream test's three steps on a running archway: an unsupported address type rejects the Gateway; then an address no interface has leaves it Programmed=False/AddressNotUsable while it serves on the usable one; then with the usable one alone it is programmed and status.addresses lists exactly it.
    @Test func staticAddressesStepByStep() async throws {
        func gatewayStatus() async throws -> [String: Any]? {
            try await harness.statusItems().first { $0["kind"] as? String == "Gateway" }?["status"] as? [String: Any]
        }
        func step(_ addresses: String) -> String {
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: gateway-static-addresses, namespace: gateway-conformance-infra}
            spec:
              gatewayClassName: archway
              addresses: \(addresses)
              listeners:
              - {name: http, port: 80, protocol: HTTP}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: direct, namespace: gateway-conformance-infra}
            spec:
              parentRefs: [{name: gateway-static-addresses}]
              rules: [{filters: [{type: RequestRedirect, requestRedirect: {hostname: moved.example, statusCode: 302}}]}]
            """
        }
        let (harness, backends) = try await UpstreamConformanceTests.start(
            manifest: step(#"[{type: "test/fake-invalid-type", value: "fake address teehee!"}, {value: "192.0.2.1"}, {value: "127.0.0.5"}]"#), suiteGateway: false)
        defer { Task { await harness.stop(); for backend in backends.values { await backend.stop() } } }
        var status = try await gatewayStatus()
        #expect(StatusReportTests.conditions(status)["Accepted"] == "False/UnsupportedAddress")
        #expect((status?["addresses"] as? [Any])?.isEmpty ?? true)
        #expect(await harness.hostPort(80, address: "127.0.0.5") == 0, "a Gateway that is not accepted binds nothing")

        let generation = await harness.runtime.generation
        try harness.write("gw.yaml", try harness.read("gw.yaml").replacingOccurrences(
            of: #"[{type: "test/fake-invalid-type", value: "fake address teehee!"}, {value: "192.0.2.1"}, {value: "127.0.0.5"}]"#,
            with: #"[{value: "192.0.2.1"}, {value: "127.0.0.5"}]"#))
        try await harness.waitForGeneration(atLeast: generation + 1)
        status = try await gatewayStatus()
        let conditions = StatusReportTests.conditions(status)
        #expect(conditions["Accepted"] == "True/Accepted" && conditions["Programmed"] == "False/AddressNotUsable", "\(conditions)")
        let message = (status?["conditions"] as? [[String: Any]])?.first { $0["type"] as? String == "Programmed" }?["message"] as? String ?? ""
        #expect(message.contains("192.0.2.1") && message.contains("no interface"), "\(message)")
        var client = try await harness.client(address: "127.0.0.5")
        var response = try await client.request(.GET, "/", host: "example.com")
        await client.close()
        #expect(response.status == 302 && response.headers["location"].first == "http://moved.example/", "the usable address serves meanwhile")

        try harness.write("gw.yaml", try harness.read("gw.yaml").replacingOccurrences(
            of: #"[{value: "192.0.2.1"}, {value: "127.0.0.5"}]"#, with: #"[{value: "127.0.0.5"}]"#))
        try await harness.waitForGeneration(atLeast: generation + 2)
        status = try await gatewayStatus()
        #expect(StatusReportTests.conditions(status)["Programmed"] == "True/Programmed")
        let addresses = (status?["addresses"] as? [[String: Any]]) ?? []
        #expect(addresses.count == 1 && addresses.first?["type"] as? String == "IPAddress" && addresses.first?["value"] as? String == "127.0.0.5")
        client = try await harness.client(address: "127.0.0.5")
        response = try await client.request(.GET, "/", host: "example.com")
        await client.close()
        #expect(response.status == 302)
    }

    /// Conformance: GatewayOptionalAddressValue
    /// An address entry with a type and no value (upstream conformance/tests/gateway-optional-address-value.yaml verbatim) asks archway to assign one: without an address pool the Gateway gets the default address, reports it in status.addresses, and its listener answers there.
    @Test func addressWithoutValueIsAssignedOne() async throws {
        let (harness, backends) = try await UpstreamConformanceTests.start(manifest: Self.optionalAddressValueManifest, suiteGateway: false)
        defer { Task { await harness.stop(); for backend in backends.values { await backend.stop() } } }
        let gateway = try await harness.statusItems().first { ($0["metadata"] as? [String: Any])?["name"] as? String == "gateway-without-address-value" }
        let status = gateway?["status"] as? [String: Any]
        let addresses = (status?["addresses"] as? [[String: Any]]) ?? []
        #expect(addresses.count == 1 && addresses.first?["type"] as? String == "IPAddress" && addresses.first?["value"] as? String == "127.0.0.1")
        #expect(StatusReportTests.conditions(status)["Programmed"] == "True/Programmed")
        let client = try await TestHTTPClient.connect(host: "127.0.0.1", port: await harness.hostPort(8080), group: harness.group)
        defer { Task { await client.close() } }
        let response = try await client.request(.GET, "/", host: "example.com")
        #expect(response.status == 404 && response.text.contains("no route"), "the listener answers on the assigned address: \(response.status) \(response.text)")
    }

    static let optionalAddressValueManifest = #"""
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gateway-without-address-value
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: "archway"
  addresses:
  - type: "IPAddress"
  listeners:
  - name: http
    port: 8080
    protocol: HTTP
"""#

    /// A Gateway moves from the shared default address to one of its own, and back, while another
    /// Gateway keeps the default: each reload rebinds only what changed, and the other Gateway's
    /// connection is never disturbed.
    @Test func movingAGatewayToItsOwnAddressAndBack() async throws {
        let shared = """
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: shared, namespace: gateway-conformance-infra}
            spec:
              gatewayClassName: archway
              listeners: [{name: http, port: 80, protocol: HTTP, hostname: shared.example}]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: shared, namespace: gateway-conformance-infra}
            spec:
              parentRefs: [{name: shared}]
              rules: [{backendRefs: [{name: infra-backend-v1, port: 8080}]}]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: mover, namespace: gateway-conformance-infra}
            spec:
              parentRefs: [{name: mover}]
              rules: [{backendRefs: [{name: infra-backend-v2, port: 8080}]}]
            """
        func mover(_ addresses: String) -> String {
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: mover, namespace: gateway-conformance-infra}
            spec:
              gatewayClassName: archway
              addresses: \(addresses)
              listeners: [{name: http, port: 80, protocol: HTTP}]
            """
        }
        let (harness, backends) = try await UpstreamConformanceTests.start(manifest: shared + "\n---\n" + mover("[]"), suiteGateway: false)
        defer { Task { await harness.stop(); for backend in backends.values { await backend.stop() } } }
        let kept = try await harness.client()
        defer { Task { await kept.close() } }
        #expect(try await kept.request(.GET, "/", host: "other.example").echoName == "infra-backend-v2", "on the default address, the catch-all listener is mover's")

        let generation = await harness.runtime.generation
        try harness.write("mover.yaml", mover(#"[{type: IPAddress, value: "127.0.0.6"}]"#))
        try harness.write("gw.yaml", try harness.read("gw.yaml").replacingOccurrences(of: mover("[]"), with: ""))
        try await harness.waitForGeneration(atLeast: generation + 1)
        let own = try await harness.client(address: "127.0.0.6")
        #expect(try await own.request(.GET, "/", host: "other.example").echoName == "infra-backend-v2")
        #expect(try await own.request(.GET, "/", host: "shared.example").echoName == "infra-backend-v2",
                "on its own address mover's listener takes every host: the shared Gateway is not there")
        await own.close()
        let moved = try await kept.request(.GET, "/", host: "other.example")
        #expect(moved.status == 404, "the kept connection on the default address no longer reaches mover: \(moved.status)")
        #expect(try await kept.request(.GET, "/", host: "shared.example").echoName == "infra-backend-v1")

        try harness.write("mover.yaml", mover("[]"))
        try await harness.waitForGeneration(atLeast: generation + 2)
        #expect(await harness.hostPort(80, address: "127.0.0.6") == 0, "its own socket is closed once no Gateway asks for it")
        #expect(try await kept.request(.GET, "/", host: "other.example").echoName == "infra-backend-v2")
    }

    /// TCP and UDP listeners of a Gateway with its own address, and of one without, on the same port
    /// numbers: each address reaches its own Gateway's backend, and a UDP answer comes back from the
    /// address the client sent to (the client's socket is connected, so any other source is dropped).
    @Test func streamListenersOnOwnAndDefaultAddresses() async throws {
        let gateways = ["own": "addresses: [{type: IPAddress, value: 127.0.0.8}]", "shared": ""].map { name, addresses in
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: \(name), namespace: gateway-conformance-infra}
            spec:
              gatewayClassName: archway
              \(addresses)
              listeners:
              - {name: tcp, port: 5320, protocol: TCP}
              - {name: udp, port: 5321, protocol: UDP}
            ---
            apiVersion: gateway.networking.k8s.io/v1alpha2
            kind: TCPRoute
            metadata: {name: \(name), namespace: gateway-conformance-infra}
            spec:
              parentRefs: [{name: \(name), sectionName: tcp}]
              rules: [{backendRefs: [{name: tcp-\(name), port: 9000}]}]
            ---
            apiVersion: gateway.networking.k8s.io/v1alpha2
            kind: UDPRoute
            metadata: {name: \(name), namespace: gateway-conformance-infra}
            spec:
              parentRefs: [{name: \(name), sectionName: udp}]
              rules: [{backendRefs: [{name: udp-\(name), port: 9000}]}]
            """
        }.joined(separator: "\n---\n")
        let services = ["tcp-own", "tcp-shared", "udp-own", "udp-shared"].map { name in
            """
            apiVersion: v1
            kind: Service
            metadata: {name: \(name), namespace: gateway-conformance-infra}
            spec: {ports: [{name: \(name.prefix(3)), port: 9000, protocol: \(name.prefix(3).uppercased())}]}
            """
        }
        let (harness, channels) = try await UpstreamStreamConformanceTests.start(
            ([gateways] + services).joined(separator: "\n---\n"),
            backends: ["gateway-conformance-infra/tcp-own", "gateway-conformance-infra/tcp-shared"],
            udpBackends: ["gateway-conformance-infra/udp-own", "gateway-conformance-infra/udp-shared"], ports: [5320, 5321])
        defer { UpstreamStreamConformanceTests.stop(harness, channels) }
        #expect(try await UpstreamStreamConformanceTests.tcpBackend(harness, 5320, address: "127.0.0.8") == "tcp-own")
        #expect(try await UpstreamStreamConformanceTests.tcpBackend(harness, 5320) == "tcp-shared")
        #expect(try await UpstreamStreamConformanceTests.udpBackend(harness, 5321, address: "127.0.0.8") == "udp-own")
        #expect(try await UpstreamStreamConformanceTests.udpBackend(harness, 5321) == "udp-shared")
    }

    /// A Gateway's own address whose port another process holds: the socket cannot be bound, so the
    /// address is not in status.addresses, the Gateway is not programmed and its listener says why,
    /// while a Gateway on the default address serves on.
    @Test func anOwnAddressThatCannotBeBoundIsNotReportedAsServed() async throws {
        let squatter = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.9", port: 0).get()
        defer { squatter.close(promise: nil) }
        let port = try #require(squatter.localAddress?.port)
        let harness = GatewayHarness()
        harness.extraPortMap = [8090: port]
        try harness.write("gw.yaml", """
            apiVersion: gateway.networking.k8s.io/v1
            kind: GatewayClass
            metadata: {name: archway}
            spec: {controllerName: archway.dev/gateway-controller}
            ---
            \(Self.gateway("blocked", addresses: ["127.0.0.9"], port: 8090))
            ---
            \(Self.gateway("fine", addresses: []))
            """)
        try await harness.start()
        defer { Task { await harness.stop() } }
        let items = try await harness.statusItems()
        let blocked = items.first { ($0["metadata"] as? [String: Any])?["name"] as? String == "blocked" }?["status"] as? [String: Any]
        #expect((blocked?["addresses"] as? [Any])?.isEmpty ?? true, "\(blocked ?? [:])")
        #expect(StatusReportTests.conditions(blocked)["Programmed"] == "False/AddressNotUsable")
        let listener = (blocked?["listeners"] as? [[String: Any]])?.first
        #expect(StatusReportTests.conditions(listener)["Accepted"] == "False/PortUnavailable")
        let fine = items.first { ($0["metadata"] as? [String: Any])?["name"] as? String == "fine" }?["status"] as? [String: Any]
        #expect(StatusReportTests.conditions(fine)["Programmed"] == "True/Programmed")
    }

    static let multipleGatewaysManifest = #"""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: multiple-gateways-shared-route
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  - name: all-namespaces
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /shared
    backendRefs:
    - name: infra-backend-v1
      port: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: same-namespace-dedicated-route
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /
    backendRefs:
    - name: infra-backend-v2
      port: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: all-namespaces-dedicated-route
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: all-namespaces
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /
    backendRefs:
    - name: infra-backend-v3
      port: 8080
"""#
}
