import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Testing

/// The upstream conformance tests of URLRewrite and of header filters on weighted backendRefs.
extension UpstreamConformanceTests {
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
}
