import ArchwayCore
import Foundation
import Testing
import Translator

/// A Kong Ingress Controller Ingress (`konghq.com/*`, KongPlugins) served by archway itself and,
/// converted by `archway migrate`, as Gateway API routes, at once: real curl requests get the same
/// answers from both — method and header conditions, strip-path, a host alias, the https redirect
/// code, the cors plugin — and an Ingress guarded by key-auth is refused rather than served open.
@Suite struct KongSideBySideTests {
    static let host = "api.example.com"

    static func manifests() -> String {
        """
        \(SideBySide.ingressClass())
        ---
        apiVersion: configuration.konghq.com/v1
        kind: KongPlugin
        metadata: {name: cors, namespace: default}
        plugin: cors
        config: {origins: ["https://app.example.com"], methods: [GET, POST], max_age: 600}
        ---
        apiVersion: configuration.konghq.com/v1
        kind: KongPlugin
        metadata: {name: keys, namespace: default}
        plugin: key-auth
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: api
          namespace: default
          annotations:
            konghq.com/methods: "GET,OPTIONS"
            konghq.com/headers.x-version: "v2"
            konghq.com/strip-path: "true"
            konghq.com/host-aliases: "api2.example.com"
            konghq.com/protocols: "https"
            konghq.com/https-redirect-status-code: "308"
            konghq.com/plugins: "cors"
        spec:
          ingressClassName: archway
          tls: [{hosts: [\(host)], secretName: api-tls}]
          rules:
          - host: \(host)
            http:
              paths:
              - {path: /users, pathType: Prefix, backend: {service: {name: users, port: {number: 80}}}}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: guarded-api-keys, namespace: default}
        stringData: {ci-robot: k3y-0f-the-robot}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: guarded
          namespace: default
          annotations: {konghq.com/plugins: "keys"}
        spec:
          ingressClassName: archway
          rules:
          - host: guarded.example.com
            http:
              paths:
              - {path: /, pathType: Prefix, backend: {service: {name: users, port: {number: 80}}}}
        """
    }

    @Test func kongIngressServedDirectlyAndConvertedAnswersAlike() async throws {
        let harness = GatewayHarness()
        defer { Task { await harness.stop() } }
        let services = try await harness.startBackendServices("users")
        let both = try await SideBySide(harness, hosts: [Self.host], secrets: ["api-tls"], manifests: Manifests.join(Self.manifests(), services))
        #expect(both.verifySummary.hasSuffix(" 0 not") || both.verifySummary.hasSuffix(", 0 differ"), "\(both.verifySummary)")

        let version = ["-H", "X-Version: v2"]
        let cases: [(String, String, String, [String], SideBySide.Response)] = [
            ("https", Self.host, "/users/7", version, .init(status: "200", backend: "users", path: "/7")),
            ("https", Self.host, "/users", version, .init(status: "200", backend: "users", path: "/")),
            ("https", Self.host, "/users/7", [], .init(status: "404")),
            ("https", Self.host, "/users/7", version + ["-X", "POST"], .init(status: "404")),
            ("http", Self.host, "/users/7", version, .init(status: "308", location: "https://\(Self.host)/users/7")),
            ("http", "api2.example.com", "/users/7", version, .init(status: "308", location: "https://api2.example.com/users/7")),
            ("https", Self.host, "/users/7", version + ["-H", "Origin: https://app.example.com"],
             .init(status: "200", headers: ["access-control-allow-origin": "https://app.example.com"], backend: "users", path: "/7")),
        ]
        for (scheme, host, path, arguments, expected) in cases {
            try await both.expectBoth(scheme, host: host, path, arguments, headers: ["access-control-allow-origin"], expected)
        }
        // key-auth is not enforced by the side-by-side serving: refused (500), never served open.
        #expect(try await both.request(.ingress, "http", host: "guarded.example.com", "/").status == "500")
        // Converted, key-auth is the APIKeyAuth policy reading the key from the header Kong read it from.
        #expect(try await both.request(.gateway, "http", host: "guarded.example.com", "/").status == "401")
        let keyed = try await both.request(.gateway, "http", host: "guarded.example.com", "/x", ["-H", "apikey: k3y-0f-the-robot"])
        #expect(keyed.status == "200" && keyed.path == "/x")
    }
}
