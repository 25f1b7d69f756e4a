import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Testing

/// Upstream Gateway API conformance tests whose assertions are about what a backend receives: each
/// serves the upstream test's manifest verbatim (conformance/tests/*.yaml) behind the suite's Gateway
/// `same-namespace` and its backends (echo servers standing for infra-backend-v1..v3, Services of port
/// 8080 in gateway-conformance-infra), then sends every request of the upstream test, in its order,
/// and checks the backend that answered and the path, Host and headers it received.
@Suite(.timeLimit(.minutes(2)))
struct UpstreamConformanceTests {
    struct Case: Sendable {
        var path: String
        var host: String
        var send: [(String, String)]
        var backend: String
        /// The path and Host the backend must receive (nil: not checked).
        var path2: String?
        var host2: String?
        /// Headers the backend must receive with these values, and headers it must not receive.
        var headers: [String: String]
        var absent: [String]
    }

    /// The suite's GatewayClass, its Gateway `same-namespace` (unless `suiteGateway` is false: the
    /// manifest brings its own) and infra-backend-v1..v3, then `manifest`.
    static func start(manifest: String, suiteGateway: Bool = true, fastLane: Bool = true) async throws -> (GatewayHarness, [String: ConformanceBackend]) {
        let harness = GatewayHarness()
        harness.fastLane = fastLane
        var backends: [String: ConformanceBackend] = [:]
        var documents = ["""
            apiVersion: gateway.networking.k8s.io/v1
            kind: GatewayClass
            metadata: {name: archway}
            spec: {controllerName: archway.dev/gateway-controller}
            """]
        if suiteGateway {
            documents.append("""
                apiVersion: gateway.networking.k8s.io/v1
                kind: Gateway
                metadata: {name: same-namespace, namespace: gateway-conformance-infra}
                spec:
                  gatewayClassName: archway
                  listeners:
                  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}
                """)
        }
        for name in ["infra-backend-v1", "infra-backend-v2", "infra-backend-v3"] {
            let backend = ConformanceBackend(name: name)
            let port = try await backend.start(group: harness.group)
            backends[name] = backend
            documents.append("""
                apiVersion: v1
                kind: Service
                metadata: {name: \(name), namespace: gateway-conformance-infra}
                spec: {ports: [{name: http, port: 8080, targetPort: \(port)}]}
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: \(name)-1, namespace: gateway-conformance-infra, labels: {kubernetes.io/service-name: \(name)}}
                addressType: IPv4
                ports: [{name: http, port: \(port)}]
                endpoints:
                - addresses: [127.0.0.1]
                  conditions: {ready: true}
                """)
        }
        documents.append(manifest)
        try harness.write("gw.yaml", documents.joined(separator: "\n---\n") + "\n")
        try await harness.start()
        return (harness, backends)
    }

