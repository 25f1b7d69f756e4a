import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

/// archway.dev/v1alpha1 Rollout end to end, over real sockets: a gateway in front of a stable and a
/// canary backend whose behaviour (status, added latency) the test switches while steady traffic
/// flows, with accelerated timing (1 s analysis intervals, 1–2 s steps). Each test reads who answered
/// every client request, the Rollout's status on the admin endpoint, and the metrics.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct RolloutTests {
    // MARK: Helpers

    /// An HTTP/1.1 backend answering `status` after `delayMillis`, both switchable at runtime, with its
    /// name in `x-echo-name` (as the echo backend) and as the body. Counts what reached it.
    final class SwitchableBackend: Sendable {
        struct Behaviour: Sendable {
            var status = 200
            var delayMillis = 0
        }
        let name: String
        let behaviour = NIOLockedValueBox(Behaviour())
        let hits = NIOLockedValueBox(0)
        private let listener = LoopbackHTTPListener()

        init(name: String) { self.name = name }

        func start(group: any EventLoopGroup) async throws -> Int {
            try await listener.start(group: group) { SwitchableHandler(backend: self) }
        }

        func set(status: Int? = nil, delayMillis: Int? = nil) {
            behaviour.withLockedValue {
                if let status { $0.status = status }
                if let delayMillis { $0.delayMillis = delayMillis }
            }
        }

        var hitCount: Int { hits.withLockedValue { $0 } }

        func stop() async { await listener.stop() }
    }

    final class SwitchableHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let backend: SwitchableBackend

        init(backend: SwitchableBackend) { self.backend = backend }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            backend.hits.withLockedValue { $0 += 1 }
            let behaviour = backend.behaviour.withLockedValue { $0 }
            let body = context.channel.allocator.buffer(string: backend.name)
            let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: behaviour.status),
                                        headers: ["content-length": String(body.readableBytes), "x-echo-name": backend.name])
            func respond() {
                guard context.channel.isActive else { return }
                context.write(wrapOutboundOut(.head(head)), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
            if behaviour.delayMillis > 0 {
                context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(behaviour.delayMillis))) { respond() }
            } else {
                respond()
            }
        }
    }

    /// One client response: when it was sent and answered, its status, and who answered (`x-echo-name`;
    /// nil when the gateway answered itself or the request failed, status 0).
    struct Sample: Sendable {
        var path: String
        var sent: ContinuousClock.Instant
        var answered: ContinuousClock.Instant
        var status: Int
        var name: String?
    }

    /// Steady traffic: `connections` keep-alive connections, each sending one request every
    /// `period` to each of `paths` in turn, recording every answer.
    final class Load: Sendable {
        let samples = NIOLockedValueBox<[Sample]>([])
        private let tasks = NIOLockedValueBox<[Task<Void, Never>]>([])

        init(_ harness: GatewayHarness, paths: [String] = ["/"], connections: Int = 5, period: Duration = .milliseconds(60)) {
            var started: [Task<Void, Never>] = []
            for worker in 0..<connections {
                started.append(Task { [samples] in
                    var client: TestHTTPClient?
                    var turn = worker
                    while !Task.isCancelled {
                        let path = paths[turn % paths.count]
                        turn += 1
                        let sent = ContinuousClock.now
                        do {
                            if client == nil { client = try await harness.client() }
                            let response = try await client!.request(.GET, path, host: "app.example")
                            samples.withLockedValue {
                                $0.append(Sample(path: path, sent: sent, answered: .now, status: response.status,
                                                 name: response.headers.first(name: "x-echo-name")))
                            }
                        } catch {
                            samples.withLockedValue { $0.append(Sample(path: path, sent: sent, answered: .now, status: 0, name: nil)) }
                            if let old = client { await old.close() }
                            client = nil
                        }
                        try? await Task.sleep(until: sent + period, clock: .continuous)
                    }
                    if let client { await client.close() }
                })
            }
            tasks.withLockedValue { $0 = started }
        }

        var all: [Sample] { samples.withLockedValue { $0 } }

        func stop() async {
            let running = tasks.withLockedValue { $0 }
            for task in running { task.cancel() }
            for task in running { await task.value }
        }
    }

    /// The Rollout's status on the admin endpoint (`archway status`'s JSON).
    static func status(_ harness: GatewayHarness, _ name: String) async throws -> [String: Any]? {
        try await harness.statusItems().first {
            $0["kind"] as? String == "Rollout" && ($0["metadata"] as? [String: Any])?["name"] as? String == name
        }?["status"] as? [String: Any]
    }

    static func progress(_ harness: GatewayHarness, _ name: String) async throws -> (phase: String, step: Int, message: String)? {
        guard let progress = try await status(harness, name)?["progress"] as? [String: Any],
              let phase = progress["phase"] as? String, let step = progress["step"] as? Int else { return nil }
        return (phase, step, progress["message"] as? String ?? "")
    }

    /// A metric sample of the Rollout `name` (any label order).
    static func metric(_ harness: GatewayHarness, _ metric: String, rollout name: String) async throws -> Double? {
        try await MetricsTests.scrape(harness).first { key, _ in
            key.hasPrefix(metric + "{") && key.contains("rollout=\"\(name)\"") && key.contains("namespace=\"default\"")
        }?.value
    }

    /// Waits until `condition` holds for the Rollout's progress; returns the progress.
    @discardableResult
    static func waitFor(_ harness: GatewayHarness, _ name: String, _ what: String, seconds: Double = 15,
                        _ condition: @escaping (String, Int) -> Bool) async throws -> (phase: String, step: Int, message: String) {
        var last: (phase: String, step: Int, message: String)?
        try await KubernetesTests.waitUntil("\(name): \(what)", seconds: seconds) {
            last = try await progress(harness, name)
            return last.map { condition($0.phase, $0.step) } ?? false
        }
        return last!
    }

    /// Gateway, Services for the backends, and HTTPRoute `app` whose rules (name, path prefix, stable,
    /// canary) list stable and the canary at weight 0.
    static func manifests(_ services: [(String, Int)], rules: [(name: String, path: String, stable: String, canary: String)], rollouts: [String]) -> String {
        let routeRules = rules.map { rule in
            """
              - name: \(rule.name)
                matches: [{path: {type: PathPrefix, value: \(rule.path)}}]
                backendRefs: [{name: \(rule.stable), port: 80}, {name: \(rule.canary), port: 80, weight: 0}]
            """
        }.joined(separator: "\n")
        let route = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: app}
        spec:
          parentRefs: [{name: gw}]
          rules:
        \(routeRules)
        """
        let documents = [Manifests.gateway()] + services.map { Manifests.service($0.0, targetPort: $0.1) } + [route] + rollouts
        return documents.joined(separator: "\n---\n") + "\n"
    }

    static func rollout(_ name: String, rule: String, stable: String, canary: String, steps: String, analysis: String) -> String {
        """
        apiVersion: archway.dev/v1alpha1
        kind: Rollout
        metadata: {name: \(name)}
        spec:
          targetRef: {kind: HTTPRoute, name: app, sectionName: \(rule)}
          stable: {name: \(stable)}
          canary: {name: \(canary)}
          steps:
        \(steps.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
          analysis: \(analysis)
        """
    }

    /// A harness with a stable and a canary switchable backend behind rule `main` (path /) of `app`.
    static func start(steps: String, analysis: String = "{interval: 1s, minRequests: 5, maxErrorRate: 5}",
                      stateDirectory: String? = nil) async throws -> (GatewayHarness, stable: SwitchableBackend, canary: SwitchableBackend) {
        let harness = GatewayHarness()
        harness.stateDirectory = stateDirectory
        let stable = SwitchableBackend(name: "stable")
        let canary = SwitchableBackend(name: "canary")
        let stablePort = try await stable.start(group: harness.group)
        let canaryPort = try await canary.start(group: harness.group)
        try harness.write("app.yaml", manifests([("stable", stablePort), ("canary", canaryPort)],
                                                rules: [("main", "/", "stable", "canary")],
                                                rollouts: [rollout("ship", rule: "main", stable: "stable", canary: "canary", steps: steps, analysis: analysis)]))
        try await harness.start()
        return (harness, stable, canary)
    }

    /// Canary share of the answered requests among `samples`.
    static func canaryShare(_ samples: [Sample], canary: String = "canary") -> Double {
        let answered = samples.filter { $0.name != nil }
        guard !answered.isEmpty else { return -1 }
        return Double(answered.filter { $0.name == canary }.count) / Double(answered.count)
    }

    // MARK: Tests

    /// A healthy canary walks a shadow step and three weight steps to Promoted; the canary's share of
    /// live answers rises with the steps; the status says what to write into the route.
    @Test func healthyCanaryWalksEveryStepToPromoted() async throws {
        let (harness, stable, canary) = try await Self.start(steps: """
            - {shadow: 50, duration: 1s}
            - {weight: 20, duration: 2s}
            - {weight: 50, duration: 2s}
            - {weight: 100, duration: 1s}
            """)
        defer { Task { await stable.stop(); await canary.stop(); await harness.stop() } }
        let began = ContinuousClock.now
        let load = Load(harness)
        // The poller notes when each step was first seen, so answers can be attributed to steps.
        var seen: [(step: Int, phase: String, at: ContinuousClock.Instant)] = []
        try await KubernetesTests.waitUntil("promoted", seconds: 20) {
            guard let now = try await Self.progress(harness, "ship") else { return false }
            if seen.last.map({ $0.step != now.step || $0.phase != now.phase }) ?? true { seen.append((now.step, now.phase, .now)) }
            #expect(now.phase == "Progressing" || now.phase == "Promoted", "\(now.message)")
            return now.phase == "Promoted"
        }
        let promotedAt = ContinuousClock.now
        try await Task.sleep(for: .seconds(1))
        await load.stop()
        let samples = load.all
        #expect(samples.allSatisfy { $0.status == 200 }, "every client request answered 200")
        #expect(seen.map(\.step) == [0, 1, 2, 3, 3], "each step seen in order: \(seen.map { "\($0.phase) \($0.step)" })")

        // Shares per step, away from the transitions (poll lag 50 ms, apply margin 100 ms).
        func share(from: ContinuousClock.Instant, to: ContinuousClock.Instant) -> Double {
            Self.canaryShare(samples.filter { $0.sent >= from + .milliseconds(150) && $0.answered <= to - .milliseconds(150) })
        }
        var shares: [Double] = []
        for (index, entry) in seen.enumerated() where entry.phase == "Progressing" {
            shares.append(share(from: entry.at, to: index + 1 < seen.count ? seen[index + 1].at : promotedAt))
        }
        let afterPromotion = Self.canaryShare(samples.filter { $0.sent >= promotedAt + .milliseconds(150) })
        print("rollout shares per step: \(shares), after promotion \(afterPromotion), \(samples.count) requests in \(ContinuousClock.now - began)")
        #expect(shares.count == 4)
        if shares.count == 4 {
            #expect(shares[0] == 0, "shadow step: no live answer from the canary")
            #expect((0.08...0.35).contains(shares[1]), "20% step: \(shares[1])")
            #expect((0.35...0.65).contains(shares[2]), "50% step: \(shares[2])")
            #expect(shares[3] >= 0.99, "100% step: \(shares[3])")
            #expect(shares[0] < shares[1] && shares[1] < shares[2] && shares[2] < shares[3])
        }
        #expect(afterPromotion == 1, "promoted: every answer from the canary")
        #expect(canary.hitCount > samples.filter { $0.name == "canary" }.count, "the shadow step mirrored copies to the canary")

        let status = try #require(try await Self.status(harness, "ship"))
        #expect(status["canaryWeight"] as? Int == 100)
        let message = status["message"] as? String ?? ""
        #expect(message.contains("promoted"), "\(message)")
        #expect(message.contains("backendRefs [{name: canary"), "\(message)")
        #expect(message.contains("weight: 100"), "\(message)")
        #expect(try await Self.metric(harness, "gateway_rollout_canary_weight", rollout: "ship") == 100)
        #expect(try await Self.metric(harness, "gateway_rollout_step", rollout: "ship") == 4)
        #expect(try await Self.metric(harness, "archway_rollout_rollbacks_total", rollout: "ship") ?? 0 == 0)
    }

    /// A canary that starts answering 5xx on the 20% step is rolled back within about one interval:
    /// the only failed answers are the canary's before the rollback, and afterwards stable answers all.
    @Test func failingCanaryIsRolledBackWithinAnInterval() async throws {
        let (harness, stable, canary) = try await Self.start(steps: """
            - {weight: 10, duration: 1s}
            - {weight: 20, duration: 3s}
            - {weight: 50, duration: 2s}
            """)
        defer { Task { await stable.stop(); await canary.stop(); await harness.stop() } }
        let load = Load(harness)
        try await Self.waitFor(harness, "ship", "on the 20% step") { phase, step in phase == "Progressing" && step == 1 }
        canary.set(status: 503)
        let broke = ContinuousClock.now
        let rolledBack = try await Self.waitFor(harness, "ship", "rolled back", seconds: 5) { phase, _ in phase != "Progressing" }
        let rolledBackAt = ContinuousClock.now
        try await Task.sleep(for: .seconds(1.5))
        await load.stop()
        let samples = load.all

        #expect(rolledBack.phase == "RolledBack")
        #expect(rolledBack.step == 1)
        #expect(rolledBack.message.contains("error rate"), "\(rolledBack.message)")
        #expect(rolledBack.message.contains("maxErrorRate"), "\(rolledBack.message)")
        let reaction = rolledBackAt - broke
        #expect(reaction < .milliseconds(2_300), "rolled back within about one analysis interval: \(reaction)")

        let failed = samples.filter { $0.status != 200 }
        #expect(failed.allSatisfy { $0.status == 503 && $0.name == "canary" }, "only the canary's own 5xx: \(failed.map { "\($0.status) \($0.name ?? "-")" })")
        // A request sent just before the canary broke can reach it just after and fail: the window opens
        // with the answers that came after the break, and closes with the requests sent before the rollback.
        let outside = failed.filter { $0.answered < broke || $0.sent > rolledBackAt }
            .map { "answered \($0.answered - broke) after the break, sent \($0.sent - rolledBackAt) after the rollback" }
        #expect(outside.isEmpty, "failures only between the break and the rollback: \(outside)")
        #expect(!failed.isEmpty)
        // Bounded by 20% of the traffic during the time it took (about 1–2 intervals).
        let duringWindow = samples.filter { $0.sent >= broke && $0.sent <= rolledBackAt }.count
        #expect(Double(failed.count) <= 0.4 * Double(duringWindow) + 3, "\(failed.count) failures of \(duringWindow) requests")
        #expect(failed.count <= 40, "\(failed.count) failures")
        print("rollback: \(failed.count) failed of \(duringWindow) requests in \(reaction)")

        let after = samples.filter { $0.sent >= rolledBackAt + .milliseconds(150) }
        #expect(after.count > 20)
        #expect(after.allSatisfy { $0.name == "stable" && $0.status == 200 }, "after the rollback stable answers everything")
        let status = try #require(try await Self.status(harness, "ship"))
        #expect(status["canaryWeight"] as? Int == 0)
        #expect(try await Self.metric(harness, "archway_rollout_rollbacks_total", rollout: "ship") == 1)
        #expect(try await Self.metric(harness, "gateway_rollout_canary_weight", rollout: "ship") == 0)
    }

    /// A canary that only gets slow (+300 ms) fails maxLatencyP99 and is rolled back; the message names p99.
    @Test func slowCanaryIsRolledBackByLatency() async throws {
        let (harness, stable, canary) = try await Self.start(steps: """
            - {weight: 20, duration: 2s}
            - {weight: 50, duration: 2s}
            """, analysis: "{interval: 1s, minRequests: 5, maxErrorRate: 5, maxLatencyP99: 100ms}")
        defer { Task { await stable.stop(); await canary.stop(); await harness.stop() } }
        let load = Load(harness, connections: 6)
        try await Self.waitFor(harness, "ship", "progressing") { phase, _ in phase == "Progressing" }
        canary.set(delayMillis: 300)
        let slowed = ContinuousClock.now
        let rolledBack = try await Self.waitFor(harness, "ship", "rolled back", seconds: 6) { phase, _ in phase != "Progressing" }
        let rolledBackAt = ContinuousClock.now
        try await Task.sleep(for: .seconds(1))
        await load.stop()
        let samples = load.all
        #expect(rolledBack.phase == "RolledBack")
        #expect(rolledBack.step == 0)
        #expect(rolledBack.message.contains("p99"), "\(rolledBack.message)")
        #expect(rolledBack.message.contains("maxLatencyP99 100ms"), "\(rolledBack.message)")
        #expect(rolledBackAt - slowed < .milliseconds(2_600), "\(rolledBackAt - slowed)")
        #expect(samples.allSatisfy { $0.status == 200 }, "slow, never failing")
        let after = samples.filter { $0.sent >= rolledBackAt + .milliseconds(150) }
        #expect(!after.isEmpty && after.allSatisfy { $0.name == "stable" })
        #expect(try await Self.metric(harness, "archway_rollout_rollbacks_total", rollout: "ship") == 1)
    }

    /// A shadow step whose canary answers 5xx (to the copies) is rolled back before any live request
    /// ever reaches the canary.
    @Test func failingShadowStopsBeforeLiveTraffic() async throws {
        let harness = GatewayHarness()
        let stable = SwitchableBackend(name: "stable")
        let canary = SwitchableBackend(name: "canary")
        canary.set(status: 500)
        let stablePort = try await stable.start(group: harness.group)
        let canaryPort = try await canary.start(group: harness.group)
        defer { Task { await stable.stop(); await canary.stop(); await harness.stop() } }
        try harness.write("app.yaml", Self.manifests([("stable", stablePort), ("canary", canaryPort)], rules: [("main", "/", "stable", "canary")],
                                                     rollouts: [Self.rollout("ship", rule: "main", stable: "stable", canary: "canary", steps: """
                                                         - {shadow: 100, duration: 1s}
                                                         - {weight: 50, duration: 1s}
                                                         """, analysis: "{interval: 1s, minRequests: 5, maxErrorRate: 5}")]))
        try await harness.start()
        let load = Load(harness)
        let rolledBack = try await Self.waitFor(harness, "ship", "rolled back", seconds: 8) { phase, _ in phase != "Progressing" && phase != "Waiting" }
        try await Task.sleep(for: .seconds(1.5))
        await load.stop()
        let samples = load.all
        #expect(rolledBack.phase == "RolledBack")
        #expect(rolledBack.step == 0, "stopped on the shadow step")
        #expect(rolledBack.message.contains("error rate"), "\(rolledBack.message)")
        #expect(samples.count > 50)
        #expect(samples.allSatisfy { $0.status == 200 && $0.name == "stable" }, "no live request reached the canary")
        #expect(canary.hitCount > 0, "the canary saw the shadow copies")
        #expect(try await Self.metric(harness, "archway_rollout_rollbacks_total", rollout: "ship") == 1)
    }

    /// Progress kept in the state directory: a restarted gateway resumes on the same step with that
    /// step's weight, not from the first step and not promoted.
    @Test func restartResumesOnTheSameStep() async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("archway-rollout-state-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: state) }
        let steps = """
            - {weight: 10, duration: 1s}
            - {weight: 40, duration: 60s}
            - {weight: 100, duration: 1s}
            """
        let (first, stable, canary) = try await Self.start(steps: steps, stateDirectory: state)
        let load = Load(first)
        let before = try await Self.waitFor(first, "ship", "on the second step") { phase, step in phase == "Progressing" && step == 1 }
        let startedAt = (try await Self.status(first, "ship")?["progress"] as? [String: Any])?["stepStartedAt"] as? String
        await load.stop()
        await stable.stop()
        await canary.stop()
        await first.stop()
        #expect(FileManager.default.fileExists(atPath: state + "/rollouts.json"))

        let (second, stable2, canary2) = try await Self.start(steps: steps, stateDirectory: state)
        defer { Task { await stable2.stop(); await canary2.stop(); await second.stop() } }
        let status = try #require(try await Self.status(second, "ship"))
        let progress = try #require(status["progress"] as? [String: Any])
        #expect(progress["phase"] as? String == "Progressing")
        #expect(progress["step"] as? Int == before.step)
        #expect(progress["stepStartedAt"] as? String == startedAt, "the step keeps its start")
        #expect(status["canaryWeight"] as? Int == 40)
        #expect(try await Self.metric(second, "gateway_rollout_step", rollout: "ship") == 2)
        #expect(try await Self.metric(second, "gateway_rollout_canary_weight", rollout: "ship") == 40)

        let resumed = Load(second)
        try await Task.sleep(for: .seconds(3))
        await resumed.stop()
        let share = Self.canaryShare(resumed.all)
        #expect((0.25...0.55).contains(share), "the 40% step served after the restart: \(share) of \(resumed.all.count)")
        let after = try #require(try await Self.progress(second, "ship"))
        #expect(after.phase == "Progressing" && after.step == 1, "still on the second step: \(after)")
    }

    /// Two Rollouts on two rules of one route: one canary fails and is rolled back, the other is
    /// promoted, each rule served by its own outcome.
    @Test func rolloutsOnTwoRulesAreIndependent() async throws {
        let harness = GatewayHarness()
        var backends: [String: SwitchableBackend] = [:]
        var services: [(String, Int)] = []
        for name in ["a-stable", "a-canary", "b-stable", "b-canary"] {
            let backend = SwitchableBackend(name: name)
            backends[name] = backend
            services.append((name, try await backend.start(group: harness.group)))
        }
        let all = backends
        defer { Task { for backend in all.values { await backend.stop() }; await harness.stop() } }
        backends["a-canary"]!.set(status: 502)
        let steps = """
            - {weight: 30, duration: 1s}
            - {weight: 60, duration: 1s}
            """
        let analysis = "{interval: 1s, minRequests: 5, maxErrorRate: 5}"
        try harness.write("app.yaml", Self.manifests(services, rules: [("a", "/a", "a-stable", "a-canary"), ("b", "/b", "b-stable", "b-canary")],
                                                     rollouts: [Self.rollout("roll-a", rule: "a", stable: "a-stable", canary: "a-canary", steps: steps, analysis: analysis),
                                                                Self.rollout("roll-b", rule: "b", stable: "b-stable", canary: "b-canary", steps: steps, analysis: analysis)]))
        try await harness.start()
        let load = Load(harness, paths: ["/a", "/b"], connections: 6)
        let a = try await Self.waitFor(harness, "roll-a", "rolled back", seconds: 8) { phase, _ in phase == "RolledBack" || phase == "Promoted" }
        let b = try await Self.waitFor(harness, "roll-b", "promoted", seconds: 12) { phase, _ in phase == "RolledBack" || phase == "Promoted" }
        let settled = ContinuousClock.now
        try await Task.sleep(for: .seconds(1))
        await load.stop()
        #expect(a.phase == "RolledBack", "\(a.message)")
        #expect(b.phase == "Promoted", "\(b.message)")
        let after = load.all.filter { $0.sent >= settled + .milliseconds(150) }
        let afterA = after.filter { $0.path == "/a" }
        let afterB = after.filter { $0.path == "/b" }
        #expect(!afterA.isEmpty && afterA.allSatisfy { $0.name == "a-stable" && $0.status == 200 })
        #expect(!afterB.isEmpty && afterB.allSatisfy { $0.name == "b-canary" && $0.status == 200 })
        #expect(load.all.filter { $0.path == "/b" }.allSatisfy { $0.status == 200 }, "rule b never failed")
        #expect(try await Self.metric(harness, "archway_rollout_rollbacks_total", rollout: "roll-a") == 1)
        #expect(try await Self.metric(harness, "archway_rollout_rollbacks_total", rollout: "roll-b") ?? 0 == 0)
        #expect(try await Self.metric(harness, "gateway_rollout_canary_weight", rollout: "roll-a") == 0)
        #expect(try await Self.metric(harness, "gateway_rollout_canary_weight", rollout: "roll-b") == 100)
    }

    /// A testers step: requests with the testers' header (or cookie) go to the canary, everyone else
    /// to stable; the canary gets no share of the rest (weight 0).
    @Test func testersStepSendsOnlyTestersToTheCanary() async throws {
        let (harness, stable, canary) = try await Self.start(steps: """
            - {testers: {header: {name: x-tester, value: "yes"}}, duration: 60s}
            - {weight: 50}
            """)
        defer { Task { await stable.stop(); await canary.stop(); await harness.stop() } }
        let load = Load(harness, connections: 2)
        try await Self.waitFor(harness, "ship", "on the testers step") { phase, step in phase == "Progressing" && step == 0 }
        try await Task.sleep(for: .milliseconds(200))
        let client = try await harness.client()
        var testerNames: [String?] = []
        for _ in 0..<20 {
            testerNames.append(try await client.request(.GET, "/x", host: "app.example", headers: [("x-tester", "yes")]).headers.first(name: "x-echo-name"))
        }
        let other = try await client.request(.GET, "/x", host: "app.example", headers: [("x-tester", "no")]).headers.first(name: "x-echo-name")
        await client.close()
        await load.stop()
        #expect(testerNames.allSatisfy { $0 == "canary" }, "testers reach the canary: \(testerNames)")
        #expect(other == "stable", "another header value is not a tester")
        let plain = load.all.filter { $0.sent >= load.all.first!.sent + .milliseconds(300) }
        #expect(!plain.isEmpty && plain.allSatisfy { $0.name == "stable" }, "everyone else reaches stable")
        let status = try #require(try await Self.status(harness, "ship"))
        #expect(status["canaryWeight"] as? Int == 0)
        #expect((status["progress"] as? [String: Any])?["step"] as? Int == 0)
    }

    /// A Rollout whose canary is not a backendRef of the rule is not accepted and changes nothing.
    @Test func rolloutNamingAnotherBackendIsNotAccepted() async throws {
        let harness = GatewayHarness()
        let stable = SwitchableBackend(name: "stable")
        let canary = SwitchableBackend(name: "canary")
        let stablePort = try await stable.start(group: harness.group)
        let canaryPort = try await canary.start(group: harness.group)
        defer { Task { await stable.stop(); await canary.stop(); await harness.stop() } }
        try harness.write("app.yaml", Self.manifests([("stable", stablePort), ("canary", canaryPort)], rules: [("main", "/", "stable", "canary")],
                                                     rollouts: [Self.rollout("ship", rule: "main", stable: "stable", canary: "elsewhere", steps: """
                                                         - {weight: 100, duration: 1s}
                                                         """, analysis: "{interval: 1s, minRequests: 1}")]))
        try await harness.start()
        let load = Load(harness, connections: 2)
        try await Task.sleep(for: .seconds(1.5))
        await load.stop()
        let status = try #require(try await Self.status(harness, "ship"))
        let accepted = (status["conditions"] as? [[String: Any]])?.first { $0["type"] as? String == "Accepted" }
        #expect(accepted?["status"] as? String == "False")
        #expect(accepted?["reason"] as? String == "BackendNotFound")
        #expect((accepted?["message"] as? String ?? "").contains("elsewhere"))
        #expect(status["progress"] == nil)
        #expect(!load.all.isEmpty && load.all.allSatisfy { $0.name == "stable" }, "the route's own weights (canary 0) serve")
    }

    /// A cookie testers step matches the cookie exactly (name and value), wherever it sits in the header.
    @Test func cookieTestersMatchTheWholeCookie() async throws {
        let (harness, stable, canary) = try await Self.start(steps: """
            - {testers: {cookie: "tester=1"}, duration: 60s}
            - {weight: 50}
            """)
        defer { Task { await stable.stop(); await canary.stop(); await harness.stop() } }
        try await Self.waitFor(harness, "ship", "on the testers step") { phase, step in phase == "Progressing" && step == 0 }
        try await Task.sleep(for: .milliseconds(200))
        let client = try await harness.client()
        defer { Task { await client.close() } }
        func who(_ cookie: String) async throws -> String? {
            try await client.request(.GET, "/", host: "app.example", headers: [("cookie", cookie)]).headers.first(name: "x-echo-name")
        }
        #expect(try await who("tester=1") == "canary")
        #expect(try await who("a=b; tester=1") == "canary")
        #expect(try await who("tester=1; a=b") == "canary")
        #expect(try await who("tester=12") == "stable")
        #expect(try await who("xtester=1") == "stable")
        #expect(try await who("a=tester=1") == "stable")
        #expect(try await client.request(.GET, "/", host: "app.example").headers.first(name: "x-echo-name") == "stable")
    }

    /// sessionPersistence keeps clients where they are while a step changes the weights (a stable
    /// client stays on stable, a canary client on the canary); an abort sends everyone to stable,
    /// the canary's sessions included.
    @Test func sessionsStayAcrossStepsAndLeaveTheCanaryOnAbort() async throws {
        let (harness, stable, canary) = try await Self.start(steps: """
            - {weight: 50, duration: 1500ms}
            - {weight: 60, duration: 60s}
            """, analysis: "{interval: 1s, minRequests: 1, maxErrorRate: 50}")
        defer { Task { await harness.stop(); await stable.stop(); await canary.stop() } }
        let load = Load(harness, connections: 2)
        defer { Task { await load.stop() } }
        let manifests = try harness.read("app.yaml")
            .replacingOccurrences(of: "weight: 0}]\n", with: "weight: 0}]\n    sessionPersistence: {sessionName: app-session}\n")
        try harness.write("app.yaml", manifests)
        try await KubernetesTests.waitUntil("the rule has session persistence and the rollout runs at 50%") {
            guard let status = try await Self.status(harness, "ship") else { return false }
            return status["canaryWeight"] as? Int == 50
        }
        // A session on each backend: fresh requests until each has answered once, keeping its cookie.
        var cookies: [String: String] = [:]
        for _ in 0..<60 where cookies.count < 2 {
            let response = try await harness.send("/", host: "app.example")
            guard let name = response.headers.first(name: "x-echo-name"), cookies[name] == nil,
                  let cookie = response.headers.first(name: "set-cookie")?.split(separator: ";").first else { continue }
            cookies[name] = String(cookie)
        }
        let stableCookie = try #require(cookies["stable"]), canaryCookie = try #require(cookies["canary"])
        func who(_ cookie: String) async throws -> String? {
            try await harness.send("/", host: "app.example", headers: [("Cookie", cookie)]).headers.first(name: "x-echo-name")
        }
        try await Self.waitFor(harness, "ship", "the second step") { $0 == "Progressing" && $1 == 1 }
        for _ in 0..<10 {
            #expect(try await who(stableCookie) == "stable", "a stable session moved at a step")
            #expect(try await who(canaryCookie) == "canary", "a canary session moved at a step")
        }
        let abort = try await ExternalTool.runOffThePool("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                                                                       "http://127.0.0.1:\(harness.adminPort)/rollouts/default/ship/abort"])
        #expect(abort.stdout == "200")
        try await Self.waitFor(harness, "ship", "aborted") { phase, _ in phase == "Aborted" }
        try await KubernetesTests.waitUntil("the canary's session lands on stable") { try await who(canaryCookie) == "stable" }
        for _ in 0..<10 {
            let (fromCanary, fromStable) = (try await who(canaryCookie), try await who(stableCookie))
            #expect(fromCanary == "stable" && fromStable == "stable", "after the abort: \(fromCanary ?? "none"), \(fromStable ?? "none")")
        }
    }

    /// The budget gate: while the route's ServiceLevelObjective has no error budget left, a new Rollout
    /// does not start (Waiting, canary at 0%), and its status names the objective.
    @Test func aRolloutDoesNotStartWhileTheRoutesBudgetIsSpent() async throws {
        let (harness, stable, canary) = try await Self.start(steps: "- {weight: 50, duration: 1s}")
        defer { Task { await harness.stop(); await stable.stop(); await canary.stop() } }
        let original = try harness.read("app.yaml")
        let slo = """
            apiVersion: archway.dev/v1alpha1
            kind: ServiceLevelObjective
            metadata: {name: app-availability}
            spec:
              targetRef: {group: gateway.networking.k8s.io, kind: HTTPRoute, name: app}
              type: Availability
              objective: 99
              window: 1h
            """
        // First the route alone with its objective, and a stable that fails: the budget is spent.
        let withoutRollout = original.components(separatedBy: "\n---\n").filter { !$0.contains("kind: Rollout") }.joined(separator: "\n---\n")
        try harness.write("app.yaml", withoutRollout + "\n---\n" + slo + "\n")
        try await KubernetesTests.waitUntil("the Rollout is gone") { try await Self.status(harness, "ship") == nil }
        stable.set(status: 503)
        for _ in 0..<20 { _ = try await harness.send("/", host: "app.example") }
        stable.set(status: 200)
        // Now the Rollout: it waits, and says why.
        try harness.write("app.yaml", original + "---\n" + slo + "\n")
        let waiting = try await Self.waitFor(harness, "ship", "waiting for budget") { phase, _ in phase == "Waiting" }
        #expect(waiting.message.contains("ServiceLevelObjective default/app-availability has no error budget left"), "\(waiting.message)")
        try await Task.sleep(for: .seconds(2))
        let still = try await Self.progress(harness, "ship")
        #expect(still?.phase == "Waiting", "started with the budget spent: \(String(describing: still))")
        #expect(try await Self.status(harness, "ship")?["canaryWeight"] as? Int == 0)
        for _ in 0..<20 {
            #expect(try await harness.send("/", host: "app.example").headers.first(name: "x-echo-name") == "stable")
        }
    }
}
