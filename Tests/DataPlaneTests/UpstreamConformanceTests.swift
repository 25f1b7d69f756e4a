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

    /// The suite's Gateway `same-namespace` and infra-backend-v1..v3, then `manifest`; the backends
    /// are the harness's `conformanceBackends`.
    static func start(manifest: String) async throws -> (GatewayHarness, [String: ConformanceBackend]) {
        let harness = GatewayHarness()
        var backends: [String: ConformanceBackend] = [:]
        var documents = ["""
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
            """]
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

    /// Conformance: HTTPRouteRewritePath
    /// URLRewrite of the path, prefix and full, alone and with a RequestHeaderModifier (conformance/tests/httproute-rewrite-path.yaml).
    @Test func rewritePath() async throws {
        try await Self.run(manifest: Self.rewritePathManifest, route: "rewrite-path", cases: [
        .init(path: "/prefix/one/two", host: "example.com", send: [], backend: "infra-backend-v1", path2: "/one/two", host2: nil, headers: [:], absent: []),
        .init(path: "/strip-prefix/three", host: "example.com", send: [], backend: "infra-backend-v1", path2: "/three", host2: nil, headers: [:], absent: []),
        .init(path: "/strip-prefix", host: "example.com", send: [], backend: "infra-backend-v1", path2: "/", host2: nil, headers: [:], absent: []),
        .init(path: "/full/one/two", host: "example.com", send: [], backend: "infra-backend-v1", path2: "/one", host2: nil, headers: [:], absent: []),
        .init(path: "/full/rewrite-path-and-modify-headers/test", host: "example.com", send: [("X-Header-Remove", "remove-val"), ("X-Header-Add-Append", "append-val-1"), ("X-Header-Set", "set-val")], backend: "infra-backend-v1", path2: "/test", host2: nil, headers: ["X-Header-Add": "header-val-1", "X-Header-Add-Append": "append-val-1,header-val-2", "X-Header-Set": "set-overwrites-values"], absent: ["X-Header-Remove"]),
        .init(path: "/prefix/rewrite-path-and-modify-headers/one", host: "example.com", send: [("X-Header-Remove", "remove-val"), ("X-Header-Add-Append", "append-val-1"), ("X-Header-Set", "set-val")], backend: "infra-backend-v1", path2: "/prefix/one", host2: nil, headers: ["X-Header-Add": "header-val-1", "X-Header-Add-Append": "append-val-1,header-val-2", "X-Header-Set": "set-overwrites-values"], absent: ["X-Header-Remove"]),
        ])
    }

    static let rewritePathManifest = #"""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: rewrite-path
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /prefix/one
    filters:
    - type: URLRewrite
      urlRewrite:
        path:
          type: ReplacePrefixMatch
          replacePrefixMatch: /one
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /strip-prefix
    filters:
    - type: URLRewrite
      urlRewrite:
        path:
          type: ReplacePrefixMatch
          replacePrefixMatch: /
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /full/one
    filters:
    - type: URLRewrite
      urlRewrite:
        path:
          type: ReplaceFullPath
          replaceFullPath: /one
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /full/rewrite-path-and-modify-headers
    filters:
    - type: URLRewrite
      urlRewrite:
        path:
          type: ReplaceFullPath
          replaceFullPath: /test
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set:
        - name: X-Header-Set
          value: set-overwrites-values
        add:
        - name: X-Header-Add
          value: header-val-1
        - name: X-Header-Add-Append
          value: header-val-2
        remove:
        - X-Header-Remove
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /prefix/rewrite-path-and-modify-headers
    filters:
    - type: URLRewrite
      urlRewrite:
        path:
          type: ReplacePrefixMatch
          replacePrefixMatch: /prefix
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set:
        - name: X-Header-Set
          value: set-overwrites-values
        add:
        - name: X-Header-Add
          value: header-val-1
        - name: X-Header-Add-Append
          value: header-val-2
        remove:
        - X-Header-Remove
    backendRefs:
    - name: infra-backend-v1
      port: 8080
"""#

    /// Conformance: HTTPRouteRewriteHost
    /// URLRewrite of the Host, alone and with a RequestHeaderModifier (conformance/tests/httproute-rewrite-host.yaml).
    @Test func rewriteHost() async throws {
        try await Self.run(manifest: Self.rewriteHostManifest, route: "rewrite-host", cases: [
        .init(path: "/one", host: "rewrite.example", send: [], backend: "infra-backend-v1", path2: "/one", host2: "one.example.org", headers: [:], absent: []),
        .init(path: "/two", host: "rewrite.example", send: [], backend: "infra-backend-v2", path2: "/two", host2: "example.org", headers: [:], absent: []),
        .init(path: "/rewrite-host-and-modify-headers", host: "rewrite.example", send: [("X-Header-Remove", "remove-val"), ("X-Header-Add-Append", "append-val-1")], backend: "infra-backend-v2", path2: "/rewrite-host-and-modify-headers", host2: "test.example.org", headers: ["X-Header-Add": "header-val-1", "X-Header-Add-Append": "append-val-1,header-val-2", "X-Header-Set": "set-overwrites-values"], absent: ["X-Header-Remove"]),
        ])
    }

    static let rewriteHostManifest = #"""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: rewrite-host
  namespace: gateway-conformance-infra
spec:
  hostnames:
    - "rewrite.example"
  parentRefs:
    - name: same-namespace
  rules:
    - matches:
        - path:
            type: PathPrefix
            value: /one
      filters:
        - type: URLRewrite
          urlRewrite:
            hostname: one.example.org
      backendRefs:
        - name: infra-backend-v1
          port: 8080
    - filters:
        - type: URLRewrite
          urlRewrite:
            hostname: example.org
      backendRefs:
        - name: infra-backend-v2
          port: 8080
    - matches:
        - path:
            type: PathPrefix
            value: /rewrite-host-and-modify-headers
      filters:
        - type: URLRewrite
          urlRewrite:
            hostname: test.example.org
        - type: RequestHeaderModifier
          requestHeaderModifier:
            set:
              - name: X-Header-Set
                value: set-overwrites-values
            add:
              - name: X-Header-Add
                value: header-val-1
              - name: X-Header-Add-Append
                value: header-val-2
            remove:
              - X-Header-Remove
      backendRefs:
        - name: infra-backend-v2
          port: 8080
"""#

    /// Conformance: HTTPRouteRequestHeaderModifierBackendWeights
    /// Two weighted backendRefs, each setting a `Backend` header naming itself
    /// (conformance/tests/httproute-request-header-modifier-backend-weights.yaml): over 100 requests,
    /// every backend receives the header its own backendRef sets.
    @Test func requestHeaderModifierBackendWeights() async throws {
        let (harness, backends) = try await Self.start(manifest: Self.requestHeaderModifierBackendWeightsManifest)
        defer { Task { await harness.stop(); for backend in backends.values { await backend.stop() } } }
        var seen: Set<String> = []
        for index in 0..<100 {
            let response = try await harness.send("/", host: "example.com")
            #expect(response.status == 200, "request \(index): \(response.status)")
            let name = response.echoName ?? "none"
            seen.insert(name)
            #expect(response.echoHeaders["backend"] == name, "request \(index): \(name) got Backend: \(response.echoHeaders["backend"] ?? "none")")
        }
        #expect(seen == ["infra-backend-v1", "infra-backend-v2"], "backends reached: \(seen)")
    }

    static let requestHeaderModifierBackendWeightsManifest = #"""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: request-header-modifier-backend-weights
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - backendRefs:
    - name: infra-backend-v1
      port: 8080
      weight: 10
      filters:
      - type: RequestHeaderModifier
        requestHeaderModifier:
          set:
          - name: Backend
            value: infra-backend-v1
    - name: infra-backend-v2
      port: 8080
      weight: 10
      filters:
      - type: RequestHeaderModifier
        requestHeaderModifier:
          set:
          - name: Backend
            value: infra-backend-v2
"""#

    /// Conformance: HTTPRouteResponseHeaderModifier
    /// ResponseHeaderModifier set, add, remove, several at once, names in any case, and with a
    /// RequestHeaderModifier on the same rule (conformance/tests/httproute-response-header-modifier.yaml).
    /// The backend sets the response headers each case asks for (X-Echo-Set-Header, as upstream's echo
    /// server does); the client must see the filtered ones.
    @Test func responseHeaderModifier() async throws {
        let (harness, backends) = try await Self.start(manifest: Self.responseHeaderModifierManifest)
        defer { Task { await harness.stop(); for backend in backends.values { await backend.stop() } } }
        let cases: [(path: String, send: [(String, String)], headers: [String: String], absent: [String], request: [String: String], requestAbsent: [String])] = [
            (path: "/set", send: [("X-Echo-Set-Header", "Some-Other-Header:val")], headers: ["Some-Other-Header": "val", "X-Header-Set": "set-overwrites-values"], absent: [], request: [:], requestAbsent: []),
            (path: "/set", send: [("X-Echo-Set-Header", "Some-Other-Header:val,X-Header-Set:some-other-value")], headers: ["Some-Other-Header": "val", "X-Header-Set": "set-overwrites-values"], absent: [], request: [:], requestAbsent: []),
            (path: "/add", send: [("X-Echo-Set-Header", "Some-Other-Header:val")], headers: ["Some-Other-Header": "val", "X-Header-Add": "add-appends-values"], absent: [], request: [:], requestAbsent: []),
            (path: "/add", send: [("X-Echo-Set-Header", "Some-Other-Header:val,X-Header-Add:some-other-value")], headers: ["Some-Other-Header": "val", "X-Header-Add": "some-other-value,add-appends-values"], absent: [], request: [:], requestAbsent: []),
            (path: "/remove", send: [("X-Echo-Set-Header", "X-Header-Remove:val")], headers: [:], absent: ["X-Header-Remove"], request: [:], requestAbsent: []),
            (path: "/multiple", send: [("X-Echo-Set-Header", "X-Header-Set-2:set-val-2,X-Header-Add-2:add-val-2,X-Header-Remove-2:remove-val-2,Another-Header:another-header-val,X-Header-Remove-1:val")], headers: ["X-Header-Set-1": "header-set-1", "X-Header-Set-2": "header-set-2", "X-Header-Add-1": "header-add-1", "X-Header-Add-2": "add-val-2,header-add-2", "X-Header-Add-3": "header-add-3", "Another-Header": "another-header-val"], absent: ["X-Header-Remove-1", "X-Header-Remove-2"], request: [:], requestAbsent: []),
            (path: "/case-insensitivity", send: [("X-Echo-Set-Header", "x-header-set:original-val-set,x-header-add:original-val-add,x-header-remove:original-val-remove,Another-Header:another-header-val")], headers: ["X-Header-Set": "header-set", "X-Header-Add": "original-val-add,header-add", "X-Lowercase-Add": "lowercase-add", "X-Mixedcase-Add-1": "mixedcase-add-1", "X-Mixedcase-Add-2": "mixedcase-add-2", "X-Uppercase-Add": "uppercase-add", "Another-Header": "another-header-val"], absent: ["x-header-remove", "X-Header-Remove"], request: [:], requestAbsent: []),
            (path: "/response-and-request-header-modifiers", send: [("X-Header-Remove", "remove-val"), ("X-Header-Add-Append", "append-val-1"), ("X-Header-Echo", "echo"), ("X-Echo-Set-Header", "X-Header-Set-2:set-val-2,X-Header-Add-2:add-val-2,X-Header-Remove-2:remove-val-2,Another-Header:another-header-val,X-Header-Remove-1:remove-val-1,X-Header-Echo:echo")], headers: ["X-Header-Set-1": "header-set-1", "X-Header-Set-2": "header-set-2", "X-Header-Add-1": "header-add-1", "X-Header-Add-2": "add-val-2,header-add-2", "Another-Header": "another-header-val", "X-Header-Echo": "echo"], absent: ["X-Header-Remove-1", "X-Header-Remove-2"], request: ["X-Header-Add": "header-val-1", "X-Header-Set": "set-overwrites-values", "X-Header-Add-Append": "append-val-1,header-val-2", "X-Header-Echo": "echo"], requestAbsent: ["X-Header-Remove"]),
        ]
        for (index, c) in cases.enumerated() {
            let what = "case \(index): \(c.path)"
            let response = try await harness.send(c.path, host: "example.com", headers: c.send)
            #expect(response.status == 200 && response.echoName == "infra-backend-v1", "\(what): \(response.status) from \(response.echoName ?? "none")")
            for (name, value) in c.headers {
                let got = response.headers[canonicalForm: name].joined(separator: ",")
                #expect(got == value, "\(what): response \(name): \(got)")
            }
            for name in c.absent { #expect(!response.headers.contains(name: name), "\(what): response has \(name)") }
            for (name, value) in c.request {
                #expect(response.echoHeaders[name.lowercased()] == value, "\(what): backend got \(name): \(response.echoHeaders[name.lowercased()] ?? "none")")
            }
            for name in c.requestAbsent { #expect(response.echoHeaders[name.lowercased()] == nil, "\(what): backend got \(name)") }
        }
    }

    static let responseHeaderModifierManifest = #"""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: response-header-modifier
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /set
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        set:
        - name: X-Header-Set
          value: set-overwrites-values
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /add
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        add:
        - name: X-Header-Add
          value: add-appends-values
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /remove
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        remove:
        - X-Header-Remove
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /multiple
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier:
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
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /case-insensitivity
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        set:
        - name: X-Header-Set
          value: header-set
        add:
        - name: X-Header-Add
          value: header-add
        - name: x-lowercase-add
          value: lowercase-add
        - name: x-Mixedcase-ADD-1
          value: mixedcase-add-1
        - name: X-mixeDcase-add-2
          value: mixedcase-add-2
        - name: X-UPPERCASE-ADD
          value: uppercase-add
        remove:
        - X-Header-Remove
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /response-and-request-header-modifiers
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier:
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
        remove:
        - X-Header-Remove-1
        - X-Header-Remove-2
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set:
        - name: X-Header-Set
          value: set-overwrites-values
        add:
        - name: X-Header-Add
          value: header-val-1
        - name: X-Header-Add-Append
          value: header-val-2
        remove:
        - X-Header-Remove
    backendRefs:
    - name: infra-backend-v1
      port: 8080
"""#

    /// Conformance: HTTPRouteTimeoutRequest
    /// timeouts.request 500ms, and "0s" for none (conformance/tests/httproute-timeout-request.yaml): a
    /// quick answer passes, a backend 1 s late is 504, and without a timeout the late answer passes.
    @Test func timeoutRequest() async throws {
        try await Self.runStatuses(manifest: Self.timeoutRequestManifest,
                                   [("/request-timeout", 200), ("/request-timeout?delay=1s", 504), ("/disable-request-timeout?delay=1s", 200)])
    }

    static let timeoutRequestManifest = #"""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: request-timeout
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /request-timeout
    backendRefs:
    - name: infra-backend-v1
      port: 8080
    timeouts:
      request: 500ms
  - matches:
    - path:
        type: PathPrefix
        value: /disable-request-timeout
    backendRefs:
    - name: infra-backend-v1
      port: 8080
    timeouts:
      request: "0s"
"""#

    /// Conformance: HTTPRouteTimeoutBackendRequest
    /// timeouts.backendRequest 500ms, and "0s" for none (conformance/tests/httproute-timeout-backend-request.yaml):
    /// a quick answer passes, a backend 1 s late is 504, and without a timeout the late answer passes.
    @Test func timeoutBackendRequest() async throws {
        try await Self.runStatuses(manifest: Self.timeoutBackendRequestManifest,
                                   [("/backend-timeout", 200), ("/backend-timeout?delay=1s", 504), ("/disable-backend-timeout?delay=1s", 200)])
    }

    static let timeoutBackendRequestManifest = #"""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: backend-request-timeout
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /backend-timeout
    backendRefs:
    - name: infra-backend-v1
      port: 8080
    timeouts:
      backendRequest: 500ms
  - matches:
    - path:
        type: PathPrefix
        value: /disable-backend-timeout
    backendRefs:
    - name: infra-backend-v1
      port: 8080
    timeouts:
      backendRequest: "0s"
"""#

    static func runStatuses(manifest: String, _ cases: [(String, Int)]) async throws {
        let (harness, backends) = try await start(manifest: manifest)
        defer { Task { await harness.stop(); for backend in backends.values { await backend.stop() } } }
        for (path, status) in cases {
            let response = try await harness.send(path, host: "example.com")
            #expect(response.status == status, "\(path): \(response.status) \(response.text)")
            if status == 200 { #expect(response.echoName == "infra-backend-v1", "\(path): answered by \(response.echoName ?? "none")") }
        }
    }

    /// Conformance: HTTPRouteRequestMirror
    /// RequestMirror to infra-backend-v2, alone and after a RequestHeaderModifier
    /// (conformance/tests/httproute-request-mirror.yaml): infra-backend-v1 answers with the headers
    /// modified, and infra-backend-v2 receives a copy of each request.
    @Test func requestMirror() async throws {
        try await Self.runMirrors(manifest: Self.requestMirrorManifest, paths: ["/mirror", "/mirror-and-modify-headers"], mirrors: ["infra-backend-v2"])
    }

    static let requestMirrorManifest = #"""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: request-mirror
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /mirror
    filters:
    - type: RequestMirror
      requestMirror:
        backendRef:
          name: infra-backend-v2
          namespace: gateway-conformance-infra
          port: 8080
    backendRefs:
    - name: infra-backend-v1
      port: 8080
      namespace: gateway-conformance-infra
  - matches:
    - path:
        type: PathPrefix
        value: /mirror-and-modify-headers
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set:
        - name: X-Header-Set
          value: set-overwrites-values
        add:
        - name: X-Header-Add
          value: header-val-1
        - name: X-Header-Add-Append
          value: header-val-2
        remove:
        - X-Header-Remove
    - type: RequestMirror
      requestMirror:
        backendRef:
          name: infra-backend-v2
          namespace: gateway-conformance-infra
          port: 8080
    backendRefs:
    - name: infra-backend-v1
      port: 8080
      namespace: gateway-conformance-infra
"""#

    /// Conformance: HTTPRouteRequestMultipleMirrors
    /// Two RequestMirror filters, to infra-backend-v2 and v3, alone and after a RequestHeaderModifier
    /// (conformance/tests/httproute-request-multiple-mirrors.yaml): infra-backend-v1 answers with the
    /// headers modified, and both mirrors receive a copy of each request.
    @Test func requestMultipleMirrors() async throws {
        try await Self.runMirrors(manifest: Self.requestMultipleMirrorsManifest, paths: ["/multi-mirror", "/multi-mirror-and-modify-request-headers"],
                                  mirrors: ["infra-backend-v2", "infra-backend-v3"])
    }

    static let requestMultipleMirrorsManifest = #"""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: request-multiple-mirrors
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /multi-mirror
    filters:
    - type: RequestMirror
      requestMirror:
        backendRef:
          name: infra-backend-v2
          namespace: gateway-conformance-infra
          port: 8080
    - type: RequestMirror
      requestMirror:
        backendRef:
          name: infra-backend-v3
          namespace: gateway-conformance-infra
          port: 8080
    backendRefs:
    - name: infra-backend-v1
      port: 8080
      namespace: gateway-conformance-infra
  - matches:
    - path:
        type: PathPrefix
        value: /multi-mirror-and-modify-request-headers
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set:
        - name: X-Header-Set
          value: set-overwrites-values
        add:
        - name: X-Header-Add
          value: header-val-1
        - name: X-Header-Add-Append
          value: header-val-2
        remove:
        - X-Header-Remove
    - type: RequestMirror
      requestMirror:
        backendRef:
          name: infra-backend-v2
          namespace: gateway-conformance-infra
          port: 8080
    - type: RequestMirror
      requestMirror:
        backendRef:
          name: infra-backend-v3
          namespace: gateway-conformance-infra
          port: 8080
    backendRefs:
    - name: infra-backend-v1
      port: 8080
      namespace: gateway-conformance-infra
"""#

    /// The upstream mirror tests' requests: each path (with a request id in its query, as upstream adds)
    /// is answered by infra-backend-v1; a path ending in "-headers" is sent with the headers the
    /// upstream test sends and must reach infra-backend-v1 modified; each mirror receives a copy.
    static func runMirrors(manifest: String, paths: [String], mirrors: [String]) async throws {
        let (harness, backends) = try await start(manifest: manifest)
        defer { Task { await harness.stop(); for backend in backends.values { await backend.stop() } } }
        for path in paths {
            let id = UUID().uuidString
            let modify = path.hasSuffix("-headers")
            let send: [(String, String)] = modify ? [("X-Header-Remove", "remove-val"), ("X-Header-Add-Append", "append-val-1")] : []
            let response = try await harness.send("\(path)?X-Request-Id=\(id)", host: "example.com", headers: send)
            #expect(response.status == 200 && response.echoName == "infra-backend-v1", "\(path): \(response.status) from \(response.echoName ?? "none")")
            #expect(response.echo["path"] as? String == path, "\(path): backend got path \(response.echo["path"] ?? "")")
            if modify {
                for (name, value) in ["x-header-add": "header-val-1", "x-header-add-append": "append-val-1,header-val-2", "x-header-set": "set-overwrites-values"] {
                    #expect(response.echoHeaders[name] == value, "\(path): backend got \(name): \(response.echoHeaders[name] ?? "none")")
                }
                #expect(response.echoHeaders["x-header-remove"] == nil, "\(path): backend got x-header-remove")
            }
            for mirror in mirrors {
                var copied = false
                for _ in 0..<100 where !copied {
                    copied = backends[mirror]!.requests.contains { $0.path == path && $0.query.contains(id) }
                    if !copied { try await Task.sleep(for: .milliseconds(50)) }
                }
                #expect(copied, "\(path): \(mirror) received no copy")
            }
        }
    }
}

extension UpstreamConformanceTests {
    /// Conformance: HTTPRouteRetry
    /// retry.codes and retry.attempts (conformance/tests/httproute-retry.yaml): every case of the
    /// upstream test, in its order. The backend fails a request (by its uuid) with responseCode
    /// succeedAfter times, then answers 200, as upstream's echo server does.
    @Test func retry() async throws {
        let (harness, backends) = try await Self.start(manifest: Self.retryManifest)
        defer { Task { await harness.stop(); for backend in backends.values { await backend.stop() } } }
        let cases: [(path: String, code: Int, succeedAfter: Int, status: Int)] = [
            ("/retry/code-500-attempts-3", 500, 2, 200), ("/retry/code-500-attempts-3", 500, 4, 500), ("/retry/code-500-attempts-3", 503, 2, 503),
            ("/retry/code-all-attempts-2", 500, 1, 200), ("/retry/code-all-attempts-2", 500, 3, 500),
            ("/retry/code-all-attempts-2", 502, 1, 200), ("/retry/code-all-attempts-2", 502, 3, 502),
            ("/retry/code-all-attempts-2", 503, 1, 200), ("/retry/code-all-attempts-2", 503, 3, 503),
            ("/retry/code-all-attempts-2", 504, 1, 200), ("/retry/code-all-attempts-2", 504, 3, 504),
        ]
        for (index, c) in cases.enumerated() {
            let uri = "\(c.path)?responseCode=\(c.code)&succeedAfter=\(c.succeedAfter)&uuid=\(UUID().uuidString)"
            let response = try await harness.send(uri, host: "example.com")
            #expect(response.status == c.status, "case \(index): \(uri): \(response.status) \(response.text)")
            #expect(response.headers.first(name: "x-echo-name") == "infra-backend-v3", "case \(index): answered by \(response.headers.first(name: "x-echo-name") ?? "the gateway")")
        }
    }

    /// Conformance: HTTPRouteRetryWithTimeouts
    /// retry with timeouts.backendRequest and timeouts.request (conformance/tests/httproute-retry-with-timeouts.yaml):
    /// every case of the upstream test, in its order; a failing answer comes after delayRetry.
    @Test func retryWithTimeouts() async throws {
        let (harness, backends) = try await Self.start(manifest: Self.retryWithTimeoutsManifest)
        defer { Task { await harness.stop(); for backend in backends.values { await backend.stop() } } }
        let cases: [(path: String, query: String, status: Int)] = [
            ("/retry/backend-request-timeout-200ms", "responseCode=500&succeedAfter=2&delayRetry=300ms", 200),
            ("/retry/backend-request-timeout-200ms", "responseCode=500&succeedAfter=3&delayRetry=300ms", 504),
            ("/retry/request-timeout-200ms", "responseCode=500&succeedAfter=1", 200),
            ("/retry/request-timeout-200ms", "responseCode=500&succeedAfter=4&delayRetry=100ms", 504),
        ]
        for (index, c) in cases.enumerated() {
            let uri = "\(c.path)?\(c.query)&uuid=\(UUID().uuidString)"
            let response = try await harness.send(uri, host: "example.com")
            #expect(response.status == c.status, "case \(index): \(uri): \(response.status) \(response.text)")
            if c.status == 200 { #expect(response.echoName == "infra-backend-v3", "case \(index): answered by \(response.echoName ?? "none")") }
        }
    }

    static let retryWithTimeoutsManifest = #"""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: retries-with-timeouts
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: same-namespace
  rules:
    - matches:
        - path:
            type: PathPrefix
            value: /retry/backend-request-timeout-200ms
      retry:
        attempts: 2
      timeouts:
        backendRequest: 200ms
      backendRefs:
        - name: infra-backend-v3
          port: 8080
    - matches:
        - path:
            type: PathPrefix
            value: /retry/request-timeout-200ms
      retry:
        codes:
          - 500
        attempts: 5
      timeouts:
        backendRequest: 200ms
        request: 400ms
      backendRefs:
        - name: infra-backend-v3
          port: 8080
"""#

    static let retryManifest = #"""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: retries
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: same-namespace
  rules:
    - matches:
        - path:
            type: PathPrefix
            value: /retry/code-500-attempts-3
      retry:
        codes:
          - 500
        attempts: 3
      backendRefs:
        - name: infra-backend-v3
          port: 8080
    - matches:
        - path:
            type: PathPrefix
            value: /retry/code-all-attempts-2
      retry:
        codes:
          - 500
          - 502
          - 503
          - 504
        attempts: 2
      backendRefs:
        - name: infra-backend-v3
          port: 8080
"""#
}

extension UpstreamConformanceTests {
    /// Conformance: HTTPRouteRequestPercentageMirror
    /// RequestMirror by percent (20), by fraction (25/50) and after a RequestHeaderModifier (35)
    /// (conformance/tests/httproute-request-percentage-mirror.yaml): over 500 requests of each case,
    /// infra-backend-v1 answers every one and infra-backend-v2 receives a number of copies within
    /// upstream's band (3 binomial standard deviations of the percentage).
    @Test func requestPercentageMirror() async throws {
        let (harness, backends) = try await Self.start(manifest: Self.requestPercentageMirrorManifest)
        defer { Task { await harness.stop(); for backend in backends.values { await backend.stop() } } }
        let client = try await harness.client()
        defer { Task { await client.close() } }
        for (path, percent) in [("/percent-mirror", 20.0), ("/percent-mirror-fraction", 50.0), ("/percent-mirror-and-modify-headers", 35.0)] {
            let modify = path.hasSuffix("-headers")
            let send: [(String, String)] = modify ? [("X-Header-Remove", "remove-val"), ("X-Header-Add-Append", "append-val-1")] : []
            for index in 0..<500 {
                let response = try await client.request(.GET, path, host: "example.com", headers: send)
                #expect(response.status == 200 && response.echoName == "infra-backend-v1", "\(path) request \(index): \(response.status)")
                if modify && index == 0 {
                    #expect(response.echoHeaders["x-header-set"] == "set-overwrites-values" && response.echoHeaders["x-header-add"] == "header-val-1"
                            && response.echoHeaders["x-header-add-append"] == "append-val-1,header-val-2" && response.echoHeaders["x-header-remove"] == nil,
                            "\(path): \(response.echoHeaders)")
                }
            }
            try await Task.sleep(for: .milliseconds(500))
            let copies = Double(backends["infra-backend-v2"]!.requests.filter { $0.path == path }.count)
            let p = percent / 100
            let margin = 3 * (500 * p * (1 - p)).squareRoot()
            #expect(abs(copies - 500 * p) <= margin, "\(path): \(copies) copies of 500 at \(percent)% (band ±\(margin))")
        }
    }

    static let requestPercentageMirrorManifest = #"""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: request-percentage-mirror
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /percent-mirror
    filters:
    - type: RequestMirror
      requestMirror:
        backendRef:
          name: infra-backend-v2
          namespace: gateway-conformance-infra
          port: 8080
        percent: 20
    backendRefs:
    - name: infra-backend-v1
      port: 8080
      namespace: gateway-conformance-infra
  - matches:
    - path:
        type: PathPrefix
        value: /percent-mirror-fraction
    filters:
    - type: RequestMirror
      requestMirror:
        backendRef:
          name: infra-backend-v2
          namespace: gateway-conformance-infra
          port: 8080
        fraction:
          numerator: 25
          denominator: 50
    backendRefs:
    - name: infra-backend-v1
      port: 8080
      namespace: gateway-conformance-infra
  - matches:
    - path:
        type: PathPrefix
        value: /percent-mirror-and-modify-headers
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set:
        - name: X-Header-Set
          value: set-overwrites-values
        add:
        - name: X-Header-Add
          value: header-val-1
        - name: X-Header-Add-Append
          value: header-val-2
        remove:
        - X-Header-Remove
    - type: RequestMirror
      requestMirror:
        backendRef:
          name: infra-backend-v2
          namespace: gateway-conformance-infra
          port: 8080
        percent: 35
    backendRefs:
    - name: infra-backend-v1
      port: 8080
      namespace: gateway-conformance-infra
"""#

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

/// A backend standing for upstream's echo server (conformance/echo-basic): it answers JSON like
/// EchoServer's (name, path, host, headers), sets the response headers a request's
/// X-Echo-Set-Header asks for ("Name:value,Name:value"), answers after `?delay=` (e.g. 1s, 500ms),
/// fails a request of `?uuid=` with `responseCode` its first `succeedAfter` times (after `delayRetry`), and remembers
/// every request.
final class ConformanceBackend: Sendable {
    struct Seen: Sendable {
        var path: String
        var query: String
        var headers: [String: String]
    }
    let name: String
    private let seen = NIOLockedValueBox<[Seen]>([])
    private let listener = LoopbackHTTPListener()

    init(name: String) { self.name = name }

    var requests: [Seen] { seen.withLockedValue { $0 } }

    func start(group: any EventLoopGroup) async throws -> Int {
        try await listener.start(group: group) { ConformanceBackendHandler(backend: self) }
    }

    func stop() async { await listener.stop() }

    fileprivate func record(_ entry: Seen) { seen.withLockedValue { $0.append(entry) } }

    /// How many requests with query parameter uuid=`id` came before this one.
    private let attempts = NIOLockedValueBox<[String: Int]>([:])
    fileprivate func attempt(_ id: String) -> Int {
        attempts.withLockedValue { counts in
            defer { counts[id, default: 0] += 1 }
            return counts[id, default: 0]
        }
    }
}

private final class ConformanceBackendHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let backend: ConformanceBackend
    var head: HTTPRequestHead?

    init(backend: ConformanceBackend) { self.backend = backend }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            let parts = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            let path = String(parts[0])
            let query = parts.count > 1 ? String(parts[1]) : ""
            var headers: [String: String] = [:]
            for (name, value) in head.headers {
                let key = name.lowercased()
                headers[key] = headers[key].map { "\($0),\(value)" } ?? value
            }
            backend.record(.init(path: path, query: query, headers: headers))
            let object: [String: Any] = ["name": backend.name, "path": path, "query": query, "host": head.headers.first(name: "host") ?? "", "headers": headers]
            let body = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
            var responseHeaders = HTTPHeaders([("content-type", "application/json"), ("content-length", String(body.count)), ("x-echo-name", backend.name)])
            for item in (head.headers.first(name: "x-echo-set-header") ?? "").split(separator: ",") {
                let pair = item.split(separator: ":", maxSplits: 1)
                if pair.count == 2 { responseHeaders.add(name: String(pair[0]), value: String(pair[1])) }
            }
            var delay = TimeAmount.zero
            for item in query.split(separator: "&") where item.hasPrefix("delay=") {
                let value = item.dropFirst("delay=".count)
                if value.hasSuffix("ms") { delay = .milliseconds(Int64(value.dropLast(2)) ?? 0) }
                else if value.hasSuffix("s") { delay = .seconds(Int64(value.dropLast()) ?? 0) }
            }
            var status = HTTPResponseStatus.ok
            let fields = Dictionary(query.split(separator: "&").map { item -> (String, String) in
                let pair = item.split(separator: "=", maxSplits: 1)
                return (String(pair[0]), pair.count > 1 ? String(pair[1]) : "")
            }, uniquingKeysWith: { first, _ in first })
            if let id = fields["uuid"], let code = fields["responseCode"].flatMap(Int.init), let after = fields["succeedAfter"].flatMap(Int.init),
               backend.attempt(id) < after {
                status = HTTPResponseStatus(statusCode: code)
                if let value = fields["delayRetry"], value.hasSuffix("ms") { delay = .milliseconds(Int64(value.dropLast(2)) ?? 0) }
            }
            let response = HTTPResponseHead(version: .http1_1, status: status, headers: responseHeaders)
            let bound = NIOLoopBound((context, self), eventLoop: context.eventLoop)
            let buffer = context.channel.allocator.buffer(bytes: body)
            context.eventLoop.scheduleTask(in: delay) {
                let (context, handler) = bound.value
                context.write(handler.wrapOutboundOut(.head(response)), promise: nil)
                context.write(handler.wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
                context.writeAndFlush(handler.wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
