import Foundation
import NIOCore
import Testing

/// Real client → archway → real echo backends, over loopback sockets.
@Suite(.timeLimit(.minutes(2)))
struct RoutingTests {
    /// The seed playbook's routes: host, path prefix, header blue/green, cross-namespace with a grant.
    /// However a path is spelled, it is matched and forwarded in its normal form (PathNormalization).
    @Test func spellingsOfAPathRouteTheSame() async throws {
        let harness = GatewayHarness()
        for name in ["admin", "public"] { try await harness.startBackend(name) }
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(),
            Manifests.service("admin", targetPort: harness.backendPorts["admin"]!),
            Manifests.service("public", targetPort: harness.backendPorts["public"]!),
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: split}
            spec:
              parentRefs: [{name: gw}]
              rules:
              - matches: [{path: {type: PathPrefix, value: /admin}}]
                backendRefs: [{name: admin, port: 80}]
              - backendRefs: [{name: public, port: 80}]
            """))
        try await harness.start()
        defer { Task { await harness.stop() } }
        for spelling in ["/public/../admin/x", "//admin/x", "/%61dmin/x", "/p/%2e%2e/admin/x", "/./admin//x"] {
            let response = try await harness.send(spelling, host: "n.example.com")
            #expect(response.echoName == "admin" && response.echo["path"] as? String == "/admin/x", "\(spelling): \(response.text)")
        }
        // Refused and closed: read on a raw socket, as the gateway may close before a client finishes writing.
        let socket = try BlockingSocket(port: harness.port, timeout: 3)
        socket.send("GET /admin%2Fx HTTP/1.1\r\nHost: n.example.com\r\n\r\n")
        let refused = String(decoding: socket.receiveAll(), as: UTF8.self)
        #expect(refused.hasPrefix("HTTP/1.1 400") && refused.contains("encoded slash"), "\(refused)")
    }

    @Test func routesByHostPathAndHeader() async throws {
        let harness = GatewayHarness()
        for name in ["frontend", "api-v1", "app-blue", "app-green", "backend-svc"] { try await harness.startBackend(name) }
        let ports = harness.backendPorts
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(namespace: "platform"),
            Manifests.service("frontend", namespace: "apps", targetPort: ports["frontend"]!),
            Manifests.service("api-v1", namespace: "apps", targetPort: ports["api-v1"]!),
            Manifests.service("app-blue", namespace: "apps", targetPort: ports["app-blue"]!),
            Manifests.service("app-green", namespace: "apps", targetPort: ports["app-green"]!),
            Manifests.service("backend-svc", namespace: "backend", targetPort: ports["backend-svc"]!),
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: frontend-route, namespace: apps}
            spec:
              parentRefs: [{name: gw, namespace: platform}]
              hostnames: [frontend.example.com]
              rules: [{backendRefs: [{name: frontend, port: 80}]}]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: api-route, namespace: apps}
            spec:
              parentRefs: [{name: gw, namespace: platform}]
              hostnames: [api.example.com]
              rules:
              - matches: [{path: {type: PathPrefix, value: /api}}]
                backendRefs: [{name: api-v1, port: 80}]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: blue-green, namespace: apps}
            spec:
              parentRefs: [{name: gw, namespace: platform}]
              hostnames: [app.example.com]
              rules:
              - matches: [{headers: [{name: X-Canary, value: "true"}]}]
                backendRefs: [{name: app-green, port: 80}]
              - matches: [{path: {type: Exact, value: /only-get}, method: GET}, {queryParams: [{name: v, type: RegularExpression, value: "g.*"}]}]
                backendRefs: [{name: app-green, port: 80}]
              - backendRefs: [{name: app-blue, port: 80}]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: cross, namespace: apps}
            spec:
              parentRefs: [{name: gw, namespace: platform}]
              hostnames: [backend.example.com, refused.example.com]
              rules:
              - matches: [{path: {type: PathPrefix, value: /granted}}]
                backendRefs: [{name: backend-svc, namespace: backend, port: 80}]
            ---
            apiVersion: gateway.networking.k8s.io/v1beta1
            kind: ReferenceGrant
            metadata: {name: apps-routes, namespace: backend}
            spec:
              from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: apps}]
              to: [{group: "", kind: Service, name: backend-svc}]
            """))
        try await harness.start()
        defer { Task { await harness.stop() } }

        let frontend = try await harness.send("/hello?x=1", host: "frontend.example.com")
        #expect(frontend.status == 200 && frontend.echoName == "frontend")
        #expect(frontend.echo["path"] as? String == "/hello" && frontend.echo["query"] as? String == "x=1")
        #expect(try await harness.send("/api/users", host: "api.example.com").echoName == "api-v1")
        #expect(try await harness.send("/API/users", host: "api.example.com").status == 404)
        #expect(try await harness.send("/apiary", host: "api.example.com").status == 404)
        #expect(try await harness.send("/", host: "app.example.com", headers: [("X-Canary", "true")]).echoName == "app-green")
        #expect(try await harness.send("/", host: "app.example.com", headers: [("x-canary", "false")]).echoName == "app-blue")
        #expect(try await harness.send("/only-get", host: "APP.example.com:80").echoName == "app-green")
        #expect(try await harness.send(.POST, "/only-get", host: "app.example.com").echoName == "app-blue")
        #expect(try await harness.send("/x?v=green", host: "app.example.com").echoName == "app-green")
        #expect(try await harness.send("/granted/x", host: "backend.example.com").echoName == "backend-svc")
        let unknownHost = try await harness.send("/", host: "unknown.example.com")
        #expect(unknownHost.status == 404 && unknownHost.text.contains("unknown.example.com"))
    }

    /// Weighted backendRefs: 1000 requests split 90/10 within ±5 points.
    @Test func weightedSplit() async throws {
        let harness = GatewayHarness()
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(),
            try await harness.startBackendServices("v1", "v2"),
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: canary}
            spec:
              parentRefs: [{name: gw}]
              rules:
              - backendRefs: [{name: v1, port: 80, weight: 90}, {name: v2, port: 80, weight: 10}, {name: v2, port: 80, weight: 0}]
            """))
        try await harness.start()
        defer { Task { await harness.stop() } }
        var counts: [String: Int] = [:]
        let clients = [try await harness.client(), try await harness.client()]
        for index in 0..<1000 {
            let response = try await clients[index % 2].request(.GET, "/", host: "canary.example.com")
            counts[response.echoName ?? "error", default: 0] += 1
        }
        for client in clients { await client.close() }
        #expect(counts["error"] == nil)
        #expect((850...950).contains(counts["v1"] ?? 0), "v1 got \(counts["v1"] ?? 0) of 1000")
        #expect((50...150).contains(counts["v2"] ?? 0), "v2 got \(counts["v2"] ?? 0) of 1000")
    }

    /// Filters: request/response header modifiers, URL rewrite (host and prefix), redirect.
    @Test func filters() async throws {
        let harness = GatewayHarness()
        try await harness.startBackend("svc")
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(),
            Manifests.service("svc", targetPort: harness.backendPorts["svc"]!),
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: filters}
            spec:
              parentRefs: [{name: gw}]
              hostnames: [f.example.com]
              rules:
              - matches: [{path: {type: PathPrefix, value: /headers}}]
                filters:
                - type: RequestHeaderModifier
                  requestHeaderModifier:
                    set: [{name: X-Set, value: set-value}]
                    add: [{name: X-Add, value: added}]
                    remove: [X-Remove]
                - type: ResponseHeaderModifier
                  responseHeaderModifier:
                    add: [{name: X-Response, value: from-gateway}]
                    remove: [X-Echo-Name]
                backendRefs: [{name: svc, port: 80}]
              - matches: [{path: {type: PathPrefix, value: /old}}]
                filters: [{type: URLRewrite, urlRewrite: {hostname: internal.example.com, path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}}]
                backendRefs: [{name: svc, port: 80}]
              - matches: [{path: {type: PathPrefix, value: /secure}}]
                filters: [{type: RequestRedirect, requestRedirect: {scheme: https, statusCode: 301}}]
            """))
        try await harness.start()
        defer { Task { await harness.stop() } }

        let headers = try await harness.send("/headers", host: "f.example.com",
                                             headers: [("X-Set", "original"), ("X-Add", "first"), ("X-Remove", "gone")])
        #expect(headers.echoHeaders["x-set"] == "set-value")
        #expect(headers.echoHeaders["x-add"] == "first,added")
        #expect(headers.echoHeaders["x-remove"] == nil)
        #expect(headers.headers.first(name: "x-response") == "from-gateway")
        #expect(headers.headers.first(name: "x-echo-name") == nil)

        let rewritten = try await harness.send("/old/page?q=1", host: "f.example.com")
        #expect(rewritten.echo["path"] as? String == "/new/page")
        #expect(rewritten.echo["query"] as? String == "q=1")
        #expect(rewritten.echo["host"] as? String == "internal.example.com")

        let redirect = try await harness.send("/secure/login?next=/", host: "f.example.com")
        #expect(redirect.status == 301)
        #expect(redirect.headers.first(name: "location") == "https://f.example.com/secure/login?next=/")
    }

    /// The proxy sets X-Forwarded-* and Forwarded, drops hop-by-hop headers, keeps the Host.
    @Test func forwardingHeaders() async throws {
        let harness = try await GatewayHarness.startWithOneRoute()
        defer { Task { await harness.stop() } }
        let response = try await harness.send("/", host: "h.example.com",
                                              headers: [("X-Forwarded-For", "203.0.113.9"), ("Connection", "keep-alive, X-Private"), ("X-Private", "secret")])
        let headers = response.echoHeaders
        #expect(headers["x-forwarded-for"] == "203.0.113.9, 127.0.0.1")
        #expect(headers["x-forwarded-proto"] == "http")
        #expect(headers["x-forwarded-host"] == "h.example.com")
        #expect(headers["forwarded"] == "for=127.0.0.1;proto=http;host=\"h.example.com\"")
        #expect(headers["host"] == "h.example.com")
        #expect(headers["x-private"] == nil && headers["connection"] == nil)
    }
}
