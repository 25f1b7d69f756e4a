import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Testing

/// The upstream conformance tests of response header edits and of request and backend timeouts.
extension UpstreamConformanceTests {
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
}
