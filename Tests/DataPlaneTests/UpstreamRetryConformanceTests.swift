import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Testing

/// The upstream conformance tests of HTTPRoute retry.
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
