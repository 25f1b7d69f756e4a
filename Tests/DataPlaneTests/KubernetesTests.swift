@testable import ArchwayCore
import Foundation
import GatewayAPI
import Logging
import Providers
import Testing
import Translator

/// `serve --kubernetes` against a fake API server: resources come from list and watch, traffic
/// follows them, status is written back by the one replica holding the Lease.
@Suite(.timeLimit(.minutes(2)))
struct KubernetesTests {
    static let controller = "archway.dev/gateway-controller"

    static var logger: Logger {
        var logger = Logger(label: "archway-k8s-test", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = ProcessInfo.processInfo.environment["ARCHWAY_TEST_LOG"] == nil ? .critical : .debug
        return logger
    }

    /// archway's own LoadBalancer Service, with the address the cloud gave it.
    static let archwayService = """
        apiVersion: v1
        kind: Service
        metadata: {name: archway, namespace: archway-system}
        spec: {type: LoadBalancer, clusterIP: 10.96.0.10, ports: [{name: http, port: 80, targetPort: 8080}]}
        status: {loadBalancer: {ingress: [{ip: 203.0.113.7}]}}
        """

    static func mode(_ server: FakeAPIServer, lease: NamespacedName? = nil, identity: String = "replica-a",
                     timing: LeaderElector.Timing = .init()) throws -> KubernetesMode {
        var options = KubernetesMode.Options(connection: KubeConnection(server: server.url, token: "test-token"), lease: lease, identity: identity)
        options.debounce = .milliseconds(100)
        options.timing = timing
        // Pages of two: every cluster test reads its lists page by page, as a large cluster is read.
        options.listPageSize = 2
        return try KubernetesMode(options: options, controllerName: controller, logger: logger)
    }

    /// An API server holding a Gateway, route `r` to echo backend `svc`, and archway's Service.
    static func cluster(group: GatewayHarness) async throws -> FakeAPIServer {
        let server = FakeAPIServer()
        try await server.start()
        try await group.startBackend("svc")
        try server.apply(Manifests.join(Manifests.gateway(), Manifests.service("svc", targetPort: group.backendPorts["svc"]!),
                                        Manifests.route("r", path: "/", service: "svc"), archwayService))
        return server
    }

    /// `cluster` plus a second echo backend `two` and route `r2` (PathPrefix /two) to it.
    static func clusterWithRouteTwo(group: GatewayHarness) async throws -> FakeAPIServer {
        let server = try await cluster(group: group)
        try await group.startBackend("two")
        try server.apply(Manifests.join(Manifests.service("two", targetPort: group.backendPorts["two"]!),
                                        Manifests.route("r2", path: "/two", service: "two")))
        return server
    }

    static func replica(_ server: FakeAPIServer, backends from: GatewayHarness? = nil, lease: NamespacedName? = nil, identity: String = "replica-a",
                        timing: LeaderElector.Timing = .init()) async throws -> GatewayHarness {
        let harness = from ?? GatewayHarness()
        harness.kubernetes = try mode(server, lease: lease, identity: identity, timing: timing)
        harness.gatewayService = NamespacedName("archway-system", "archway")
        try await harness.start()
        return harness
    }

    static func waitUntil(_ what: String, seconds: Double = 10, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("timed out waiting until \(what)")
        throw HarnessError.timeout(what)
    }

    static func conditions(_ object: [String: Any]?, at path: [String]) -> [String: [String: Any]] {
        var node: Any? = object
        for key in path {
            if let index = Int(key) { node = (node as? [Any]).flatMap { index < $0.count ? $0[index] : nil } } else { node = (node as? [String: Any])?[key] }
        }
        let list = (node as? [String: Any])?["conditions"] as? [[String: Any]] ?? []
        return Dictionary(list.map { ($0["type"] as? String ?? "", $0) }, uniquingKeysWith: { first, _ in first })
    }

    @Test func initialSyncServesTrafficAndWritesEachStatusOnce() async throws {
        let harness = GatewayHarness()
        let server = try await Self.cluster(group: harness)
        _ = try await Self.replica(server, backends: harness)
        defer { Task { await harness.stop(); await server.stop() } }

        #expect(try await harness.send("/", host: "any.example").echoName == "svc")
        try await Self.waitUntil("every status is written") {
            server.statusWriteCount("GatewayClass", nil, "archway") == 1 && server.statusWriteCount("Gateway", "default", "gw") == 1
                && server.statusWriteCount("HTTPRoute", "default", "r") == 1
        }
        let gateway = server.object(kind: "Gateway", namespace: "default", name: "gw")
        let status = gateway?["status"] as? [String: Any]
        let addresses = status?["addresses"] as? [[String: Any]] ?? []
        #expect(addresses.map { $0["value"] as? String } == ["203.0.113.7"], "the Gateway reports its Service's load-balancer address")
        let listeners = status?["listeners"] as? [[String: Any]] ?? []
        #expect(listeners.first?["attachedRoutes"] as? Int == 1)
        let programmed = Self.conditions(gateway, at: ["status"])["Programmed"]
        #expect(programmed?["status"] as? String == "True")
        #expect(programmed?["observedGeneration"] as? Int == 1)
        #expect(programmed?["lastTransitionTime"] as? String != nil)
        let route = server.object(kind: "HTTPRoute", namespace: "default", name: "r")
        let parent = ((route?["status"] as? [String: Any])?["parents"] as? [[String: Any]])?.first
        #expect(parent?["controllerName"] as? String == Self.controller)
        #expect(Self.conditions(route, at: ["status", "parents", "0"])["Accepted"]?["status"] as? String == "True")
        #expect(Self.conditions(server.object(kind: "GatewayClass", namespace: nil, name: "archway"), at: ["status"])["Accepted"]?["status"] as? String == "True")

        // Our own writes come back as watch events; they must not cause more writes.
        try await Task.sleep(for: .milliseconds(600))
        #expect(server.statusWriteCount("HTTPRoute", "default", "r") == 1)
        #expect(server.statusWriteCount("Gateway", "default", "gw") == 1)
        #expect(server.listCount("secrets") == 0, "no Secret is referenced, so none is read")
    }

    /// The runtime subscribes to changes after the initial load; a change arriving in between must
    /// still be applied, not wait for the next one.
    @Test func aChangeBeforeTheRuntimeSubscribesIsNotLost() async throws {
        let server = FakeAPIServer()
        try await server.start()
        try server.apply(Manifests.join(Manifests.gateway(), Manifests.route("r", path: "/", service: "svc")))
        let mode = try Self.mode(server)
        defer { Task { await mode.stop(); await server.stop() } }
        _ = await mode.provider.initialLoad()
        let loaded = await mode.provider.cache.revision
        try server.apply(Manifests.route("late", path: "/late", service: "svc"))
        try await Self.waitUntil("the watch brings the new route into the cache") { await mode.provider.cache.revision > loaded }

        let changes = await mode.provider.changes()
        let next = Task { () -> ManifestLoader.Result? in
            for await load in changes { return load }
            return nil
        }
        let timer = Task {
            try await Task.sleep(for: .seconds(3))
            next.cancel()
        }
        let load = await next.value
        timer.cancel()
        let routes = load.map { ResourceSnapshot($0.resources.map(\.resource)).httpRoutes.map(\.metadata.name) } ?? []
        #expect(routes.sorted() == ["late", "r"], "the change made before subscribing comes as the first load: \(routes)")
    }

    @Test func anotherControllersRouteStatusIsKept() async throws {
        let harness = GatewayHarness()
        let server = try await Self.cluster(group: harness)
        // Route r is also attached to a Gateway of another implementation, which already wrote its entry.
        try server.apply(Manifests.route("r", path: "/", service: "svc") + """

            status:
              parents:
              - parentRef: {name: other-gw}
                controllerName: example.com/other-controller
                conditions: [{type: Accepted, status: "True", reason: Accepted, message: theirs, lastTransitionTime: "2026-01-01T00:00:00Z"}]
            """)
        _ = try await Self.replica(server, backends: harness)
        defer { Task { await harness.stop(); await server.stop() } }
        try await Self.waitUntil("route r's status is written") { server.statusWriteCount("HTTPRoute", "default", "r") == 1 }
        let parents = (server.object(kind: "HTTPRoute", namespace: "default", name: "r")?["status"] as? [String: Any])?["parents"] as? [[String: Any]] ?? []
        #expect(parents.compactMap { $0["controllerName"] as? String }.sorted() == ["archway.dev/gateway-controller", "example.com/other-controller"])
        let theirs = parents.first { $0["controllerName"] as? String == "example.com/other-controller" }
        #expect((theirs?["conditions"] as? [[String: Any]])?.first?["message"] as? String == "theirs", "their entry is left exactly as it was")
    }

    @Test func anInvalidObjectNeitherStopsItsLastGoodVersionNorOtherChanges() async throws {
        let harness = GatewayHarness()
        let server = try await Self.clusterWithRouteTwo(group: harness)
        _ = try await Self.replica(server, backends: harness)
        defer { Task { await harness.stop(); await server.stop() } }
        #expect(try await harness.send("/two", host: "a").echoName == "two")

        // r2 is edited into something archway refuses (a timeout that is no duration): its last good
        // version keeps serving, and a change to another route still lands.
        try server.apply(Manifests.route("r2", path: "/two", service: "two", ruleFields: "timeouts: {request: soon}"))
        try server.apply(Manifests.route("r3", path: "/three", service: "two"))
        try await Self.waitUntil("a valid change lands next to the invalid object") { try await harness.send("/three", host: "a").echoName == "two" }
        #expect(try await harness.send("/two", host: "a").echoName == "two", "the invalid edit did not take the route down")
    }

    @Test func ingressesOfArchwaysClassGetTheLoadBalancerAddressOthersAreLeftAlone() async throws {
        let harness = GatewayHarness()
        harness.ingress = IngressServing(httpPort: 8000, httpsPort: 8443)
        harness.extraPortMap = [8000: 0]
        let server = try await Self.cluster(group: harness)
        func ingress(_ name: String, className: String) -> String {
            """
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata: {name: \(name)}
            spec:
              ingressClassName: \(className)
              rules: [{host: \(name).example, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: svc, port: {number: 80}}}}]}}]
            """
        }
        try server.apply(Manifests.join(
            Manifests.ingressClass(), Manifests.ingressClass("nginx", controller: "k8s.io/ingress-nginx"),
            ingress("ours", className: "archway"), ingress("theirs", className: "nginx")))
        _ = try await Self.replica(server, backends: harness)
        defer { Task { await harness.stop(); await server.stop() } }

        try await Self.waitUntil("the served Ingress gets its address") { server.statusWriteCount("Ingress", "default", "ours") == 1 }
        let balancer = (server.object(kind: "Ingress", namespace: "default", name: "ours")?["status"] as? [String: Any])?["loadBalancer"] as? [String: Any]
        #expect((balancer?["ingress"] as? [[String: Any]])?.map { $0["ip"] as? String } == ["203.0.113.7"])
        let port = await harness.hostPort(8000)
        let client = try await TestHTTPClient.connect(port: port, group: harness.group)
        #expect(try await client.request(.GET, "/", host: "ours.example").echoName == "svc", "and archway serves it")
        await client.close()
        try await Task.sleep(for: .milliseconds(300))
        #expect(server.statusWriteCount("Ingress", "default", "theirs") == 0, "another controller's Ingress is not touched")
    }

    @Test func routesAddedChangedAndDeletedWhileTrafficFlows() async throws {
        let harness = GatewayHarness()
        let server = try await Self.cluster(group: harness)
        try await harness.startBackend("two")
        try server.apply(Manifests.service("two", targetPort: harness.backendPorts["two"]!))
        _ = try await Self.replica(server, backends: harness)
        defer { Task { await harness.stop(); await server.stop() } }

        let stop = Stopwatch()
        let load = Task { () -> (ok: Int, failed: [String]) in
            let client = try await harness.client()
            var ok = 0
            var failed: [String] = []
            while !stop.isStopped {
                let response = try await client.request(.GET, "/steady", host: "any.example")
                if response.status == 200, response.echoName == "svc" { ok += 1 } else { failed.append("\(response.status) \(response.text)") }
            }
            await client.close()
            return (ok, failed)
        }

        try server.apply(Manifests.route("r2", path: "/new", service: "two"))
        try await Self.waitUntil("the added route serves") { try await harness.send("/new", host: "a").echoName == "two" }
        try await Self.waitUntil("the added route's status is written") { server.statusWriteCount("HTTPRoute", "default", "r2") == 1 }
        let accepted = Self.conditions(server.object(kind: "HTTPRoute", namespace: "default", name: "r2"), at: ["status", "parents", "0"])["Accepted"]

        try server.apply(Manifests.route("r2", path: "/newer", service: "two"))
        try await Self.waitUntil("the changed route serves") {
            try await harness.send("/newer", host: "a").echoName == "two"
        }
        #expect(try await harness.send("/new", host: "a").echoName == "svc", "the old path falls back to route r")
        try await Self.waitUntil("the changed route's status is written once more") { server.statusWriteCount("HTTPRoute", "default", "r2") == 2 }
        let after = Self.conditions(server.object(kind: "HTTPRoute", namespace: "default", name: "r2"), at: ["status", "parents", "0"])["Accepted"]
        #expect(after?["observedGeneration"] as? Int == 2)
        #expect(after?["lastTransitionTime"] as? String == accepted?["lastTransitionTime"] as? String,
                "Accepted stayed True, so its lastTransitionTime must not move")

        server.delete(kind: "HTTPRoute", namespace: "default", name: "r2")
        try await Self.waitUntil("the deleted route stops serving") { try await harness.send("/newer", host: "a").echoName == "svc" }
        stop.stop()
        let (ok, failed) = try await load.value
        #expect(ok > 20)
        #expect(failed.isEmpty, "requests on an untouched route failed during the changes: \(failed.prefix(3))")
        #expect(server.statusWriteCount("HTTPRoute", "default", "r") == 1, "route r never changed, so it was written once")
    }

