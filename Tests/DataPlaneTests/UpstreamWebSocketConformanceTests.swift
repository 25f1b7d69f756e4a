import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Testing

/// The upstream conformance test of a WebSocket backendRef (appProtocol kubernetes.io/ws).
extension UpstreamConformanceTests {
    /// Conformance: HTTPRouteBackendProtocolWebSocket
    /// A backendRef to a Service port of appProtocol kubernetes.io/ws (conformance/tests/
    /// httproute-backend-protocol-websocket.yaml, with the suite's infra-backend-v1 Service and its
    /// third-port): a WebSocket to /ws opens, and a text and a binary message come back unchanged.
    @Test func backendProtocolWebSocket() async throws {
        let harness = GatewayHarness()
        try await harness.startBackend("infra-backend-v1")
        let port = harness.backendPorts["infra-backend-v1"]!
        try harness.write("gw.yaml", """
            apiVersion: gateway.networking.k8s.io/v1
            kind: GatewayClass
            metadata: {name: archway}
            spec: {controllerName: archway.dev/gateway-controller}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: same-namespace, namespace: gateway-conformance-infra}
            spec:
              gatewayClassName: archway
              listeners:
              - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: infra-backend-v1, namespace: gateway-conformance-infra}
            spec:
              ports:
              - {name: first-port, protocol: TCP, port: 8080, targetPort: 3000}
              - {name: second-port, protocol: TCP, appProtocol: kubernetes.io/h2c, port: 8081, targetPort: 3001}
              - {name: third-port, protocol: TCP, appProtocol: kubernetes.io/ws, port: 8082, targetPort: 3000}
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: infra-backend-v1-1, namespace: gateway-conformance-infra, labels: {kubernetes.io/service-name: infra-backend-v1}}
            addressType: IPv4
            ports: [{name: third-port, port: \(port), appProtocol: kubernetes.io/ws}]
            endpoints:
            - addresses: [127.0.0.1]
              conditions: {ready: true}
            ---
            \(Self.backendProtocolWebSocketManifest)

            """)
        try await harness.start()
        defer { Task { await harness.stop() } }
        var (client, head) = try WebSocketTests.Client.open(port: harness.port, host: "example.com", path: "/ws")
        #expect(head.hasPrefix("HTTP/1.1 101"), "\(head)")
        client.send(opcode: 0x1, Array("Websocket Support!".utf8))
        let text = try #require(client.receive())
        #expect(text.opcode == 0x1 && text.payload == Array("Websocket Support!".utf8))
        client.send(opcode: 0x2, [1, 2, 3, 4, 5, 6, 7])
        let binary = try #require(client.receive())
        #expect(binary.opcode == 0x2 && binary.payload == [1, 2, 3, 4, 5, 6, 7])
    }

    static let backendProtocolWebSocketManifest = #"""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: backend-protocol-ws
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - backendRefs:
    # This points to a Service with the following ServicePort
    # - name: third-port
    #   appProtocol: kubernetes.io/ws
    #   protocol: TCP
    #   port: 8082
    #   targetPort: 3000
    - name: infra-backend-v1
      port: 8082
"""#
}
