import ArchwayCore
import Foundation
import Testing
import Translator

/// A Traefik Ingress with Middlewares served by archway itself and, converted by `archway migrate`,
/// as Gateway API routes, at once: real curl requests get the same answers from both — the
/// redirectScheme redirect, stripPrefix with X-Forwarded-Prefix, header edits and security headers,
/// Traefik's string-prefix path where Gateway API's differs only as the verifier says — and an
/// Ingress behind basicAuth is refused side by side rather than served open.
@Suite struct TraefikSideBySideTests {
    static let host = "web.example.com"

    static func manifests() -> String {
        """
        \(SideBySide.ingressClass())
        ---
        apiVersion: traefik.io/v1alpha1
        kind: Middleware
        metadata: {name: strip-api, namespace: default}
        spec: {stripPrefix: {prefixes: [/api]}}
        ---
        apiVersion: traefik.io/v1alpha1
        kind: Middleware
        metadata: {name: secure-headers, namespace: default}
        spec: {headers: {customRequestHeaders: {X-Team: web}, customResponseHeaders: {X-Echo-Name: ""}, frameDeny: true}}
        ---
        apiVersion: traefik.io/v1alpha1
        kind: Middleware
        metadata: {name: to-https, namespace: default}
        spec: {redirectScheme: {scheme: https, permanent: true}}
        ---
        apiVersion: traefik.io/v1alpha1
        kind: Middleware
        metadata: {name: users-only, namespace: default}
        spec: {basicAuth: {secret: web-users}}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: web
          namespace: default
          annotations:
            traefik.ingress.kubernetes.io/router.middlewares: "default-to-https@kubernetescrd,default-strip-api@kubernetescrd,default-secure-headers@kubernetescrd"
        spec:
          ingressClassName: archway
          tls: [{hosts: [\(host)], secretName: web-tls}]
          rules:
          - host: \(host)
            http:
              paths:
              - {path: /api, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: admin
          namespace: default
          annotations: {traefik.ingress.kubernetes.io/router.middlewares: "default-users-only@kubernetescrd"}
        spec:
          ingressClassName: archway
          rules:
          - host: admin.example.com
            http:
              paths:
              - {path: /, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}
        """
    }

    @Test func traefikIngressServedDirectlyAndConvertedAnswersAlike() async throws {
        let harness = GatewayHarness()
        defer { Task { await harness.stop() } }
        let services = try await harness.startBackendServices("api")
        let users = try ExternalTool.run("htpasswd", ["-nbB", "alice", "s3cret"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: web-users, namespace: default}\nstringData: {users: \"\(users)\"}"
        let both = try await SideBySide(harness, hosts: [Self.host], secrets: ["web-tls"], manifests: Manifests.join(Self.manifests(), services, secret))

        func served(_ path: String) -> SideBySide.Response {
            .init(status: "200", headers: ["x-frame-options": "DENY"], backend: "api", path: path, requestHeaders: ["x-team": "web", "x-forwarded-prefix": "/api"])
        }
        let cases: [(String, String, SideBySide.Response)] = [
            ("https", "/api/users?x=1", served("/users")),
            ("https", "/api", served("/")),
            ("http", "/api/users", .init(status: "301", location: "https://\(Self.host)/api/users")),
            ("https", "/other", .init(status: "404")),
        ]
        for (scheme, path, expected) in cases {
            try await both.expectBoth(scheme, host: Self.host, path, headers: ["x-frame-options", "x-echo-name"],
                                      requestHeaders: ["x-team", "x-forwarded-prefix"], expected)
        }
        // Traefik's PathPrefix(`/api`) also takes /apiv2; the converted PathPrefix does not (the verifier's accepted difference).
        #expect(try await both.request(.ingress, "https", host: Self.host, "/apiv2").status == "200")
        #expect(try await both.request(.gateway, "https", host: Self.host, "/apiv2").status == "404")
        // basicAuth: refused side by side, enforced once converted.
        #expect(try await both.request(.ingress, "http", host: "admin.example.com", "/").status == "500")
        #expect(try await both.request(.gateway, "http", host: "admin.example.com", "/").status == "401")
        #expect(try await both.request(.gateway, "http", host: "admin.example.com", "/", ["-u", "alice:s3cret"]).status == "200")
    }
}
