@testable import DataPlane
import GatewayAPI
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Observability
import RoutingTable
import Testing
import Translator

/// The general path's request phases without sockets: real manifests, translated and compiled as the
/// gateway does, and requests run through the phases as the connection handler runs them.
@Suite struct RequestPhaseTests {
    let loop = EventLoopContext(eventLoop: EmbeddedEventLoop(), metrics: GatewayMetrics(), logger: Logger(label: "test"), seed: 7,
                                limits: ClientLimits(), accessLog: nil, tracing: nil)

    static func table(_ yaml: String, makeGuard: (EdgeRule) -> any EdgeGuard = EdgeGuards.make) throws -> ServedTable {
        let loaded = ManifestLoader().parse(text: yaml, file: "test.yaml")
        #expect(loaded.errors.isEmpty, "\(loaded.errors)")
        let result = Translator().translate(ResourceSnapshot(loaded.resources.map(\.resource)))
        return ServedTable(try CompiledTable(result.table), carryingOver: nil, makeGuard: makeGuard)
    }

    /// The manifests of a gateway `gw` on port 80, Service `api` with one ready endpoint, and `more`.
    static func gateway(_ more: String...) -> String {
        Manifests.join(([Manifests.gateway(), Manifests.service("api", targetPort: 9000)] + more).joined(separator: "\n---\n"))
    }

    func pipeline(port: Int = 80) -> RequestPipeline {
        var downstream = Downstream(socket: SocketKey(port: port), scheme: "http")
        downstream.clientAddress = "192.0.2.7"
        downstream.forwardedNode = ForwardedHeaders.node(client: "192.0.2.7")
        return RequestPipeline(downstream: downstream, loop: loop)
    }

    func request(_ uri: String, method: HTTPMethod = .GET, host: String = "shop.example.com", headers: [(String, String)] = [],
                 table: ServedTable, version: HTTPVersion = .http1_1) -> RequestContext {
        let head = HTTPRequestHead(version: version, method: method, uri: uri, headers: HTTPHeaders([("Host", host)] + headers))
        return RequestContext(head: head, table: table, start: .now(), bodyLimit: loop.limits.maxRequestBodyBytes)
    }

    /// Runs the phases as the connection handler does; the request as they left it comes back too.
    func run(_ request: RequestContext, port: Int = 80) -> (PhaseDecision, RequestContext) {
        var request = request
        let decision = pipeline(port: port).run(&request)
        return (decision, request)
    }

    // MARK: Normalise and match

    @Test func requestsArchwayCannotTrustAreRefusedAndCloseTheConnection() throws {
        let table = try Self.table(Self.gateway(Manifests.route("all", path: "/", service: "api")))
        let cases: [(RequestContext, HTTPResponseStatus, String)] = [
            (request("/admin%2Fx", table: table), .badRequest, "encoded slash"),
            (request("/", headers: [("Host", "other.example.com")], table: table), .badRequest, "request has 2 Host headers"),
            (request("/" + String(repeating: "a", count: 20_000), table: table), .uriTooLong, "the limit is 16384"),
        ]
        for (request, status, reason) in cases {
            guard case .answer(let answer) = run(request).0 else { Issue.record("\(request.head.uri.prefix(20)) was not refused"); continue }
            #expect(answer.status == status && answer.message.contains(reason), "\(answer.message)")
            #expect(answer.closesConnection, "nothing behind \(reason) on the connection can be trusted")
        }
    }

    @Test func noListenerAndNoRouteAre404sSayingWhichWasMissing() throws {
        let route = """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: shop}
            spec:
              parentRefs: [{name: gw}]
              hostnames: [shop.example.com]
              rules: [{matches: [{path: {type: PathPrefix, value: /cart}}], backendRefs: [{name: api, port: 80}]}]
            """
        let table = try Self.table(Self.gateway(route))
        guard case .answer(let noListener) = run(request("/cart", table: table), port: 8080).0 else { Issue.record("matched on 8080"); return }
        #expect(noListener.status == .notFound && noListener.message == "no listener on port 8080 accepts host \"shop.example.com\"")
        #expect(!noListener.closesConnection, "a 404 leaves keep-alive alone")

        guard case .answer(let noRoute) = run(request("/cart/../admin", table: table)).0 else { Issue.record("matched /admin"); return }
        #expect(noRoute.status == .notFound && noRoute.message == "no route matches host \"shop.example.com\" and path \"/admin\"",
                "the path is matched, and named, in its normal form")

