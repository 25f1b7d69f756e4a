import ArchwayCore
import Foundation
import Testing
import Translator

/// A Cilium Ingress and an APISIX Ingress Controller Ingress each served by archway itself and,
/// converted by `archway migrate`, as Gateway API routes, at once: real curl requests get the same
/// answers from both — Cilium's path types and https redirect; APISIX's regex rewrite, methods,
/// CORS, use-regex paths and fixed redirect — and an Ingress with an APISIX allow list is refused
/// side by side rather than served open.
@Suite struct CiliumAPISIXSideBySideTests {
    static func served(_ backend: String, _ path: String, headers: [String: String] = [:]) -> SideBySide.Response {
        .init(status: "200", headers: headers, backend: backend, path: path)
    }

    @Test func ciliumIngressServedDirectlyAndConvertedAnswersAlike() async throws {
        let harness = GatewayHarness()
        defer { Task { await harness.stop() } }
        let services = try await harness.startBackendServices("exactpath", "prefixpath", "implpath")
        let host = "pathtypes.example.com"
        let both = try await SideBySide(harness, hosts: [host], secrets: ["pathtypes-tls"], manifests: Manifests.join(SideBySide.ingressClass(), """
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: multiple-path-types
              namespace: default
              annotations:
                ingress.cilium.io/force-https: "enabled"
                ingress.cilium.io/request-timeout: "30s"
                ingress.cilium.io/loadbalancer-mode: "shared"
            spec:
              ingressClassName: archway
              tls: [{hosts: [\(host)], secretName: pathtypes-tls}]
              rules:
              - host: \(host)
                http:
                  paths:
                  - {path: /exact, pathType: Exact, backend: {service: {name: exactpath, port: {number: 80}}}}
                  - {path: /, pathType: Prefix, backend: {service: {name: prefixpath, port: {number: 80}}}}
                  - {path: /impl.+, pathType: ImplementationSpecific, backend: {service: {name: implpath, port: {number: 80}}}}
            """, services))
        #expect(both.verifySummary.hasSuffix(" 0 not") || both.verifySummary.hasSuffix(", 0 differ"), "\(both.verifySummary)")
        let cases: [(String, String, SideBySide.Response)] = [
            ("https", "/exact", Self.served("exactpath", "/exact")),
            ("https", "/exact/more", Self.served("prefixpath", "/exact/more")),
            ("https", "/implementation", Self.served("implpath", "/implementation")),
            // `/impl.+` needs a character after /impl: the whole-path regex does not take /impl itself.
            ("https", "/impl", Self.served("prefixpath", "/impl")),
            // force-https: Envoy's https_redirect answers 301.
            ("http", "/implementation?x=1", .init(status: "301", location: "https://pathtypes.example.com/implementation?x=1")),
        ]
        for (scheme, path, expected) in cases { try await both.expectBoth(scheme, host: host, path, [], expected) }
    }


    @Test func apisixIngressServedDirectlyAndConvertedAnswersAlike() async throws {
        let harness = GatewayHarness()
        defer { Task { await harness.stop() } }
        let services = try await harness.startBackendServices("app", "action")
        let both = try await SideBySide(harness, hosts: ["web.example.com"], secrets: [], manifests: Manifests.join(SideBySide.ingressClass(), """
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: app
              namespace: default
              annotations:
                k8s.apisix.apache.org/rewrite-target-regex: "^/app/(.*)"
                k8s.apisix.apache.org/rewrite-target-regex-template: "/$1"
                k8s.apisix.apache.org/http-allow-methods: "GET,POST"
                k8s.apisix.apache.org/enable-cors: "true"
                k8s.apisix.apache.org/cors-allow-origin: "https://app.example.com"
            spec:
              ingressClassName: archway
              rules:
              - host: web.example.com
                http:
                  paths:
                  - {path: /app, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: search
              namespace: default
              annotations: {k8s.apisix.apache.org/use-regex: "true"}
            spec:
              ingressClassName: archway
              rules:
              - host: web.example.com
                http:
                  paths:
                  - {path: "/api/.*/action1", pathType: ImplementationSpecific, backend: {service: {name: action, port: {number: 80}}}}
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: moved
              namespace: default
              annotations:
                k8s.apisix.apache.org/http-redirect: "https://new.example.com/"
                k8s.apisix.apache.org/http-redirect-code: "302"
            spec:
              ingressClassName: archway
              rules:
              - host: old.example.com
                http:
                  paths:
                  - {path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: office
              namespace: default
              annotations: {k8s.apisix.apache.org/allowlist-source-range: "10.0.0.0/8"}
            spec:
              ingressClassName: archway
              rules:
              - host: office.example.com
                http:
                  paths:
                  - {path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}
            """, services))
        #expect(both.verifySummary.hasSuffix(" 0 not") || both.verifySummary.hasSuffix(", 0 differ"), "\(both.verifySummary)")
        let origin = ["access-control-allow-origin"]
        let cases: [(String, String, [String], SideBySide.Response)] = [
            ("web.example.com", "/app/ip", [], Self.served("app", "/ip")),
            ("web.example.com", "/app/ip", ["-X", "POST"], Self.served("app", "/ip")),
            // Methods outside the allow list: no rule takes them (APISIX's 405 is the report's "partly").
            ("web.example.com", "/app/ip", ["-X", "PUT"], .init(status: "404")),
            ("web.example.com", "/app/ip", ["-H", "Origin: https://app.example.com"],
             Self.served("app", "/ip", headers: ["access-control-allow-origin": "https://app.example.com"])),
            // use-regex: the regex is searched anywhere in the path.
            ("web.example.com", "/v1/api/x/action1", [], Self.served("action", "/v1/api/x/action1")),
            ("old.example.com", "/anything", [], .init(status: "302", location: "https://new.example.com/")),
        ]
        for (host, path, arguments, expected) in cases {
            try await both.expectBoth("http", host: host, path, arguments, headers: origin, expected)
        }
        // The allow list is not enforced side by side: refused (500), never served open; converted, it is an IPAllowList (403 here).
        #expect(try await both.request(.ingress, "http", host: "office.example.com", "/").status == "500")
        #expect(try await both.request(.gateway, "http", host: "office.example.com", "/").status == "403")
    }
}
