@testable import ArchwayCore
import Foundation
import GatewayAPI
import Testing
import Translator

/// `archway describe` on manifests: what a user asks when a route does not behave (which policy is
/// enforced on it, is it attached, which ReferenceGrant lets it reach a Service in another namespace).
struct DescribeTests {
    static let controller = "archway.dev/gateway-controller"

    /// Gateway `shop/web` with a Gateway-wide RateLimit; route `checkout` has its own RateLimit and a
    /// backend in `payments` (granted), route `catalog` only inherits.
    static let shop = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: GatewayClass
        metadata: {name: archway}
        spec: {controllerName: archway.dev/gateway-controller}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: web, namespace: shop}
        spec:
          gatewayClassName: archway
          listeners:
          - {name: http, protocol: HTTP, port: 80, hostname: shop.example, allowedRoutes: {namespaces: {from: All}}}
          - {name: internal, protocol: HTTP, port: 8080, hostname: internal.example}
        ---
        apiVersion: archway.dev/v1alpha1
        kind: RateLimit
        metadata: {name: gateway-wide, namespace: shop}
        spec:
          targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: web}]
          requests: 100
          unit: Second
        ---
        apiVersion: archway.dev/v1alpha1
        kind: RateLimit
        metadata: {name: checkout-strict, namespace: shop}
        spec:
          targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: checkout}]
          requests: 5
          unit: Second
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: checkout, namespace: shop}
        spec:
          parentRefs: [{name: web, sectionName: http}]
          rules:
          - backendRefs: [{name: api, namespace: payments, port: 80}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: catalog, namespace: shop}
        spec:
          parentRefs: [{name: web}]
          hostnames: [internal.example]
          rules:
          - backendRefs: [{name: catalog, port: 80}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: catalog, namespace: shop}
        spec: {ports: [{port: 80}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: api, namespace: payments}
        spec: {ports: [{port: 80}]}
        """

    static let grant = """
        apiVersion: gateway.networking.k8s.io/v1beta1
        kind: ReferenceGrant
        metadata: {name: allow-shop-routes, namespace: payments}
        spec:
          from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: shop}]
          to: [{group: "", kind: Service}]
        """

    static func directory(_ yaml: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("archway-describe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try yaml.write(to: directory.appendingPathComponent("shop.yaml"), atomically: true, encoding: .utf8)
        return directory.path
    }

    static func source(_ yaml: String = shop + "\n---\n" + grant) throws -> DescribeSource {
        DescribeSource.offline(paths: [try directory(yaml)], controllerName: controller)
    }

    @Test func aRouteListsTheInheritedGatewayPolicyAndWhichOneWins() throws {
        let source = try Self.source()
        let checkout = try source.describe(kind: "HTTPRoute", namespace: "shop", name: "checkout")
        let rule = try #require(checkout.policies?.first)
        #expect(rule.through == ["Gateway shop/web listener http"])
        let rateLimits = rule.policies.filter { $0.kind == "RateLimit" }
        #expect(rateLimits.map(\.policy) == ["RateLimit shop/gateway-wide", "RateLimit shop/checkout-strict"], "least specific first")
        #expect(rateLimits.map(\.level) == [.gateway, .route])
        #expect(rateLimits.map(\.wins) == [false, true], "the route's own RateLimit wins over the inherited one")
        let text = checkout.text()
        #expect(text.contains("RateLimit  RateLimit shop/gateway-wide     Gateway      no, overridden by RateLimit shop/checkout-strict (route)"), "\(text)")
        // What describe calls the winner is what is served.
        #expect(source.report.edgePolicies["shop/checkout"] == ["rule 0: RateLimit shop/checkout-strict"])

        // With no policy of its own, the route is guarded by the Gateway's.
        let catalog = try source.describe(kind: "HTTPRoute", namespace: "shop", name: "catalog")
        let inherited = catalog.policies?.first?.policies
        #expect(inherited?.map(\.policy) == ["RateLimit shop/gateway-wide"] && inherited?.first?.wins == true)
        #expect(catalog.policies?.first?.through == ["Gateway shop/web listener internal"])
    }

    @Test func aGatewayListsItsAttachedRoutesByListener() throws {
        let source = try Self.source()
        let gateway = try source.describe(kind: "Gateway", namespace: "shop", name: "web")
        #expect(gateway.attachedRoutes == [
            .init(kind: "HTTPRoute", namespace: "shop", name: "catalog", listeners: ["internal"]),
            .init(kind: "HTTPRoute", namespace: "shop", name: "checkout", listeners: ["http"]),
        ])
        #expect(gateway.gatewayPolicies?.map(\.policy) == ["RateLimit shop/gateway-wide"])
        #expect(gateway.conditions.map(\.scope) == ["", "listener http", "listener internal"])
        let text = gateway.text()
        #expect(text.contains("Attached Routes:\n  Kind       Name           Listeners\n  HTTPRoute  shop/catalog   internal\n  HTTPRoute  shop/checkout  http\n"), "\(text)")

        let listener = try source.describe(kind: "Gateway", namespace: "shop", name: "web", listener: "http")
        #expect(listener.attachedRoutes?.map(\.name) == ["checkout"])
        #expect(listener.conditions.map(\.scope) == ["", "listener http"])
    }

    @Test func aCrossNamespaceBackendNamesTheReferenceGrantItReliesOn() throws {
        let granted = try Self.source().describe(kind: "HTTPRoute", namespace: "shop", name: "checkout")
        #expect(granted.referenceGrants == [.init(reference: "backendRef Service payments/api", grant: "payments/allow-shop-routes")])
        #expect(granted.text().contains("backendRef Service payments/api: allowed by ReferenceGrant payments/allow-shop-routes"))

        // Without the grant the same line says so, the condition is False, and an event names the rejection.
        let refused = try Self.source(Self.shop).describe(kind: "HTTPRoute", namespace: "shop", name: "checkout")
        #expect(refused.referenceGrants == [.init(reference: "backendRef Service payments/api", grant: nil)])
        let resolved = refused.conditions.first?.conditions.first { $0.type == "ResolvedRefs" }
        #expect(resolved?.status == "False" && resolved?.reason == "RefNotPermitted")
        #expect(refused.events.contains { $0.type == .Warning && $0.reason == "RefNotPermitted" })
        #expect(refused.text().contains("NOT permitted"))
    }

    static func parsed(_ text: String) throws -> String {
        let (kind, name) = try DescribedKind.parse(text)
        return "\(kind)/\(name)"
    }

    @Test func kindsAreTypedAsKubectlTakesThem() throws {
        #expect(try Self.parsed("gw/web") == "Gateway/web")
        #expect(try Self.parsed("HTTPRoute/shop") == "HTTPRoute/shop")
        #expect(try Self.parsed("httproutes/shop") == "HTTPRoute/shop")
        #expect(try Self.parsed("ratelimit/x") == "RateLimit/x")
        #expect(throws: DescribeError.self) { try DescribedKind.parse("gatway/web") }
        #expect(throws: DescribeError.self) { try DescribedKind.parse("web") }
    }

    @Test func aNameNotFoundSaysWhereItExistsAndExitsWith1() throws {
        let directory = try Self.directory(Self.shop)
        let wrongNamespace = try ExternalTool.run(CLITests.binary, ["describe", "httproute/checkout", "--config", directory])
        #expect(wrongNamespace.status == 1)
        #expect(wrongNamespace.stderr.contains("HTTPRoute default/checkout not found in the manifests in \(directory); HTTPRoute checkout exists in namespace shop (-n shop)"),
                "\(wrongNamespace.stderr)")
        let typo = try ExternalTool.run(CLITests.binary, ["describe", "httproute/chekout", "-n", "shop", "--config", directory])
        #expect(typo.status == 1 && typo.stderr.contains("did you mean httproute/checkout?"), "\(typo.stderr)")
        let found = try ExternalTool.run(CLITests.binary, ["describe", "GW/web", "-n", "shop", "--config", directory])
        #expect(found.status == 0 && found.stdout.hasPrefix("Name:         web\nNamespace:    shop\nKind:         Gateway\n"), "\(found.stdout)\(found.stderr)")
    }
}

/// The events `serve` keeps: reload failures and objects rejected or recovered, bounded.
struct EventLogTests {
    static func route(_ accepted: Bool) -> StatusReport.Item {
        let condition = Condition(type: "ResolvedRefs", status: accepted, reason: accepted ? "ResolvedRefs" : "BackendNotFound",
                                  message: accepted ? "all references resolved" : "Service shop/api not found")
        let parent = RouteParentStatus(parentRef: ParentReference(namespace: "shop", name: "web"), controllerName: "x", conditions: [condition])
        return StatusReport.Item(apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute",
                                 metadata: .init(name: "checkout", namespace: "shop"), status: .route(RouteStatus(parents: [parent])))
    }

    @Test func recordsAReloadFailureAndARejectionThenTheRecovery() {
        let log = EventLog(capacity: 100)
        let error = ManifestError(location: SourceLocation(file: "/etc/archway/shop.yaml", document: 2), object: "HTTPRoute shop/checkout",
                                  field: "spec.rules[0].timeouts.request", message: "not a duration")
        log.recordReloadFailure([error])
        log.recordReloadFailure([error])
        let checkout = ObjectRef(kind: "HTTPRoute", namespace: "shop", name: "checkout")
        let failures = log.recent(regarding: checkout)
        #expect(failures.count == 1 && failures.first?.count == 2, "the same failure again is counted, not repeated")
        #expect(failures.first?.reason == "ReloadFailed" && failures.first?.type == .Warning)
        #expect(failures.first?.note == "/etc/archway/shop.yaml: document 2 (HTTPRoute shop/checkout): spec.rules[0].timeouts.request: not a duration")

        var tracker = RejectionTracker()
        #expect(tracker.events(for: [Self.route(true)]).isEmpty, "an accepted object is no event")
        let rejected = tracker.events(for: [Self.route(false)])
        #expect(rejected.count == 1 && rejected.first?.reason == "BackendNotFound" && rejected.first?.type == .Warning)
        #expect(rejected.first?.note == "parent Gateway shop/web: ResolvedRefs=False: Service shop/api not found")
        #expect(tracker.events(for: [Self.route(false)]).isEmpty, "still rejected is not newly rejected")
        let recovered = tracker.events(for: [Self.route(true)])
        #expect(recovered.first?.reason == "Recovered" && recovered.first?.type == .Normal)
        for event in rejected + recovered { log.record(event) }
        #expect(log.recent(regarding: checkout).map(\.reason) == ["ReloadFailed", "BackendNotFound", "Recovered"])
        #expect(log.takeNew().count == 3 && log.takeNew().isEmpty, "what the leader has to write is taken once")
    }

    /// The same statuses again are not looked at: no status item is even made.
    @Test func unchangedStatusesAreNotLookedAtAgain() {
        var tracker = RejectionTracker()
        var statuses = StatusSet()
        statuses.gatewayClasses["archway"] = GatewayClassStatus(conditions: [])
        var made = 0
        let first = tracker.events(for: statuses) { made += 1; return [Self.route(false)] }
        #expect(first.count == 1 && made == 1)
        #expect(tracker.events(for: statuses) { made += 1; return [Self.route(true)] }.isEmpty && made == 1, "the same statuses again")
        statuses.gatewayClasses["other"] = GatewayClassStatus(conditions: [])
        let recovered = tracker.events(for: statuses) { made += 1; return [Self.route(true)] }
        #expect(made == 2 && recovered.first?.reason == "Recovered", "changed statuses are looked at: \(recovered)")
    }

    @Test func keepsOnlyTheLastEvents() {
        let log = EventLog(capacity: 3)
        for index in 0..<5 { log.record(ArchwayEvent(type: .Warning, reason: "ReloadFailed", regarding: nil, note: "error \(index)")) }
        #expect(log.recent().map(\.note) == ["error 2", "error 3", "error 4"])
    }

    /// A running archway: a broken edit is a ReloadFailed event on `/events`, and `describe --admin`
    /// shows it under the route it names.
    @Test func describeAdminShowsAReloadFailureOfTheRoute() async throws {
        let harness = GatewayHarness()
        try harness.write("shop.yaml", DescribeTests.shop + "\n---\n" + DescribeTests.grant)
        try await harness.start()
        defer { Task { await harness.stop() } }
        let broken = DescribeTests.shop.replacingOccurrences(of: "  - backendRefs: [{name: api, namespace: payments, port: 80}]",
                                                             with: "  - backendRefs: [{name: api, namespace: payments, port: 80}]\n    timeouts: {request: soon}")
        try harness.write("shop.yaml", broken + "\n---\n" + DescribeTests.grant)
        try await KubernetesTests.waitUntil("the reload failure is recorded") {
            await harness.runtime.events.recent().contains { $0.reason == "ReloadFailed" }
        }
        let events = String(decoding: try await AdminReader.get(host: "127.0.0.1", port: harness.adminPort, path: "/events"), as: UTF8.self)
        #expect(events.contains("\"reason\" : \"ReloadFailed\"") && events.contains("HTTPRoute shop/checkout"), "\(events)")
        let described = try ExternalTool.run(CLITests.binary, ["describe", "httproute/checkout", "-n", "shop", "--admin", "127.0.0.1:\(harness.adminPort)"])
        #expect(described.status == 0, "\(described.stderr)")
        #expect(described.stdout.contains("Source:       a running archway"))
        #expect(described.stdout.contains("Warning  ReloadFailed"), "\(described.stdout)")
        #expect(described.stdout.contains("RateLimit shop/checkout-strict"), "the last good configuration's policies")
        let missing = try ExternalTool.run(CLITests.binary, ["describe", "gateway/webb", "-n", "shop", "--admin", "127.0.0.1:\(harness.adminPort)"])
        #expect(missing.status == 1 && missing.stderr.contains("Gateway shop/webb not found in a running archway; did you mean gateway/web?"), "\(missing.stderr)")
    }
}