    @Test func droppedWatchResumesAndExpiredHistoryRelists() async throws {
        let harness = GatewayHarness()
        let server = try await Self.clusterWithRouteTwo(group: harness)
        _ = try await Self.replica(server, backends: harness)
        defer { Task { await harness.stop(); await server.stop() } }
        #expect(try await harness.send("/two", host: "a").echoName == "two")
        #expect(server.listCount("httproutes") == 1)

        // A dropped watch resumes from the last version seen: no re-list, nothing missed.
        server.bookmark()
        server.dropWatches()
        try server.apply(Manifests.route("r3", path: "/three", service: "two"))
        try await Self.waitUntil("a route added while the watch was down serves") { try await harness.send("/three", host: "a").echoName == "two" }
        #expect(server.listCount("httproutes") == 1, "a resumed watch needs no re-list")
        let starts = server.watchStarts.filter { $0.resource == "httproutes" }
        #expect(starts.count >= 2)
        #expect(starts.dropFirst().allSatisfy { Int($0.version) ?? 0 >= Int(starts[0].version) ?? 0 }, "each watch resumes from a version at least the list's")

        // History lost: the resumed watch gets 410, the reflector lists again and sees the deletion.
        server.restartLosingHistory(deleting: "HTTPRoute", namespace: "default", name: "r2")
        try await Self.waitUntil("a route deleted while history was lost stops serving") {
            try await harness.send("/two", host: "a").echoName == "svc"
        }
        #expect(server.listCount("httproutes") == 2, "410 Gone leads to exactly one re-list")
        #expect(try await harness.send("/three", host: "a").echoName == "two", "routes that still exist keep serving after the re-list")
    }

