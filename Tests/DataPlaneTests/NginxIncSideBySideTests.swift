import ArchwayCore
import Foundation
import Testing
import Translator

/// An F5 NGINX Ingress Controller Ingress (`nginx.org/*`) served by archway itself and, converted
/// by `archway migrate`, as Gateway API routes, at once: real curl requests get the same answers
/// from both — redirects with NGINX's codes, rewritten paths and set headers at the backend, HSTS
/// and hidden headers in the responses.
@Suite struct NginxIncSideBySideTests {
    static let host = "cafe.example.com"

    static func ingress() -> String {
        """
        \(SideBySide.ingressClass())
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: cafe
          namespace: default
          annotations:
            nginx.org/rewrites: "serviceName=tea rewrite=/"
            nginx.org/proxy-set-headers: "X-Forwarded-ABC: abc"
            nginx.org/proxy-hide-headers: "X-Echo-Name"
            nginx.org/hsts: "true"
            nginx.org/redirect-to-https: "true"
        spec:
          ingressClassName: archway
          tls: [{hosts: [\(host)], secretName: cafe-tls}]
          rules:
          - host: \(host)
            http:
              paths:
              - {path: /tea/, pathType: Prefix, backend: {service: {name: tea, port: {number: 80}}}}
              - {path: /coffee, pathType: Prefix, backend: {service: {name: coffee, port: {number: 80}}}}
        """
    }

    @Test func nginxIncIngressServedDirectlyAndConvertedAnswersAlike() async throws {
        let harness = GatewayHarness()
        defer { Task { await harness.stop() } }
        let services = try await harness.startBackendServices("tea", "coffee")
        let both = try await SideBySide(harness, hosts: [Self.host], secrets: ["cafe-tls"], manifests: Manifests.join(Self.ingress(), services))
        #expect(both.verifySummary.hasSuffix(" 0 not") || both.verifySummary.hasSuffix(", 0 differ"), "\(both.verifySummary)")
        #expect(!both.migration.stderr.contains { $0.contains("nginx.org/") && $0.contains("not mapped") })

        let asked = (headers: ["strict-transport-security", "x-echo-name"], request: ["x-forwarded-abc"])
        func served(_ backend: String, _ path: String) -> SideBySide.Response {
            .init(status: "200", headers: ["strict-transport-security": "max-age=2592000"], backend: backend, path: path, requestHeaders: ["x-forwarded-abc": "abc"])
        }
        let cases: [(String, String, [String], SideBySide.Response)] = [
            ("https", "/tea/green?x=1", [], served("tea", "/green")),
            ("https", "/coffee/arabica", [], served("coffee", "/coffee/arabica")),
            // nginx's auto_redirect of a "/tea/" location.
            ("https", "/tea", [], .init(status: "301", location: "https://\(Self.host)/tea/")),
            // ssl-redirect (default on for a TLS host), and redirect-to-https behind a TLS-offloading balancer.
            ("http", "/coffee/x", [], .init(status: "301", location: "https://\(Self.host)/coffee/x")),
            ("https", "/coffee/x", ["-H", "X-Forwarded-Proto: http"], .init(status: "301", location: "https://\(Self.host)/coffee/x")),
            ("https", "/juice", [], .init(status: "404")),
        ]
        for (scheme, path, arguments, expected) in cases {
            try await both.expectBoth(scheme, host: Self.host, path, arguments, headers: asked.headers, requestHeaders: asked.request, expected)
        }
    }
}