        let (decision, matched) = run(request("/cart/./items", table: table))
        guard case .forward(let plan) = decision else { Issue.record("\(decision)"); return }
        #expect(matched.route?.origin.name == "shop" && plan.head.uri == "/cart/items")
    }

    // MARK: Pick upstream

    @Test func aBackendThatCannotTakeTheRequestIsAnsweredWithTheReason() throws {
        let table = try Self.table(Self.gateway(
            Manifests.service("drained", targetPort: 9001, ready: false),
            Manifests.route("drained", path: "/drained", service: "drained"),
            Manifests.route("gone", path: "/gone", service: "gone"),
            Manifests.route("moved", path: "/moved", service: "api", ruleFields: """
                filters: [{type: RequestRedirect, requestRedirect: {scheme: https, statusCode: 301}}]
                """)))

        let (noEndpoints, drained) = run(request("/drained/x", table: table))
        guard case .answer(let unavailable) = noEndpoints else { Issue.record("\(noEndpoints)"); return }
        #expect(unavailable.status == .serviceUnavailable && unavailable.message == "Service default/drained:80 has no ready endpoints")
        #expect(drained.record.backendName == "drained", "the access log names the backend that could not answer")

        guard case .answer(let invalid) = run(request("/gone", table: table)).0 else { Issue.record("forwarded to a missing Service"); return }
        #expect(invalid.status == .internalServerError && invalid.message.hasPrefix("backend gone is invalid: "), "\(invalid.message)")

        let (redirected, redirect) = run(request("/moved/a?b=1", table: table))
        guard case .answer(let moved) = redirected else { Issue.record("\(redirected)"); return }
        #expect(moved.status == .movedPermanently && moved.headers.first { $0.0 == "location" }?.1 == "https://shop.example.com/moved/a?b=1")
        #expect(redirect.record.backend == -1, "a redirect picks no backend")
    }

    // MARK: Request filters

    @Test func theUpstreamHeadCarriesTheRoutesFiltersAndTheForwardingFields() throws {
        let table = try Self.table(Self.gateway("""
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: v1}
            spec:
              parentRefs: [{name: gw}]
              rules:
              - matches: [{path: {type: PathPrefix, value: /v1}}]
                filters:
                - type: RequestHeaderModifier
                  requestHeaderModifier: {set: [{name: X-Env, value: canary}], add: [{name: Accept, value: text/plain}], remove: [X-Debug]}
                - type: URLRewrite
                  urlRewrite: {hostname: internal.example.com, path: {type: ReplacePrefixMatch, replacePrefixMatch: /v2}}
                backendRefs:
                - name: api
                  port: 80
                  filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Backend, value: blue}]}}]
            """))
        let sent = request("/v1/items?page=2", method: .POST, headers: [
            ("Accept", "application/json"), ("X-Debug", "1"), ("Connection", "keep-alive, X-Hop"), ("X-Hop", "a"), ("Keep-Alive", "timeout=5"),
            ("Expect", "100-continue"), ("X-Forwarded-For", "203.0.113.1"), ("Content-Length", "3")], table: table)
        guard case .forward(let plan) = run(sent).0 else { Issue.record("not forwarded"); return }
        let headers = plan.head.headers
        #expect(plan.head.uri == "/v2/items?page=2" && plan.head.method == .POST && plan.head.version == .http1_1)
        #expect(headers["host"] == ["internal.example.com"])
        #expect(headers["x-env"] == ["canary"] && headers["accept"] == ["application/json,text/plain"] && headers["x-debug"].isEmpty)
        #expect(headers["x-backend"] == ["blue"], "the backendRef's own filter applies to requests sent to it")
        #expect(headers["connection"].isEmpty && headers["keep-alive"].isEmpty && headers["x-hop"].isEmpty, "hop-by-hop fields stop here")
        #expect(headers["x-forwarded-for"] == ["203.0.113.1, 192.0.2.7"] && headers["x-forwarded-proto"] == ["http"])
        #expect(headers["forwarded"] == ["for=192.0.2.7;proto=http;host=\"shop.example.com\""])
        #expect(headers["x-request-id"].count == 1 && headers["traceparent"].count == 1)
        #expect(plan.owesContinue && headers["expect"].isEmpty, "archway answers 100-continue itself once a backend is connected")
        #expect(headers["content-length"] == ["3"])
    }

    // MARK: Edge policies

    static let basicAuth = """
        apiVersion: v1
        kind: Secret
        metadata: {name: users}
        stringData: {users: "bob:{SHA}9SMYoF5RilWWASry7TjeaKwmpGg="}
        ---
        apiVersion: archway.dev/v1alpha1
        kind: BasicAuth
        metadata: {name: staff}
        spec: {secretRef: {name: users}, realm: Staff}
        """

    @Test func aRefusingPolicyAnswersBeforeAnyBackendIsPicked() throws {
        let table = try Self.table(Self.gateway(Self.basicAuth, Manifests.route("staff", path: "/", service: "api", ruleFields: """
            filters: [{type: ExtensionRef, extensionRef: {group: archway.dev, kind: BasicAuth, name: staff}}]
            """)))
        let (decision, refused) = run(request("/reports", table: table))
        guard case .answer(let answer) = decision else { Issue.record("\(decision)"); return }
        #expect(answer.status == .unauthorized && answer.message == "unauthorized: credentials required")
        #expect(answer.headers.contains { $0 == ("www-authenticate", "Basic realm=\"Staff\", charset=\"UTF-8\"") })
        #expect(refused.record.refusedBy?.hasSuffix("credentials required") == true, "the access log says which policy refused and why")
        #expect(refused.record.backend == -1, "no backend was picked for a refused request")

        let credentials = ("Authorization", "Basic Ym9iOmJ1aWxkZXI=")  // bob:builder
        guard case .forward(let plan) = run(request("/reports", headers: [credentials, ("X-Auth-User", "root")], table: table)).0 else {
            Issue.record("bob was refused"); return
        }
        #expect(plan.head.headers["x-auth-user"] == ["bob"], "what the policy vouches for replaces what the client claimed")
    }

    @Test func aCORSPreflightIsAnsweredBeforeTheRoutesPolicies() throws {
        let table = try Self.table(Self.gateway(Self.basicAuth, Manifests.route("app", path: "/", service: "api", ruleFields: """
            filters:
            - {type: CORS, cors: {allowOrigins: ["https://app.example.com"], allowMethods: [GET]}}
            - {type: ExtensionRef, extensionRef: {group: archway.dev, kind: BasicAuth, name: staff}}
            """)))
        let preflight = request("/reports", method: .OPTIONS, headers: [("Origin", "https://app.example.com"), ("Access-Control-Request-Method", "GET")],
                                table: table)
        guard case .answer(let answer) = run(preflight).0 else { Issue.record("preflight forwarded"); return }
        #expect(answer.status == .ok, "a browser's preflight carries no credentials, so no policy sees it")
        #expect(answer.headers.contains { $0 == ("access-control-allow-origin", "https://app.example.com") })
    }

    /// A policy that needs I/O parks the request; the phase goes on from the next policy when it answers.
    @Test func aDeferredDecisionResumesWhereThePhaseStopped() throws {
        let table = try Self.table(Self.gateway(Self.basicAuth, Manifests.route("staff", path: "/", service: "api", ruleFields: """
            filters: [{type: ExtensionRef, extensionRef: {group: archway.dev, kind: BasicAuth, name: staff}}]
            """)), makeGuard: { _ in DeferringGuard() })
        var request = request("/reports", table: table)
        let pipeline = pipeline()
        guard case .wait = pipeline.run(&request) else { Issue.record("did not wait for the policy"); return }
        var edits = EdgeEdits()
        edits.setHeaders = [("x-auth-user", "carol")]
        edits.maxRequestBody = 10
        var passed = request
        guard case .forward(let plan) = pipeline.resume(&passed, after: .pass(edits)) else { Issue.record("not forwarded after a pass"); return }
        #expect(plan.head.headers["x-auth-user"] == ["carol"] && passed.bodyLimit == 10, "the policy's edits and body limit apply")

        var twice = request
        guard case .answer(let answer) = pipeline.resume(&twice, after: .later { _ in }) else { Issue.record("deferred twice"); return }
        #expect(answer.status == .internalServerError && twice.record.refusedBy == "edge policy deferred its decision twice")
    }

    // MARK: Response filters and local answers

    @Test func theResponseHeadLosesHopByHopFieldsAndGetsTheFilters() throws {
        let table = try Self.table(Self.gateway(Manifests.route("api", path: "/", service: "api", ruleFields: """
            filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: X-Served-By, value: archway}], remove: [Server]}}]
            """)))
        let (decision, request) = run(request("/rpc", method: .POST, headers: [("content-type", "application/grpc")], table: table, version: .http2))
        guard case .forward(let plan) = decision else { Issue.record("\(decision)"); return }
        let response = HTTPResponseHead(version: .http1_1, status: .ok, headers: HTTPHeaders([
            ("Connection", "keep-alive"), ("Keep-Alive", "timeout=5"), ("Server", "backend/1.0"), ("Content-Type", "application/grpc"),
            ("grpc-status", "5"), ("grpc-message", "not found")]))
        let filtered = ResponseFilterPhase.run(response, request: request, plan: plan, endpoint: nil, secure: false)
        #expect(filtered.headers["x-served-by"] == ["archway"] && filtered.headers["server"].isEmpty)
        #expect(filtered.headers["connection"].isEmpty && filtered.headers["keep-alive"].isEmpty)
        #expect(filtered.headers["grpc-status"].isEmpty && filtered.grpcTrailers?["grpc-status"] == ["5"],
                "a trailers-only gRPC answer reaches the client as trailers")
    }

    @Test func gatewayAnswersToGRPCCallsAreTrailersOnly() {
        let (head, trailers) = LocalAnswer(.serviceUnavailable, "Service default/api:80 has no ready endpoints (100%)").grpcResponse(version: .http2)
        #expect(head.status == .ok && head.headers["content-type"] == ["application/grpc"])
        #expect(trailers["grpc-status"] == ["14"], "UNAVAILABLE, as gRPC's HTTP mapping says for 503")
        #expect(trailers["grpc-message"] == ["Service default/api:80 has no ready endpoints (100%25)"])
    }

    // MARK: Connection timers

    @Test func slowHeadsAndIdleConnectionsAreCaught() {
        var limits = ClientLimits()
        limits.headerTimeout = .seconds(10)
        limits.idleTimeout = .seconds(60)
        var timers = ConnectionTimers(limits: limits)
        timers.connectionStarted()
        let start = NIODeadline.now()
        guard case .idleTooLong = timers.check(now: start + .seconds(11)) else { Issue.record("a silent new connection may wait 10s"); return }
        timers.requestStarted()
        timers.answered()
        guard case .fine = timers.check(now: start + .seconds(11)) else { Issue.record("between requests the idle timeout applies"); return }
        guard case .idleTooLong = timers.check(now: start + .seconds(61)) else { Issue.record("idle for over a minute"); return }
        timers.readCompleted(awaitingHead: true)  // bytes arrived, but not a whole head
        guard case .headTooSlow = timers.check(now: .now() + .seconds(11)) else { Issue.record("a head dribbling in gets a 408"); return }
    }
}

/// An edge policy that always has to ask someone else first.
private final class DeferringGuard: EdgeGuard {
    func check(_ request: EdgeRequest) -> EdgeDecision { .later { _ in } }
}