    @Test func statusConflictIsRetriedAndBurstsAreDebounced() async throws {
        let harness = GatewayHarness()
        let server = try await Self.cluster(group: harness)
        _ = try await Self.replica(server, backends: harness)
        defer { Task { await harness.stop(); await server.stop() } }
        try await Self.waitUntil("route r's status is written") { server.statusWriteCount("HTTPRoute", "default", "r") == 1 }

        // Someone else's write got there first: 409, read again, write again.
        server.injectConflicts(1)
        try server.apply(Manifests.route("r", path: "/", service: "svc", ruleFields: "timeouts: {request: 5s}"))
        try await Self.waitUntil("the status is written despite the conflict") { server.statusWriteCount("HTTPRoute", "default", "r") == 2 }
        let accepted = Self.conditions(server.object(kind: "HTTPRoute", namespace: "default", name: "r"), at: ["status", "parents", "0"])["Accepted"]
        #expect(accepted?["observedGeneration"] as? Int == 2)

        // Thirty routes in a burst become a handful of routing-table swaps, not thirty.
        let before = await harness.runtime.generation
        for index in 0..<30 {
            try server.apply(Manifests.route("burst-\(index)", path: "/burst-\(index)", service: "svc"))
        }
        try await Self.waitUntil("the last route of the burst serves") {
            let response = try await harness.send("/burst-29", host: "a")
            return response.status == 200
        }
        try await Self.waitUntil("all thirty burst statuses are written") {
            (0..<30).allSatisfy { server.statusWriteCount("HTTPRoute", "default", "burst-\($0)") == 1 }
        }
        let swaps = await harness.runtime.generation - before
        #expect(swaps >= 1 && swaps <= 3, "30 events in a burst made \(swaps) routing-table swaps")
    }

