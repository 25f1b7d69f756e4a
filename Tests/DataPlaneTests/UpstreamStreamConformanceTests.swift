import Foundation
import NIOCore
import Testing

/// Upstream Gateway API conformance tests of TCPRoute and UDPRoute traffic: each serves the upstream
/// test's manifest verbatim (conformance/tests/*.yaml, without its Deployments) with every backend
/// Service given an EndpointSlice to an echo server that says the Service's name (a TCP echo greets
/// "name\n"; a UDP echo answers "name:" + the datagram), as upstream's echo pods identify themselves,
/// then connects through each listener the upstream test uses. Their statuses are fixtures 103-112.
@Suite(.timeLimit(.minutes(2)))
struct UpstreamStreamConformanceTests {
    /// Archway serving `manifest` on `ports`, each Service in `backends` ("namespace/name") backed by
    /// an echo server of that name on the Service port named `portName`.
    static func start(_ manifest: String, udp: Bool = false, backends: [String], ports: [Int]) async throws -> (GatewayHarness, [any Channel]) {
        let harness = GatewayHarness()
        harness.extraPortMap = Dictionary(uniqueKeysWithValues: ports.map { ($0, 0) })
        var channels: [any Channel] = []
        var documents = ["""
            apiVersion: gateway.networking.k8s.io/v1
            kind: GatewayClass
            metadata: {name: archway}
            spec: {controllerName: archway.dev/gateway-controller}
            """]
        for backend in backends {
            let parts = backend.split(separator: "/").map(String.init)
            let (channel, port) = udp ? try await StreamRouteTests.udpEcho(parts[1], group: harness.group)
                                      : try await StreamRouteTests.tcpEcho(parts[1], group: harness.group)
            channels.append(channel)
            documents.append("""
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: \(parts[1])-1, namespace: \(parts[0]), labels: {kubernetes.io/service-name: \(parts[1])}}
                addressType: IPv4
                ports: [{name: \(udp ? "udp" : "tcp"), port: \(port), protocol: \(udp ? "UDP" : "TCP")}]
                endpoints:
                - addresses: [127.0.0.1]
                  conditions: {ready: true}
                """)
        }
        documents.append(manifest)
        try harness.write("gw.yaml", documents.joined(separator: "\n---\n") + "\n")
        try await harness.start()
        return (harness, channels)
    }

    static func stop(_ harness: GatewayHarness, _ channels: [any Channel]) {
        for channel in channels { channel.close(promise: nil) }
        Task { await harness.stop() }
    }

    /// The name the TCP backend behind `listenerPort` greets a new connection with.
    static func tcpBackend(_ harness: GatewayHarness, _ listenerPort: Int) async throws -> String? {
        let socket = try BlockingSocket(port: await harness.hostPort(listenerPort), timeout: 3)
        return socket.receive(through: "\n")?.trimmingCharacters(in: .newlines)
    }

    /// The name of the UDP backend that answers a datagram sent to `listenerPort` from a new client port.
    static func udpBackend(_ harness: GatewayHarness, _ listenerPort: Int) async throws -> String? {
        let socket = try BlockingSocket(port: await harness.hostPort(listenerPort), udp: true, timeout: 3)
        socket.send("ping")
        guard let answer = socket.receiveOnce().map({ String(decoding: $0, as: UTF8.self) }), answer.hasSuffix(":ping") else { return nil }
        return String(answer.dropLast(":ping".count))
    }

    /// Conformance: TCPRouteParentRefAttachAll
    /// A TCPRoute without port or sectionName (conformance/tests/tcproute-parentref-attach-all.yaml): a connection through each of the four listeners reaches its backend.
    @Test func tcpRouteParentRefAttachAll() async throws {
        let (harness, channels) = try await Self.start(Self.tcpRouteParentRefAttachAllManifest,
                                                       backends: ["gateway-conformance-infra/tcp-echo-attach-all"], ports: [9310, 9311, 9312, 9313])
        defer { Self.stop(harness, channels) }
        for port in [9310, 9311, 9312, 9313] {
            #expect(try await Self.tcpBackend(harness, port) == "tcp-echo-attach-all", "listener port \(port)")
        }
    }

