import Foundation
import NIOCore
import Testing

/// The HTTPRoute CORS filter as a browser meets it: preflights answered at the gateway, allowed
/// origins echoed on real responses, other origins refused.
@Suite(.timeLimit(.minutes(2)))
struct CORSTests {
    /// On the fast lane and on the general path: both decide with `CORSPhase.decide`.
    @Test(arguments: [true, false]) func preflightsAreAnsweredAndResponsesCarryTheOrigin(fastLane: Bool) async throws {
        let harness = GatewayHarness()
        harness.fastLane = fastLane
        try await harness.startBackend("api")
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(),
            Manifests.service("api", targetPort: harness.backendPorts["api"]!),
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: api}
            spec:
              parentRefs: [{name: gw}]
              hostnames: [api.example.com]
              rules:
              - matches: [{path: {type: PathPrefix, value: /strict}}]
                filters:
                - type: CORS
                  cors:
                    allowOrigins: ["https://www.foo.com", "https://*.bar.com"]
                    allowMethods: [GET, OPTIONS]
                    allowHeaders: [x-header-1, x-header-2]
                    exposeHeaders: [x-header-3]
                    allowCredentials: true
                    maxAge: 3600
                backendRefs: [{name: api, port: 80}]
              - matches: [{path: {type: PathPrefix, value: /open}}]
                filters: [{type: CORS, cors: {allowOrigins: ["*"], allowMethods: ["*"], allowHeaders: ["*"]}}]
                backendRefs: [{name: api, port: 80}]
            """))
        try await harness.start()
        defer { Task { await harness.stop() } }

        let preflight = try await harness.send(.OPTIONS, "/strict/items", host: "api.example.com", headers: [
            ("Origin", "https://xpto.www.bar.com"), ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "x-header-1")])
        #expect(preflight.status == 200)
        #expect(preflight.headers.first(name: "access-control-allow-origin") == "https://xpto.www.bar.com", "a wildcard origin takes any subdomain depth")
        #expect(preflight.headers.first(name: "access-control-allow-methods") == "GET, OPTIONS")
        #expect(preflight.headers.first(name: "access-control-allow-headers") == "x-header-1, x-header-2")
        #expect(preflight.headers.first(name: "access-control-max-age") == "3600")
        #expect(preflight.headers.first(name: "access-control-allow-credentials") == "true")
        #expect(preflight.echoName == nil, "the preflight never reaches the backend")

        let refused = try await harness.send(.OPTIONS, "/strict/items", host: "api.example.com", headers: [
            ("Origin", "https://foobar.com"), ("Access-Control-Request-Method", "GET")])
        #expect(refused.status == 403 && !refused.headers.contains(name: "access-control-allow-origin"))
        #expect(refused.text.contains("origin https://foobar.com is not allowed"))

        let simple = try await harness.send("/strict/items", host: "api.example.com", headers: [("Origin", "https://www.foo.com")])
        #expect(simple.status == 200 && simple.echoName == "api")
        #expect(simple.headers.first(name: "access-control-allow-origin") == "https://www.foo.com")
        #expect(simple.headers.first(name: "access-control-expose-headers") == "x-header-3")
        #expect(simple.headers["vary"].contains("Origin"))

        let stranger = try await harness.send("/strict/items", host: "api.example.com", headers: [("Origin", "https://evil.example")])
        #expect(stranger.status == 200 && !stranger.headers.contains(name: "access-control-allow-origin"),
                "a simple request from another origin is served, but the browser is not told it may read it")

        let open = try await harness.send(.OPTIONS, "/open", host: "api.example.com", headers: [
            ("Origin", "https://foobar.com:12345"), ("Access-Control-Request-Method", "PUT"), ("Access-Control-Request-Headers", "x-a")])
        #expect(open.headers.first(name: "access-control-allow-origin") == "https://foobar.com:12345")
        #expect(open.headers.first(name: "access-control-allow-methods") == "PUT")
        #expect(open.headers.first(name: "access-control-allow-headers") == "x-a")
        #expect(!open.headers.contains(name: "access-control-allow-credentials"))
        #expect(open.headers.first(name: "access-control-max-age") == "5", "the spec's default max age")

        let plainOptions = try await harness.send(.OPTIONS, "/open", host: "api.example.com")
        #expect(plainOptions.echoName == "api", "without Origin an OPTIONS request is the backend's business")
    }
}
