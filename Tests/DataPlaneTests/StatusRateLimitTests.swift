@testable import ArchwayCore
import Foundation
import GatewayAPI
@testable import Providers
import Testing

/// Status writes against a fake API server at the rate the flags allow, none for what is already
/// there, and the newest statuses first.
@Suite(.timeLimit(.minutes(2)))
struct StatusRateLimitTests {
    static let controller = KubernetesTests.controller

    /// An API server with `count` HTTPRoutes r0, r1, … and a KubernetesMode whose cache holds them.
    static func setUp(routes count: Int, qps: Double, burst: Int) async throws -> (FakeAPIServer, KubernetesMode) {
        let server = FakeAPIServer()
        try await server.start()
        try server.apply((0..<count).map { """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: r\($0), namespace: default}
            spec: {parentRefs: [{name: gw}]}
            """ }.joined(separator: "\n---\n"))
        var options = KubernetesMode.Options(connection: KubeConnection(server: server.url, token: "test-token"), lease: nil, identity: "replica-a")
        options.debounce = .milliseconds(50)
        options.apiQPS = qps
        options.apiBurst = burst
        let mode = try KubernetesMode(options: options, controllerName: controller, logger: KubernetesTests.logger)
        _ = await mode.provider.initialLoad()
        return (server, mode)
    }

    /// Each route's status as a publish computes it: Accepted with `reason`, stamped with `at`.
    static func statuses(routes count: Int, reason: String, at time: Date = Date()) throws -> [StatusUpdate] {
        let stamp = ISO8601DateFormatter().string(from: time)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys  // as KubernetesMode.publish encodes
        return try (0..<count).map { index in
            var condition = Condition(type: "Accepted", status: true, reason: reason, message: "", observedGeneration: 1)
            condition.lastTransitionTime = stamp
            let status = RouteStatus(parents: [RouteParentStatus(parentRef: ParentReference(name: "gw"), controllerName: controller,
                                                                  conditions: [condition])])
            return StatusUpdate(ref: ObjectRef(kind: "HTTPRoute", namespace: "default", name: "r\(index)"), status: try encoder.encode(status))
        }
    }

    static func accepted(_ server: FakeAPIServer, _ name: String) -> [String: Any]? {
        KubernetesTests.conditions(server.object(kind: "HTTPRoute", namespace: "default", name: name), at: ["status", "parents", "0"])["Accepted"]
    }

    @Test func writesKeepWithinBurstAndQPSAndAllLand() async throws {
        let (qps, burst, count) = (10.0, 5, 60)
        let (server, mode) = try await Self.setUp(routes: count, qps: qps, burst: burst)
        defer { Task { await mode.stop(); await server.stop() } }
        await mode.publish(try Self.statuses(routes: count, reason: "Accepted"))
        await mode.statusWritesIdle()

        for index in 0..<count {
            #expect(server.statusWriteCount("HTTPRoute", "default", "r\(index)") == 1, "r\(index)")
            #expect(Self.accepted(server, "r\(index)")?["reason"] as? String == "Accepted", "r\(index)")
        }
        // In every window between two PATCHes, no more than burst + qps × its length arrived: one
        // request and 50 ms of slack for the jitter of arrival times. Without a limit, sixty local
        // PATCHes arrive within a second or so and break this many times over.
        let times = server.statusPatchTimes
        #expect(times.count == count)
        var worst: (excess: Double, from: Int, to: Int) = (-.infinity, 0, 0)
        for from in times.indices {
            for to in times.indices where to >= from {
                let seconds = Double((times[to] - times[from]) / .milliseconds(1)) / 1000
                let excess = Double(to - from + 1) - (Double(burst) + qps * (seconds + 0.05) + 1)
                if excess > worst.excess { worst = (excess, from, to) }
            }
        }
        #expect(worst.excess <= 0, "PATCHes \(worst.from)...\(worst.to) arrived faster than burst \(burst) + \(qps)/s allows")
    }

