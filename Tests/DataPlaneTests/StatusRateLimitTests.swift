@testable import ArchwayCore
import Foundation
import GatewayAPI
@testable import Providers
import Testing

/// Status writes against a fake API server at the rate the flags allow, and the newest statuses first.
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
