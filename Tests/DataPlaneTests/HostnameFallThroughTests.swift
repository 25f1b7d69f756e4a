import Testing

/// A request matches a rule when both its host and its match do, across every route on the listener.
/// A route that claims one exact host for one path (cert-manager's HTTP-01 solver route, an ACME
/// challenge) must not hide the catch-all route's rules for that host's other paths.
@Suite(.timeLimit(.minutes(1)))
struct HostnameFallThroughTests {
    static let config = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: GatewayClass
        metadata: {name: archway}
        spec: {controllerName: archway.dev/gateway-controller}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: web, namespace: default}
        spec:
          gatewayClassName: archway
          listeners: [{name: http, protocol: HTTP, port: 80}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: to-https, namespace: default}
        spec:
          parentRefs: [{name: web}]
          rules: [{filters: [{type: RequestRedirect, requestRedirect: {scheme: https, statusCode: 301}}]}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: wildcard, namespace: default}
        spec:
          parentRefs: [{name: web}]
          hostnames: ["*.example.com"]
          rules: [{matches: [{path: {type: PathPrefix, value: /docs}}], filters: [{type: RequestRedirect, requestRedirect: {hostname: docs.example, statusCode: 302}}]}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: solver, namespace: default}
        spec:
          parentRefs: [{name: web}]
          hostnames: [app.example.com]
          rules: [{matches: [{path: {type: Exact, value: /.well-known/acme-challenge/token}}], filters: [{type: RequestRedirect, requestRedirect: {hostname: solver.example, statusCode: 302}}]}]
        """

    @Test func anExactHostsRouteFallsThroughToTheWildcardAndCatchAllRules() async throws {
        let harness = GatewayHarness()
        try harness.write("gw.yaml", Self.config)
        try await harness.start()
        defer { Task { await harness.stop() } }
        let client = try await harness.client()
        defer { Task { await client.close() } }
        let challenge = try await client.request(.GET, "/.well-known/acme-challenge/token", host: "app.example.com")
        #expect(challenge.status == 302 && challenge.headers["location"].first == "http://solver.example/.well-known/acme-challenge/token")
        // The wildcard route's rule, then the catch-all's, for the same host's other paths.
        let docs = try await client.request(.GET, "/docs/a", host: "app.example.com")
        #expect(docs.status == 302 && docs.headers["location"].first == "http://docs.example/docs/a", "\(docs.status)")
        let other = try await client.request(.GET, "/other", host: "app.example.com")
        #expect(other.status == 301 && other.headers["location"].first == "https://app.example.com/other", "\(other.status)")
        // Another host never sees the solver's rule.
        let elsewhere = try await client.request(.GET, "/.well-known/acme-challenge/token", host: "www.example.com")
        #expect(elsewhere.status == 301, "\(elsewhere.status)")
    }
}
