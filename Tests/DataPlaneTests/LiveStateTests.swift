@testable import DataPlane
import Foundation
import GatewayAPI
import NIOCore
import RoutingTable
import Testing
import Translator

/// The data plane's live state (endpoint health, SLO counters, edge guards) across table swaps: a
/// reload that leaves an object's configuration alone keeps its state, one that changes it starts
/// afresh, and routes that share a policy share its guard.
@Suite(.timeLimit(.minutes(2)))
struct LiveStateTests {
    static let rateLimit = """
        apiVersion: archway.dev/v1alpha1
        kind: RateLimit
        metadata: {name: per-client}
        spec:
          targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
          requests: 1
          unit: Minute
          burst: 1
        """

    /// Gateway `gw` with a Gateway-wide rate limit of one request a minute, Service `api` ejected after
    /// one 5xx, route `shop` with an availability objective, and `more`.
    static func manifests(_ more: String...) -> String {
        ([Manifests.gateway(), Manifests.service("api", targetPort: 9000), Self.rateLimit,
          BackendTrafficPolicyTests.policy("api", "outlierDetection: {consecutive5xx: 1, baseEjectionTime: 30s}"),
          ServiceLevelTests.shopSLO, Manifests.route("shop", path: "/", service: "api")] + more).joined(separator: "\n---\n") + "\n"
    }

    static func compile(_ yaml: String) throws -> CompiledTable {
        let loaded = ManifestLoader().parse(text: yaml, file: "test.yaml")
        #expect(loaded.errors.isEmpty, "\(loaded.errors)")
        return try CompiledTable(Translator().translate(ResourceSnapshot(loaded.resources.map(\.resource))).table)
    }

    static func route(_ path: String, in table: ServedTable) -> CompiledRoute? {
        let (rawPath, query) = PathRules.split(path)
        let request = RequestView(path: rawPath, query: query, method: "GET", header: { _ in nil })
        guard case .matched(let route) = table.route(socket: SocketKey(port: 80), host: "shop.example.com", request: request) else { return nil }
        return route
    }

    static func passes(_ edgeGuard: any EdgeGuard) -> Bool {
        let request = EdgeRequest(scheme: "http", method: "GET", host: "shop.example.com", path: "/", query: nil, peerAddress: "192.0.2.7",
                                  header: { _ in nil }, headerValues: { _ in [] }, routeKey: "default/shop#0")
        if case .pass = edgeGuard.check(request) { return true }
        return false
    }

    @Test func aReloadOfAnUnrelatedRouteKeepsEjectionsCountersAndBuckets() throws {
        let tables = TableStore()
        try tables.swap(Self.compile(Self.manifests()))
        let before = tables.current
        let cluster = try #require(before.routes.clusters["default/api:80"])
        let health = try #require(before.health(of: cluster))
        let endpoint = cluster.endpoints[0]
        #expect(health.record(.serverError, endpoint: endpoint), "one 5xx ejects")
        let shop = try #require(Self.route("/", in: before))
        let rateLimit = try #require(before.edgeGuards(of: shop).first)
        #expect(Self.passes(rateLimit) && !Self.passes(rateLimit), "the minute's one request is spent")
        let tracker = try #require(before.sloTrackers(of: shop).first)
        tracker.record(status: 503, durationNanos: 1_000_000)

        try tables.swap(Self.compile(Self.manifests(Manifests.route("other", path: "/other", service: "api"))))
        let after = tables.current
        #expect(after !== before)
        let clusterAfter = try #require(after.routes.clusters["default/api:80"])
        let kept = try #require(after.health(of: clusterAfter))
        #expect(kept === health && !kept.isUsable(endpoint), "the endpoint stays ejected")
        let shopAfter = try #require(Self.route("/", in: after))
        #expect(shopAfter !== shop)
        #expect(after.edgeGuards(of: shopAfter).first === rateLimit && !Self.passes(rateLimit), "the bucket is not refilled")
        let other = try #require(Self.route("/other", in: after))
        #expect(after.edgeGuards(of: other).first === rateLimit, "a Gateway-wide policy has one bucket for all its routes")
        #expect(after.sloTrackers(of: shopAfter).first === tracker && tracker.snapshot().bad == 1, "the objective keeps its count")
        #expect(after.sloSnapshots().map(\.total) == [1])

        // Changed objects start afresh: a new ejection threshold, rate and objective.
        let changed = Self.manifests()
            .replacingOccurrences(of: "consecutive5xx: 1", with: "consecutive5xx: 2")
            .replacingOccurrences(of: "requests: 1\n", with: "requests: 2\n")
            .replacingOccurrences(of: "objective: 99.9", with: "objective: 99")
        try tables.swap(Self.compile(changed))
        let fresh = tables.current
        let freshCluster = try #require(fresh.routes.clusters["default/api:80"])
        let freshHealth = try #require(fresh.health(of: freshCluster))
        #expect(freshHealth !== health && freshHealth.isUsable(endpoint))
        let shopFresh = try #require(Self.route("/", in: fresh))
        #expect(fresh.edgeGuards(of: shopFresh).first !== rateLimit && fresh.sloTrackers(of: shopFresh).first !== tracker)
    }

    /// Through the running gateway: a rate-limited client and an ejected endpoint stay so when an
    /// unrelated route is added.
    @Test func rateLimitsAndEjectionsHoldAcrossAReload() async throws {
        let harness = GatewayHarness()
        let failing = RecordingBackend(name: "failing", status: 502)
        let failingPort = try await failing.start(group: harness.group)
        defer { Task { await failing.stop() } }
        try await harness.startBackend("api")
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(),
            Manifests.service("api", targetPort: harness.backendPorts["api"]!),
            Manifests.service("failing", targetPort: failingPort),
            BackendTrafficPolicyTests.policy("failing", "outlierDetection: {consecutive5xx: 1, baseEjectionTime: 30s}"),
            Self.rateLimit.replacingOccurrences(of: "kind: Gateway, name: gw", with: "kind: HTTPRoute, name: limited"),
            Manifests.route("limited", path: "/limited", service: "api"),
            Manifests.route("flaky", path: "/flaky", service: "failing")))
        try await harness.start()
        defer { Task { await harness.stop() } }

        #expect(try await harness.send("/limited", host: "l.example.com").status == 200)
        #expect(try await harness.send("/limited", host: "l.example.com").status == 429)
        #expect(try await harness.send("/flaky", host: "l.example.com").status == 502)

        try harness.write("other.yaml", Manifests.route("other", path: "/other", service: "api"))
        try await harness.waitForGeneration(atLeast: 2)
        #expect(try await harness.send("/other", host: "l.example.com").status == 200, "the reload landed")
        #expect(try await harness.send("/limited", host: "l.example.com").status == 429, "the client's bucket is still empty")
        let ejected = try await harness.send("/flaky", host: "l.example.com")
        #expect(ejected.status == 503 && ejected.text.contains("is ejected"), "\(ejected.text)")
        #expect(failing.requests.count == 1, "the ejected endpoint got nothing after the reload")
    }
}