    @Test func oneLeaderWritesStatusAndAnotherTakesOverWhenItStopsRenewing() async throws {
        let lease = NamespacedName("archway-system", "archway-leader")
        let timing = LeaderElector.Timing(leaseDuration: .seconds(1), renewDeadline: .milliseconds(700), retryPeriod: .milliseconds(150))
        let first = GatewayHarness()
        let server = try await Self.cluster(group: first)
        _ = try await Self.replica(server, backends: first, lease: lease, identity: "replica-a", timing: timing)
        try await Self.waitUntil("replica a leads") { await first.kubernetes!.isLeader }
        let second = GatewayHarness()
        second.extraPortMap = [:]
        _ = try await Self.replica(server, backends: second, lease: lease, identity: "replica-b", timing: timing)
        defer { Task { await first.stop(); await second.stop(); await server.stop() } }

        // Both serve; only a writes.
        #expect(try await second.send("/", host: "a").status == 200, "a follower serves traffic too")
        try await Self.waitUntil("route r's status is written") { server.statusWriteCount("HTTPRoute", "default", "r") == 1 }
        try await Task.sleep(for: .milliseconds(500))
        #expect(await second.kubernetes!.isLeader == false)
        #expect(server.statusWriteCount("HTTPRoute", "default", "r") == 1, "two replicas, one write")
        let leaseObject = { (server.object(kind: "Lease", namespace: "archway-system", name: "archway-leader")?["spec"] as? [String: Any]) ?? [:] }
        #expect(leaseObject()["holderIdentity"] as? String == "replica-a")

        // a stops renewing without letting go (a crash): b waits out the lease, then takes over and writes.
        await first.kubernetes!.stopRenewing()
        try await Self.waitUntil("replica b takes over", seconds: 5) { await second.kubernetes!.isLeader }
        #expect(leaseObject()["holderIdentity"] as? String == "replica-b")
        #expect(leaseObject()["leaseTransitions"] as? Int == 1)
        try server.apply(Manifests.route("r", path: "/", service: "svc", ruleFields: "timeouts: {request: 5s}"))
        try await Self.waitUntil("the new leader writes the changed status") { server.statusWriteCount("HTTPRoute", "default", "r") == 2 }

        // A clean shutdown hands the lease back at once.
        await second.runtime.shutdown()
        #expect(leaseObject()["holderIdentity"] as? String == "")
    }
}