    @Test func publishingTheSameStatusesAgainSendsNothing() async throws {
        let count = 20
        let (server, mode) = try await Self.setUp(routes: count, qps: 1000, burst: 1000)
        defer { Task { await mode.stop(); await server.stop() } }
        let first = Date(timeIntervalSinceNow: -5)
        await mode.publish(try Self.statuses(routes: count, reason: "Accepted", at: first))
        await mode.statusWritesIdle()
        #expect(server.totalStatusWrites == count)
        let compared = await mode.writer.comparisons
        // Our own writes come back as watch events; let them land in the cache first.
        try await Task.sleep(for: .milliseconds(300))

        // The same state published later: only its timestamps differ.
        await mode.publish(try Self.statuses(routes: count, reason: "Accepted", at: Date()))
        await mode.statusWritesIdle()
        #expect(server.totalStatusWrites == count, "nothing is sent again")
        #expect(await mode.writer.comparisons == compared, "each object is skipped without being compared")
        let kept = Self.accepted(server, "r0")?["lastTransitionTime"] as? String
        #expect(kept == ISO8601DateFormatter().string(from: first), "the first transition time stays")
    }

    /// Through the runtime's own publish (a StatusReport, stamped anew each time): the same
    /// configuration a second later is neither sent nor compared again.
    @Test func aRepublishedConfigurationIsSkippedWithoutComparing() async throws {
        let count = 10
        let (server, mode) = try await Self.setUp(routes: count, qps: 1000, burst: 1000)
        defer { Task { await mode.stop(); await server.stop() } }
        let snapshot = ResourceSnapshot(await mode.provider.cache.load().resources.map(\.resource))
        var statuses = StatusSet()
        for index in 0..<count {
            statuses.httpRoutes[NamespacedName("default", "r\(index)")] = RouteStatus(parents: [RouteParentStatus(
                parentRef: ParentReference(name: "gw"), controllerName: Self.controller,
                conditions: [Condition(type: "Accepted", status: true, reason: "Accepted", message: "")])])
        }
        await mode.publish(snapshot: snapshot, statuses: statuses, gatewayService: nil)
        await mode.statusWritesIdle()
        #expect(server.totalStatusWrites == count)
        let compared = await mode.writer.comparisons
        // Into the next second, so every condition carries another lastTransitionTime.
        try await Task.sleep(for: .milliseconds(1100))
        await mode.publish(snapshot: snapshot, statuses: statuses, gatewayService: nil)
        await mode.statusWritesIdle()
        #expect(server.totalStatusWrites == count, "nothing is sent again")
        #expect(await mode.writer.comparisons == compared, "each object is skipped without being compared")
    }

    @Test func aStatusChangedBehindArchwaysBackIsCorrectedOnTheNextPublish() async throws {
        let count = 5
        let (server, mode) = try await Self.setUp(routes: count, qps: 1000, burst: 1000)
        defer { Task { await mode.stop(); await server.stop() } }
        let updates = try Self.statuses(routes: count, reason: "Accepted")
        await mode.publish(updates)
        await mode.statusWritesIdle()
        #expect(server.totalStatusWrites == count)

        // Someone else rewrites r3's status; the watch brings its new resourceVersion to the cache.
        server.setStatus(kind: "HTTPRoute", namespace: "default", name: "r3", ["parents": [[
            "parentRef": ["name": "gw"], "controllerName": Self.controller,
            "conditions": [["type": "Accepted", "status": "False", "reason": "Tampered", "message": "", "lastTransitionTime": "2020-01-01T00:00:00Z"]],
        ]]])
        let ref = ObjectRef(kind: "HTTPRoute", namespace: "default", name: "r3")
        let version = (server.object(kind: "HTTPRoute", namespace: "default", name: "r3")?["metadata"] as? [String: Any])?["resourceVersion"] as? String
        try await KubernetesTests.waitUntil("the cache sees the other writer's change") {
            await mode.provider.cache.object(ref)?.resourceVersion == version
        }

        await mode.publish(updates)
        await mode.statusWritesIdle()
        #expect(Self.accepted(server, "r3")?["reason"] as? String == "Accepted")
        #expect(Self.accepted(server, "r3")?["status"] as? String == "True")
        #expect(server.statusWriteCount("HTTPRoute", "default", "r3") == 2)
        #expect(server.totalStatusWrites == count + 1, "only the changed object is written again")
    }