    static let tcpRouteParentRefAttachAllManifest = #"""
apiVersion: v1
kind: Service
metadata:
  name: tcp-echo-attach-all
  namespace: gateway-conformance-infra
  labels:
    app: tcp-echo-attach-all
spec:
  selector:
    app: tcp-echo-attach-all
  ports:
    - name: tcp
      protocol: TCP
      port: 3000
      targetPort: 3000
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: tcp-attach-all-gateway
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: archway
  listeners:
    - name: one
      protocol: TCP
      port: 9310
      allowedRoutes:
        kinds:
          - kind: TCPRoute
    - name: two
      protocol: TCP
      port: 9311
      allowedRoutes:
        kinds:
          - kind: TCPRoute
    - name: three
      protocol: TCP
      port: 9312
      allowedRoutes:
        kinds:
          - kind: TCPRoute
    - name: four
      protocol: TCP
      port: 9313
      allowedRoutes:
        kinds:
          - kind: TCPRoute
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata:
  name: tcp-route-attach-all
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: tcp-attach-all-gateway
  rules:
    - backendRefs:
        - name: tcp-echo-attach-all
          port: 3000
"""#

    /// Conformance: TCPRouteParentRefPortAndSectionName
    /// TCPRoutes attached by port, by sectionName and by both (conformance/tests/tcproute-parentref-port-and-section-name.yaml): each listener's connections reach its route's backend.
    @Test func tcpRouteParentRefPortAndSectionName() async throws {
        let (harness, channels) = try await Self.start(Self.tcpRouteParentRefPortAndSectionNameManifest,
                                                       backends: ["one", "two", "three"].map { "gateway-conformance-infra/tcp-echo-\($0)" }, ports: [9300, 9301, 9302])
        defer { Self.stop(harness, channels) }
        for (port, backend) in [(9300, "tcp-echo-one"), (9301, "tcp-echo-two"), (9302, "tcp-echo-three")] {
            #expect(try await Self.tcpBackend(harness, port) == backend, "listener port \(port)")
        }
    }

    static let tcpRouteParentRefPortAndSectionNameManifest = #"""
apiVersion: v1
kind: Service
metadata:
  name: tcp-echo-one
  namespace: gateway-conformance-infra
  labels:
    app: tcp-echo-one
spec:
  selector:
    app: tcp-echo-one
  ports:
    - name: tcp
      protocol: TCP
      port: 3000
      targetPort: 3000
---
apiVersion: v1
kind: Service
metadata:
  name: tcp-echo-two
  namespace: gateway-conformance-infra
  labels:
    app: tcp-echo-two
spec:
  selector:
    app: tcp-echo-two
  ports:
    - name: tcp
      protocol: TCP
      port: 3000
      targetPort: 3000
---
apiVersion: v1
kind: Service
metadata:
  name: tcp-echo-three
  namespace: gateway-conformance-infra
  labels:
    app: tcp-echo-three
spec:
  selector:
    app: tcp-echo-three
  ports:
    - name: tcp
      protocol: TCP
      port: 3000
      targetPort: 3000
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: tcp-multi-listener-gateway
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: archway
  listeners:
    - name: one
      protocol: TCP
      port: 9300
      allowedRoutes:
        kinds:
          - kind: TCPRoute
    - name: two
      protocol: TCP
      port: 9301
      allowedRoutes:
        kinds:
          - kind: TCPRoute
    - name: three
      protocol: TCP
      port: 9302
      allowedRoutes:
        kinds:
          - kind: TCPRoute
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata:
  name: tcp-route-by-port
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: tcp-multi-listener-gateway
      port: 9300
  rules:
    - backendRefs:
        - name: tcp-echo-one
          port: 3000
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata:
  name: tcp-route-by-section
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: tcp-multi-listener-gateway
      sectionName: two
  rules:
    - backendRefs:
        - name: tcp-echo-two
          port: 3000
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata:
  name: tcp-route-by-section-and-port
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: tcp-multi-listener-gateway
      sectionName: three
      port: 9302
  rules:
    - backendRefs:
        - name: tcp-echo-three
          port: 3000
"""#

    /// Conformance: TCPRouteWeightedRouting
    /// Weights 70/30/0 (conformance/tests/tcproute-weighted-routing.yaml): over 200 connections the split is near 70/30 and the backend of weight 0 gets none.
    @Test func tcpRouteWeightedRouting() async throws {
        let (harness, channels) = try await Self.start(Self.tcpRouteWeightedRoutingManifest,
                                                       backends: ["v1", "v2", "v3"].map { "gateway-conformance-infra/tcp-backend-\($0)" }, ports: [9300])
        defer { Self.stop(harness, channels) }
        var counts: [String: Int] = [:]
        for _ in 0..<200 { counts[try await Self.tcpBackend(harness, 9300) ?? "none", default: 0] += 1 }
        #expect((115...165).contains(counts["tcp-backend-v1"] ?? 0) && (counts["tcp-backend-v1"] ?? 0) + (counts["tcp-backend-v2"] ?? 0) == 200, "\(counts)")
    }

    static let tcpRouteWeightedRoutingManifest = #"""
apiVersion: v1
kind: Service
metadata:
  name: tcp-backend-v1
  namespace: gateway-conformance-infra
  labels:
    app: tcp-backend-v1
spec:
  selector:
    app: tcp-backend-v1
  ports:
    - name: tcp
      protocol: TCP
      port: 3000
      targetPort: 3000
---
apiVersion: v1
kind: Service
metadata:
  name: tcp-backend-v2
  namespace: gateway-conformance-infra
  labels:
    app: tcp-backend-v2
spec:
  selector:
    app: tcp-backend-v2
  ports:
    - name: tcp
      protocol: TCP
      port: 3000
      targetPort: 3000
---
apiVersion: v1
kind: Service
metadata:
  name: tcp-backend-v3
  namespace: gateway-conformance-infra
  labels:
    app: tcp-backend-v3
spec:
  selector:
    app: tcp-backend-v3
  ports:
    - name: tcp
      protocol: TCP
      port: 3000
      targetPort: 3000
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: tcp-weighted-gateway
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: archway
  listeners:
    - name: tcp
      protocol: TCP
      port: 9300
      allowedRoutes:
        kinds:
          - kind: TCPRoute
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata:
  name: tcp-weighted-route
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: tcp-weighted-gateway
      sectionName: tcp
  rules:
    - backendRefs:
        - name: tcp-backend-v1
          port: 3000
          weight: 70
        - name: tcp-backend-v2
          port: 3000
          weight: 30
        - name: tcp-backend-v3
          port: 3000
          weight: 0
"""#

    /// Conformance: TCPRouteReferenceGrant
    /// A TCPRoute's backendRef to gateway-conformance-web-backend with a ReferenceGrant (conformance/tests/tcproute-reference-grant.yaml): connections reach that backend. (Its status, and the status once the grant is deleted, are fixtures 106 and 107.)
    @Test func tcpRouteReferenceGrant() async throws {
        let (harness, channels) = try await Self.start(Self.tcpRouteReferenceGrantManifest,
                                                       backends: ["gateway-conformance-web-backend/tcp-reference-grant-backend"], ports: [9320])
        defer { Self.stop(harness, channels) }
        #expect(try await Self.tcpBackend(harness, 9320) == "tcp-reference-grant-backend")
    }

    static let tcpRouteReferenceGrantManifest = #"""
apiVersion: v1
kind: Service
metadata:
  name: tcp-reference-grant-backend
  namespace: gateway-conformance-web-backend
  labels:
    app: tcp-reference-grant-backend
spec:
  selector:
    app: tcp-reference-grant-backend
  ports:
    - name: tcp
      protocol: TCP
      port: 3000
      targetPort: 3000
---
apiVersion: gateway.networking.k8s.io/v1
kind: ReferenceGrant
metadata:
  name: tcp-reference-grant
  namespace: gateway-conformance-web-backend
spec:
  from:
    - group: gateway.networking.k8s.io
      kind: TCPRoute
      namespace: gateway-conformance-infra
  to:
    - group: ""
      kind: Service
      name: tcp-reference-grant-backend
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: tcp-reference-grant-gateway
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: archway
  listeners:
    - name: tcp
      protocol: TCP
      port: 9320
      allowedRoutes:
        kinds:
          - kind: TCPRoute
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata:
  name: tcp-reference-grant
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: tcp-reference-grant-gateway
      sectionName: tcp
  rules:
    - backendRefs:
        - name: tcp-reference-grant-backend
          namespace: gateway-conformance-web-backend
          port: 3000
"""#

    /// Conformance: UDPRouteParentRefAttachAllListeners
    /// A UDPRoute without port or sectionName (conformance/tests/udproute-parentref-attach-all-listeners.yaml): a datagram through each of the three listeners is answered by its backend.
    @Test func udpRouteParentRefAttachAllListeners() async throws {
        let (harness, channels) = try await Self.start(Self.udpRouteParentRefAttachAllListenersManifest, udp: true,
                                                       backends: ["gateway-conformance-infra/udp-echo-attach-all"], ports: [5310, 5311, 5312])
        defer { Self.stop(harness, channels) }
        for port in [5310, 5311, 5312] {
            #expect(try await Self.udpBackend(harness, port) == "udp-echo-attach-all", "listener port \(port)")
        }
    }

    static let udpRouteParentRefAttachAllListenersManifest = #"""
apiVersion: v1
kind: Service
metadata:
  name: udp-echo-attach-all
  namespace: gateway-conformance-infra
  labels:
    app: udp-echo-attach-all
spec:
  selector:
    app: udp-echo-attach-all
  ports:
    - name: udp
      protocol: UDP
      port: 8080
      targetPort: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: udp-attach-all-listeners-gateway
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: archway
  listeners:
    - name: udp-1
      protocol: UDP
      port: 5310
      allowedRoutes:
        kinds:
          - kind: UDPRoute
    - name: udp-2
      protocol: UDP
      port: 5311
      allowedRoutes:
        kinds:
          - kind: UDPRoute
    - name: udp-3
      protocol: UDP
      port: 5312
      allowedRoutes:
        kinds:
          - kind: UDPRoute
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata:
  name: udp-route-attach-all
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: udp-attach-all-listeners-gateway
  rules:
    - backendRefs:
        - name: udp-echo-attach-all
          port: 8080
"""#

    /// Conformance: UDPRouteParentRefPortAndSectionName
    /// UDPRoutes attached by port, by sectionName and by both (conformance/tests/udproute-parentref-port-and-section-name.yaml): each listener's datagrams reach its route's backend.
    @Test func udpRouteParentRefPortAndSectionName() async throws {
        let (harness, channels) = try await Self.start(Self.udpRouteParentRefPortAndSectionNameManifest, udp: true,
                                                       backends: ["by-port", "by-section", "by-section-and-port"].map { "gateway-conformance-infra/udp-echo-\($0)" },
                                                       ports: [5300, 5301, 5302])
        defer { Self.stop(harness, channels) }
        for (port, backend) in [(5300, "udp-echo-by-port"), (5301, "udp-echo-by-section"), (5302, "udp-echo-by-section-and-port")] {
            #expect(try await Self.udpBackend(harness, port) == backend, "listener port \(port)")
        }
    }

    static let udpRouteParentRefPortAndSectionNameManifest = #"""
apiVersion: v1
kind: Service
metadata:
  name: udp-echo-by-port
  namespace: gateway-conformance-infra
  labels:
    app: udp-echo-by-port
spec:
  selector:
    app: udp-echo-by-port
  ports:
    - name: udp
      protocol: UDP
      port: 8080
      targetPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: udp-echo-by-section
  namespace: gateway-conformance-infra
  labels:
    app: udp-echo-by-section
spec:
  selector:
    app: udp-echo-by-section
  ports:
    - name: udp
      protocol: UDP
      port: 8080
      targetPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: udp-echo-by-section-and-port
  namespace: gateway-conformance-infra
  labels:
    app: udp-echo-by-section-and-port
spec:
  selector:
    app: udp-echo-by-section-and-port
  ports:
    - name: udp
      protocol: UDP
      port: 8080
      targetPort: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: udp-multi-listener-gateway
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: archway
  listeners:
    - name: by-port
      protocol: UDP
      port: 5300
      allowedRoutes:
        kinds:
          - kind: UDPRoute
    - name: by-section
      protocol: UDP
      port: 5301
      allowedRoutes:
        kinds:
          - kind: UDPRoute
    - name: by-section-and-port
      protocol: UDP
      port: 5302
      allowedRoutes:
        kinds:
          - kind: UDPRoute
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata:
  name: udp-route-by-port
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: udp-multi-listener-gateway
      port: 5300
  rules:
    - backendRefs:
        - name: udp-echo-by-port
          port: 8080
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata:
  name: udp-route-by-section
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: udp-multi-listener-gateway
      sectionName: by-section
  rules:
    - backendRefs:
        - name: udp-echo-by-section
          port: 8080
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata:
  name: udp-route-by-section-and-port
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: udp-multi-listener-gateway
      sectionName: by-section-and-port
      port: 5302
  rules:
    - backendRefs:
        - name: udp-echo-by-section-and-port
          port: 8080
"""#

    /// Conformance: UDPRouteWeightedRouting
    /// Weights 70/30/0 (conformance/tests/udproute-weighted-routing.yaml): over 200 client flows the split is near 70/30 and the backend of weight 0 gets none.
    @Test func udpRouteWeightedRouting() async throws {
        let (harness, channels) = try await Self.start(Self.udpRouteWeightedRoutingManifest, udp: true,
                                                       backends: ["v1", "v2", "v3"].map { "gateway-conformance-infra/udp-backend-\($0)" }, ports: [5300])
        defer { Self.stop(harness, channels) }
        var counts: [String: Int] = [:]
        for _ in 0..<200 { counts[try await Self.udpBackend(harness, 5300) ?? "none", default: 0] += 1 }
        #expect((115...165).contains(counts["udp-backend-v1"] ?? 0) && (counts["udp-backend-v1"] ?? 0) + (counts["udp-backend-v2"] ?? 0) == 200, "\(counts)")
    }

    static let udpRouteWeightedRoutingManifest = #"""
apiVersion: v1
kind: Service
metadata:
  name: udp-backend-v1
  namespace: gateway-conformance-infra
  labels:
    app: udp-backend-v1
spec:
  selector:
    app: udp-backend-v1
  ports:
    - name: udp
      protocol: UDP
      port: 8080
      targetPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: udp-backend-v2
  namespace: gateway-conformance-infra
  labels:
    app: udp-backend-v2
spec:
  selector:
    app: udp-backend-v2
  ports:
    - name: udp
      protocol: UDP
      port: 8080
      targetPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: udp-backend-v3
  namespace: gateway-conformance-infra
  labels:
    app: udp-backend-v3
spec:
  selector:
    app: udp-backend-v3
  ports:
    - name: udp
      protocol: UDP
      port: 8080
      targetPort: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: udp-weighted-gateway
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: archway
  listeners:
    - name: udp
      protocol: UDP
      port: 5300
      allowedRoutes:
        kinds:
          - kind: UDPRoute
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata:
  name: udp-weighted-route
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: udp-weighted-gateway
      sectionName: udp
  rules:
    - backendRefs:
        - name: udp-backend-v1
          port: 8080
          weight: 70
        - name: udp-backend-v2
          port: 8080
          weight: 30
        - name: udp-backend-v3
          port: 8080
          weight: 0
"""#

    /// Conformance: UDPRouteReferenceGrant
    /// A UDPRoute's backendRef to gateway-conformance-app-backend with a ReferenceGrant (conformance/tests/udproute-reference-grant.yaml): datagrams reach that backend. (Its status, and the status once the grant is deleted, are fixtures 111 and 112.)
    @Test func udpRouteReferenceGrant() async throws {
        let (harness, channels) = try await Self.start(Self.udpRouteReferenceGrantManifest, udp: true,
                                                       backends: ["gateway-conformance-app-backend/udp-echo-reference-grant"], ports: [5300])
        defer { Self.stop(harness, channels) }
        #expect(try await Self.udpBackend(harness, 5300) == "udp-echo-reference-grant")
    }

    static let udpRouteReferenceGrantManifest = #"""
apiVersion: v1
kind: Service
metadata:
  name: udp-echo-reference-grant
  namespace: gateway-conformance-app-backend
  labels:
    app: udp-echo-reference-grant
spec:
  selector:
    app: udp-echo-reference-grant
  ports:
    - name: udp
      protocol: UDP
      port: 8080
      targetPort: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: ReferenceGrant
metadata:
  name: udp-reference-grant
  namespace: gateway-conformance-app-backend
spec:
  from:
    - group: gateway.networking.k8s.io
      kind: UDPRoute
      namespace: gateway-conformance-infra
  to:
    - group: ""
      kind: Service
      name: udp-echo-reference-grant
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: udp-gateway-reference-grant
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: archway
  listeners:
    - name: udp
      protocol: UDP
      port: 5300
      allowedRoutes:
        kinds:
          - kind: UDPRoute
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata:
  name: udp-route-reference-grant
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: udp-gateway-reference-grant
      sectionName: udp
  rules:
    - backendRefs:
        - name: udp-echo-reference-grant
          namespace: gateway-conformance-app-backend
          port: 8080
"""#

    /// Conformance: TCPRouteMultipleRoutesAttachment
    /// conformance/tests/tcproute-multiple-routes-attachment.yaml and the newer TCPRoute the upstream
    /// test creates a second later (here both with creationTimestamps, as the API server sets them):
    /// 100 connections all reach the older route's backend. (Both routes Accepted and the listener
    /// counting 2 is fixture 118.)
    @Test func tcpRouteMultipleRoutesAttachment() async throws {
        let (harness, channels) = try await Self.start(Self.tcpRouteMultipleRoutesAttachmentManifest,
                                                       backends: ["gateway-conformance-infra/tcp-attach-backend-1", "gateway-conformance-infra/tcp-attach-backend-2"], ports: [9310])
        defer { Self.stop(harness, channels) }
        var counts: [String: Int] = [:]
        for _ in 0..<100 { counts[try await Self.tcpBackend(harness, 9310) ?? "none", default: 0] += 1 }
        #expect(counts == ["tcp-attach-backend-1": 100], "\(counts)")
    }

    static let tcpRouteMultipleRoutesAttachmentManifest = #"""
apiVersion: v1
kind: Service
metadata:
  name: tcp-attach-backend-1
  namespace: gateway-conformance-infra
  labels:
    app: tcp-attach-backend-1
spec:
  selector:
    app: tcp-attach-backend-1
  ports:
    - name: tcp
      protocol: TCP
      port: 3000
      targetPort: 3000
---
apiVersion: v1
kind: Service
metadata:
  name: tcp-attach-backend-2
  namespace: gateway-conformance-infra
  labels:
    app: tcp-attach-backend-2
spec:
  selector:
    app: tcp-attach-backend-2
  ports:
    - name: tcp
      protocol: TCP
      port: 3000
      targetPort: 3000
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: tcp-multi-route-attach-gateway
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: archway
  listeners:
    - name: tcp
      protocol: TCP
      port: 9310
      allowedRoutes:
        kinds:
          - kind: TCPRoute
            group: gateway.networking.k8s.io
        namespaces:
          from: Same
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata:
  name: tcproute-attach-older
  creationTimestamp: "2026-01-01T00:00:00Z"
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: tcp-multi-route-attach-gateway
      sectionName: tcp
  rules:
    - backendRefs:
        - name: tcp-attach-backend-1
          port: 3000
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata:
  name: tcproute-attach-newer
  namespace: gateway-conformance-infra
  creationTimestamp: "2026-01-01T00:00:01Z"
spec:
  parentRefs:
  - name: tcp-multi-route-attach-gateway
    sectionName: tcp
  rules:
  - backendRefs:
    - name: tcp-attach-backend-2
      port: 3000
"""#

    /// Conformance: UDPRouteMultipleRoutesAttachment
    /// conformance/tests/udproute-multiple-routes-attachment.yaml and the newer UDPRoute the upstream
    /// test creates a second later (both with creationTimestamps): 100 client flows all reach the older
    /// route's backend. (Both routes Accepted and the listener counting 2 is fixture 119.)
    @Test func udpRouteMultipleRoutesAttachment() async throws {
        let (harness, channels) = try await Self.start(Self.udpRouteMultipleRoutesAttachmentManifest, udp: true,
                                                       backends: ["gateway-conformance-infra/udp-attach-backend-1", "gateway-conformance-infra/udp-attach-backend-2"], ports: [5301])
        defer { Self.stop(harness, channels) }
        var counts: [String: Int] = [:]
        for _ in 0..<100 { counts[try await Self.udpBackend(harness, 5301) ?? "none", default: 0] += 1 }
        #expect(counts == ["udp-attach-backend-1": 100], "\(counts)")
    }

    static let udpRouteMultipleRoutesAttachmentManifest = #"""
apiVersion: v1
kind: Service
metadata:
  name: udp-attach-backend-1
  namespace: gateway-conformance-infra
  labels:
    app: udp-attach-backend-1
spec:
  selector:
    app: udp-attach-backend-1
  ports:
    - name: udp
      protocol: UDP
      port: 8080
      targetPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: udp-attach-backend-2
  namespace: gateway-conformance-infra
  labels:
    app: udp-attach-backend-2
spec:
  selector:
    app: udp-attach-backend-2
  ports:
    - name: udp
      protocol: UDP
      port: 8080
      targetPort: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: udp-multi-route-attach-gateway
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: archway
  listeners:
    - name: udp
      protocol: UDP
      port: 5301
      allowedRoutes:
        kinds:
          - kind: UDPRoute
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata:
  name: udproute-attach-older
  creationTimestamp: "2026-01-01T00:00:00Z"
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: udp-multi-route-attach-gateway
      sectionName: udp
  rules:
    - backendRefs:
        - name: udp-attach-backend-1
          port: 8080
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata:
  name: udproute-attach-newer
  namespace: gateway-conformance-infra
  creationTimestamp: "2026-01-01T00:00:01Z"
spec:
  parentRefs:
  - name: udp-multi-route-attach-gateway
    sectionName: udp
  rules:
  - backendRefs:
    - name: udp-attach-backend-2
      port: 8080
"""#
}
