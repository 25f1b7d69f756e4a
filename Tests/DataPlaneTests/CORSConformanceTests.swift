import Foundation
import NIOHTTP1
import Testing

/// Upstream HTTPRouteCORS, case by case: four routes (an origin list with a subdomain wildcard and
/// credentials; `allowMethods: ["*"]`; origin `*` without credentials; origin, methods and headers
/// all `*`, once with credentials and once without) and the preflights and plain requests a browser
/// sends to them. Where upstream accepts either of two answers (a list in any order, `*` or the
/// echoed origin), so does this test: they mean the same to a browser.
@Suite(.timeLimit(.minutes(2)))
struct CORSConformanceTests {
    static let routes = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: cors-multiple-origins-methods-headers}
        spec:
          parentRefs: [{name: gw}]
          rules:
          - matches: [{path: {type: PathPrefix, value: /cors-1}}]
            filters:
            - type: CORS
              cors:
                allowOrigins: ["https://www.foo.com", "https://*.bar.com"]
                allowMethods: [GET, OPTIONS]
                allowHeaders: [x-header-1, x-header-2]
                exposeHeaders: [x-header-3, x-header-4]
                allowCredentials: true
                maxAge: 3600
            backendRefs: [{name: infra-backend-v1, port: 80}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: cors-wildcard-methods}
        spec:
          parentRefs: [{name: gw}]
          rules:
          - matches: [{path: {type: PathPrefix, value: /cors-2}}]
            filters: [{type: CORS, cors: {allowOrigins: ["https://www.foo.com"], allowMethods: ["*"]}}]
            backendRefs: [{name: infra-backend-v1, port: 80}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: cors-wildcard-origin}
        spec:
          parentRefs: [{name: gw}]
          rules:
          - matches: [{path: {type: PathPrefix, value: /cors-wildcard-origin}}]
            filters: [{type: CORS, cors: {allowOrigins: ["*"], allowMethods: [PUT], allowCredentials: false}}]
            backendRefs: [{name: infra-backend-v1, port: 80}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: cors-wildcard-methods-headers}
        spec:
          parentRefs: [{name: gw}]
          rules:
          - matches: [{path: {type: PathPrefix, value: /cors-wildcard-methods-headers}}]
            filters: [{type: CORS, cors: {allowOrigins: ["*"], allowMethods: ["*"], allowHeaders: ["*"], allowCredentials: true}}]
            backendRefs: [{name: infra-backend-v1, port: 80}]
          - matches: [{path: {type: PathPrefix, value: /cors-wildcard-methods-headers-unauth}}]
            filters: [{type: CORS, cors: {allowOrigins: ["*"], allowMethods: ["*"], allowHeaders: ["*"], allowCredentials: false}}]
            backendRefs: [{name: infra-backend-v1, port: 80}]
        """

    /// `field` is present and, whitespace aside (implementations differ in the space after a comma),
    /// one of `values`.
    static func expectOneOf(_ response: TestHTTPClient.Response, _ field: String, _ values: [String], _ label: String,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        let strip = { (text: String) in text.filter { !$0.isWhitespace } }
        let value = response.headers.first(name: field)
        #expect(value.map { value in values.contains { strip($0) == strip(value) } } == true,
                "\(label): \(field) is \(value ?? "absent"), expected one of \(values)", sourceLocation: sourceLocation)
    }

    static func expectAbsent(_ response: TestHTTPClient.Response, _ field: String, _ label: String,
                             sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!response.headers.contains(name: field), "\(label): \(field) is \(response.headers.first(name: field) ?? "")",
                sourceLocation: sourceLocation)
    }

    /// A preflight is answered by the gateway (200 or 204, as upstream allows); a plain request is
    /// served by the backend, which says its name.
    static func expectPreflightAnswered(_ response: TestHTTPClient.Response, _ label: String,
                                        sourceLocation: SourceLocation = #_sourceLocation) {
        #expect([200, 204].contains(response.status), "\(label): status \(response.status)", sourceLocation: sourceLocation)
    }

    static func expectServed(_ response: TestHTTPClient.Response, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(response.status == 200 && response.echoName == "infra-backend-v1", "\(label): \(response.status) \(response.text)",
                sourceLocation: sourceLocation)
    }

    /// Conformance: HTTPRouteCORS
    @Test func httpRouteCORS() async throws {
        let harness = GatewayHarness()
        defer { Task { await harness.stop() } }
        try harness.write("gw.yaml", Manifests.join(Manifests.gateway(), try await harness.startBackendServices("infra-backend-v1"), Self.routes))
        try await harness.start()
        let statuses = try #require(await harness.runtime.statuses)
        for (name, status) in statuses.httpRoutes {
            let conditions = status.parents.first?.conditions ?? []
            #expect(conditions.contains { $0.type == "Accepted" && $0.status == "True" } && conditions.contains { $0.type == "ResolvedRefs" && $0.status == "True" },
                    "\(name): \(conditions.map { "\($0.type)=\($0.status)" })")
        }
        #expect(statuses.httpRoutes.count == 4)

        func send(_ method: NIOHTTP1Method, _ path: String, _ headers: [(String, String)]) async throws -> TestHTTPClient.Response {
            try await harness.send(method, path, host: "cors.example.com", headers: headers)
        }
        let bothHeaders = ["x-header-1, x-header-2", "x-header-2, x-header-1"]

        // The origin list: an exact origin, and `https://*.bar.com` for one or more labels before bar.com.
        for origin in ["https://www.foo.com", "https://www.bar.com", "https://xpto.www.bar.com"] {
            let label = "preflight from \(origin)"
            let preflight = try await send(.OPTIONS, "/cors-1", [("Origin", origin), ("Access-Control-Request-Method", "GET"),
                                                                 ("Access-Control-Request-Headers", "x-header-1, x-header-2")])
            Self.expectPreflightAnswered(preflight, label)
            Self.expectOneOf(preflight, "access-control-allow-origin", [origin], label)
            Self.expectOneOf(preflight, "access-control-allow-methods", ["GET, OPTIONS", "OPTIONS, GET"], label)
            Self.expectOneOf(preflight, "access-control-allow-headers", bothHeaders, label)
            Self.expectOneOf(preflight, "access-control-expose-headers", ["x-header-3, x-header-4", "x-header-4, x-header-3"], label)
            Self.expectOneOf(preflight, "access-control-max-age", ["3600"], label)
            Self.expectOneOf(preflight, "access-control-allow-credentials", ["true"], label)
        }
        let refusedPreflight = try await send(.OPTIONS, "/cors-1", [("Origin", "https://foobar.com"), ("Access-Control-Request-Method", "GET")])
        #expect([200, 204, 403].contains(refusedPreflight.status), "preflight from https://foobar.com: \(refusedPreflight.status)")
        Self.expectAbsent(refusedPreflight, "access-control-allow-origin", "preflight from https://foobar.com")

        // Plain requests (with the preflight's fields, which mean nothing on a GET) reach the backend;
        // only an allowed origin is told it may read the answer.
        for origin in ["https://www.foo.com", "https://www.bar.com"] {
            let simple = try await send(.GET, "/cors-1", [("Origin", origin), ("Access-Control-Request-Method", "GET"),
                                                          ("Access-Control-Request-Headers", "x-header-1, x-header-2")])
            Self.expectServed(simple, "GET from \(origin)")
            Self.expectOneOf(simple, "access-control-allow-origin", [origin], "GET from \(origin)")
        }
        let stranger = try await send(.GET, "/cors-1", [("Origin", "https://foobar.com"), ("Access-Control-Request-Method", "GET")])
        Self.expectServed(stranger, "GET from https://foobar.com")
        Self.expectAbsent(stranger, "access-control-allow-origin", "GET from https://foobar.com")

        // allowMethods ["*"] allows the method asked for; no credentials unless allowCredentials is true.
        let anyMethod = try await send(.OPTIONS, "/cors-2", [("Origin", "https://www.foo.com"), ("Access-Control-Request-Method", "POST")])
        Self.expectPreflightAnswered(anyMethod, "preflight POST to /cors-2")
        Self.expectOneOf(anyMethod, "access-control-allow-methods", ["POST", "*"], "preflight POST to /cors-2")
        Self.expectOneOf(anyMethod, "access-control-allow-origin", ["https://www.foo.com"], "preflight POST to /cors-2")
        Self.expectAbsent(anyMethod, "access-control-allow-credentials", "preflight POST to /cors-2")

        // Origin `*` without credentials: any origin, with or without a port, gets `*` or itself back.
        for origin in ["https://foobar.com", "https://foobar.com:12345"] {
            let label = "wildcard origin \(origin)"
            let preflight = try await send(.OPTIONS, "/cors-wildcard-origin", [("Origin", origin), ("Access-Control-Request-Method", "PUT")])
            Self.expectPreflightAnswered(preflight, "preflight, " + label)
            Self.expectOneOf(preflight, "access-control-allow-origin", [origin, "*"], "preflight, " + label)
            Self.expectOneOf(preflight, "access-control-allow-methods", ["PUT"], "preflight, " + label)
            Self.expectAbsent(preflight, "access-control-allow-credentials", "preflight, " + label)
            let put = try await send(.PUT, "/cors-wildcard-origin", [("Origin", origin)])
            Self.expectServed(put, "PUT, " + label)
            Self.expectOneOf(put, "access-control-allow-origin", [origin, "*"], "PUT, " + label)
            Self.expectAbsent(put, "access-control-allow-credentials", "PUT, " + label)
        }

        // Everything `*` with credentials: a browser ignores a literal `*` on a credentialed request,
        // so the origin, method and headers asked for must come back as they were asked.
        let credentialed = try await send(.OPTIONS, "/cors-wildcard-methods-headers", [
            ("Origin", "https://other.foo.com"), ("Access-Control-Request-Method", "PUT"), ("Access-Control-Request-Headers", "x-header-1, x-header-2")])
        Self.expectPreflightAnswered(credentialed, "credentialed preflight")
        Self.expectOneOf(credentialed, "access-control-allow-origin", ["https://other.foo.com"], "credentialed preflight")
        Self.expectOneOf(credentialed, "access-control-allow-methods", ["PUT"], "credentialed preflight")
        Self.expectOneOf(credentialed, "access-control-allow-headers", bothHeaders, "credentialed preflight")
        Self.expectOneOf(credentialed, "access-control-allow-credentials", ["true"], "credentialed preflight")
        let anonymous = try await send(.OPTIONS, "/cors-wildcard-methods-headers-unauth", [
            ("Origin", "https://other.foo.com"), ("Access-Control-Request-Method", "PUT"), ("Access-Control-Request-Headers", "x-header-1, x-header-2")])
        Self.expectPreflightAnswered(anonymous, "preflight without credentials")
        Self.expectOneOf(anonymous, "access-control-allow-origin", ["https://other.foo.com", "*"], "preflight without credentials")
        Self.expectOneOf(anonymous, "access-control-allow-methods", ["PUT", "*"], "preflight without credentials")
        Self.expectOneOf(anonymous, "access-control-allow-headers", bothHeaders + ["*"], "preflight without credentials")
        Self.expectAbsent(anonymous, "access-control-allow-credentials", "preflight without credentials")

        let withCredentials = try await send(.GET, "/cors-wildcard-methods-headers", [("Origin", "https://other.foo.com")])
        Self.expectServed(withCredentials, "credentialed GET")
        Self.expectOneOf(withCredentials, "access-control-allow-origin", ["https://other.foo.com"], "credentialed GET")
        Self.expectOneOf(withCredentials, "access-control-allow-credentials", ["true"], "credentialed GET")
        let withoutCredentials = try await send(.GET, "/cors-wildcard-methods-headers-unauth", [("Origin", "https://other.foo.com")])
        Self.expectServed(withoutCredentials, "GET without credentials")
        Self.expectOneOf(withoutCredentials, "access-control-allow-origin", ["https://other.foo.com", "*"], "GET without credentials")
        Self.expectAbsent(withoutCredentials, "access-control-allow-credentials", "GET without credentials")
    }
}