    /// A pass that has to wait for the rate limit takes time, in which others change objects: one
    /// settled object changed behind archway's back while an earlier object's write waited is
    /// compared at its turn and corrected in the same pass, not skipped on the version the pass began with.
    @Test func aStatusChangedWhileAPassWaitsForTheRateLimitIsCorrectedInThatPass() async throws {
        let count = 5
        let (server, mode) = try await Self.setUp(routes: count, qps: 1, burst: count)
        defer { Task { await mode.stop(); await server.stop() } }
        var updates = try Self.statuses(routes: count, reason: "Accepted")
        await mode.publish(updates)
        await mode.statusWritesIdle()
        #expect(server.totalStatusWrites == count, "the burst writes them all at once")

        // r0 changes, so its write waits ~1 s for a token; meanwhile someone rewrites r4's status.
        updates[0] = try Self.statuses(routes: 1, reason: "Changed")[0]
        await mode.publish(updates)
        server.setStatus(kind: "HTTPRoute", namespace: "default", name: "r4", ["parents": [[
            "parentRef": ["name": "gw"], "controllerName": Self.controller,
            "conditions": [["type": "Accepted", "status": "False", "reason": "Tampered", "message": "", "lastTransitionTime": "2020-01-01T00:00:00Z"]],
        ]]])
        let version = (server.object(kind: "HTTPRoute", namespace: "default", name: "r4")?["metadata"] as? [String: Any])?["resourceVersion"] as? String
        try await KubernetesTests.waitUntil("the cache sees the other writer's change") {
            await mode.provider.cache.object(ObjectRef(kind: "HTTPRoute", namespace: "default", name: "r4"))?.resourceVersion == version
        }
        #expect(server.statusWriteCount("HTTPRoute", "default", "r0") == 1, "r0's write is still waiting for its token")

        await mode.statusWritesIdle()
        #expect(Self.accepted(server, "r0")?["reason"] as? String == "Changed")
        #expect(Self.accepted(server, "r4")?["reason"] as? String == "Accepted", "corrected in the same pass")
        #expect(server.statusWriteCount("HTTPRoute", "default", "r4") == 2)
        #expect(server.totalStatusWrites == count + 2, "r0 and r4, nothing else")
    }

    /// A publish while a rate-limited batch is being written replaces the statuses not yet written:
    /// the writer does not finish the old batch first.
    @Test func aNewerPublishReplacesStatusesNotYetWritten() async throws {
        let count = 30
        let (server, mode) = try await Self.setUp(routes: count, qps: 10, burst: 2)
        defer { Task { await mode.stop(); await server.stop() } }
        await mode.publish(try Self.statuses(routes: count, reason: "Old"))
        try await KubernetesTests.waitUntil("a few old statuses are written") { server.totalStatusWrites >= 3 }
        let published = ContinuousClock.now
        await mode.publish(try Self.statuses(routes: count, reason: "New"))
        await mode.statusWritesIdle()

        for index in 0..<count {
            #expect(Self.accepted(server, "r\(index)")?["reason"] as? String == "New", "r\(index)")
        }
        // Each route needs exactly one write of the new status; at most one old one was already on its way.
        let afterwards = server.statusPatchTimes.filter { $0 > published }.count
        #expect(afterwards <= count + 1, "\(afterwards) PATCHes after the newer publish: old statuses kept being written")
    }
}