    static func run(manifest: String, route: String, cases: [Case]) async throws {
        let (harness, backends) = try await start(manifest: manifest)
        defer { Task { await harness.stop(); for backend in backends.values { await backend.stop() } } }
        for (index, c) in cases.enumerated() {
            let what = "case \(index): \(c.host)\(c.path)"
            let response = try await harness.send(c.path, host: c.host, headers: c.send)
            #expect(response.status == 200, "\(what): \(response.status) \(response.text)")
            #expect(response.echoName == c.backend, "\(what): answered by \(response.echoName ?? "none")")
            if let path = c.path2 { #expect(response.echo["path"] as? String == path, "\(what): backend got path \(response.echo["path"] ?? "")") }
            if let host = c.host2 { #expect(response.echo["host"] as? String == host, "\(what): backend got Host \(response.echo["host"] ?? "")") }
            for (name, value) in c.headers {
                #expect(response.echoHeaders[name.lowercased()] == value, "\(what): backend got \(name): \(response.echoHeaders[name.lowercased()] ?? "none")")
            }
            for name in c.absent {
                #expect(response.echoHeaders[name.lowercased()] == nil, "\(what): backend got \(name)")
            }
        }
    }

    /// Conformance: HTTPRouteBackendRequestHeaderModifier
    /// RequestHeaderModifier filters on a backendRef (conformance/tests/httproute-request-header-modifier-backend.yaml): set, add, remove, several at once, and names in any case.
    @Test func backendRequestHeaderModifier() async throws {
        try await Self.run(manifest: Self.backendRequestHeaderModifierManifest, route: "request-header-modifier", cases: [
        .init(path: "/set", host: "example.com", send: [("Some-Other-Header", "val")], backend: "infra-backend-v1", path2: nil, host2: nil, headers: ["Some-Other-Header": "val", "X-Header-Set": "set-overwrites-values"], absent: []),
        .init(path: "/set", host: "example.com", send: [("Some-Other-Header", "val"), ("X-Header-Set", "some-other-value")], backend: "infra-backend-v1", path2: nil, host2: nil, headers: ["Some-Other-Header": "val", "X-Header-Set": "set-overwrites-values"], absent: []),
        .init(path: "/add", host: "example.com", send: [("Some-Other-Header", "val")], backend: "infra-backend-v1", path2: nil, host2: nil, headers: ["Some-Other-Header": "val", "X-Header-Add": "add-appends-values"], absent: []),
        .init(path: "/add", host: "example.com", send: [("Some-Other-Header", "val"), ("X-Header-Add", "some-other-value")], backend: "infra-backend-v1", path2: nil, host2: nil, headers: ["Some-Other-Header": "val", "X-Header-Add": "some-other-value,add-appends-values"], absent: []),
        .init(path: "/remove", host: "example.com", send: [("X-Header-Remove", "val")], backend: "infra-backend-v1", path2: nil, host2: nil, headers: [:], absent: ["X-Header-Remove"]),
        .init(path: "/multiple", host: "example.com", send: [("X-Header-Set-2", "set-val-2"), ("X-Header-Add-2", "add-val-2"), ("X-Header-Remove-2", "remove-val-2"), ("Another-Header", "another-header-val")], backend: "infra-backend-v1", path2: nil, host2: nil, headers: ["X-Header-Set-1": "header-set-1", "X-Header-Set-2": "header-set-2", "X-Header-Add-1": "header-add-1", "X-Header-Add-2": "add-val-2,header-add-2", "X-Header-Add-3": "header-add-3", "Another-Header": "another-header-val"], absent: ["X-Header-Remove-1", "X-Header-Remove-2"]),
        .init(path: "/case-insensitivity", host: "example.com", send: [("x-header-set", "original-val-set"), ("x-header-add", "original-val-add"), ("x-header-remove", "original-val-remove"), ("Another-Header", "another-header-val")], backend: "infra-backend-v1", path2: nil, host2: nil, headers: ["X-Header-Set": "header-set", "X-Header-Add": "original-val-add,header-add", "Another-Header": "another-header-val"], absent: ["x-header-remove", "X-Header-Remove"]),
        ])
    }

    static let backendRequestHeaderModifierManifest = #"""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: request-header-modifier
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /set
    backendRefs:
    - name: infra-backend-v1
      port: 8080
      filters:
      - type: RequestHeaderModifier
        requestHeaderModifier:
          set:
          - name: X-Header-Set
            value: set-overwrites-values
  - matches:
    - path:
        type: PathPrefix
        value: /add
    backendRefs:
    - name: infra-backend-v1
      port: 8080
      filters:
      - type: RequestHeaderModifier
        requestHeaderModifier:
          add:
          - name: X-Header-Add
            value: add-appends-values
  - matches:
    - path:
        type: PathPrefix
        value: /remove
    backendRefs:
    - name: infra-backend-v1
      port: 8080
      filters:
      - type: RequestHeaderModifier
        requestHeaderModifier:
          remove:
          - X-Header-Remove
  - matches:
    - path:
        type: PathPrefix
        value: /multiple
    backendRefs:
    - name: infra-backend-v1
      port: 8080
      filters:
      - type: RequestHeaderModifier
        requestHeaderModifier:
          set:
          - name: X-Header-Set-1
            value: header-set-1
          - name: X-Header-Set-2
            value: header-set-2
          add:
          - name: X-Header-Add-1
            value: header-add-1
          - name: X-Header-Add-2
            value: header-add-2
          - name: X-Header-Add-3
            value: header-add-3
          remove:
          - X-Header-Remove-1
          - X-Header-Remove-2
  - matches:
    - path:
        type: PathPrefix
        value: /case-insensitivity
    backendRefs:
    - name: infra-backend-v1
      port: 8080
      filters:
      - type: RequestHeaderModifier
        requestHeaderModifier:
          set:
          - name: X-Header-Set
            value: header-set
          add:
          - name: X-Header-Add
            value: header-add
          remove:
          - X-Header-Remove
"""#
}
