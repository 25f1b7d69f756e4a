import DataPlane
import Foundation
import GatewayAPI
import Logging
import Observability
import RoutingTable

/// Walks every accepted Rollout through its steps. Every `tick` it reads the data plane's counters
/// (`RolloutTracker`) and the route's objectives, and for each Rollout: holds it (Waiting, or Paused)
/// while the route's error budget is spent; every analysis interval judges the canary on that
/// interval's requests and rolls it back the moment it fails; moves to the next step once the step
/// has lasted its duration, seen its requests and passed at least one judged interval; promotes it
/// after the last. Each change re-applies the configuration, so the translator serves the new step.
///
/// Progress is the record: in file mode it is kept in the state directory, in a cluster on the
/// Rollout's status. Only the replica that may decide (file mode, or the Lease holder) moves it; the
/// others serve what the status says, and a new leader continues from it.
actor RolloutController {
    struct Timing {
        var tick: Duration = .milliseconds(250)
    }

    /// Per Rollout: the counters when its step began and when it was last judged.
    private struct Watch {
        var stepBaseline: RolloutTracker.Snapshot
        var lastSample: RolloutTracker.Snapshot
        var lastJudged: ContinuousClock.Instant
        var judgedOnStep = false
    }

    private let store: StateDirectory?
    private let leading: @Sendable () async -> Bool
    private let signals: @Sendable () -> (rollouts: [String: RolloutTracker.Snapshot], slos: [String: SLOTracker.Snapshot])
    private let metrics: GatewayMetrics
    private let logger: Logger
    private let timing: Timing
    private var reapply: (@Sendable () async -> Void)?
    private var progress: [NamespacedName: RolloutProgress] = [:]
    private var rollouts: [NamespacedName: (rollout: Rollout, tracking: RolloutTracking)] = [:]
    private var watches: [NamespacedName: Watch] = [:]
    private var ticker: Task<Void, Never>?
    static let fileName = "rollouts.json"

    init(store: StateDirectory?, leading: @escaping @Sendable () async -> Bool,
         signals: @escaping @Sendable () -> (rollouts: [String: RolloutTracker.Snapshot], slos: [String: SLOTracker.Snapshot]),
         metrics: GatewayMetrics, logger: Logger, timing: Timing = Timing()) {
        self.store = store
        self.leading = leading
        self.signals = signals
        self.metrics = metrics
        self.logger = logger
        self.timing = timing
        if let store {
            do {
                progress = try store.read(Self.fileName, as: [String: RolloutProgress].self)?.reduce(into: [:]) { result, entry in
                    let parts = entry.key.split(separator: "/", maxSplits: 1).map(String.init)
                    if parts.count == 2 { result[NamespacedName(parts[0], parts[1])] = entry.value }
                } ?? [:]
            } catch {
                logger.error("cannot read the Rollouts' progress; they start again from their first step", metadata: ["error": "\(error)"])
            }
        }
    }

    func onChange(_ reapply: @escaping @Sendable () async -> Void) {
        self.reapply = reapply
        guard ticker == nil else { return }
        ticker = Task { [weak self, tick = timing.tick] in
            while !Task.isCancelled {
                try? await Task.sleep(for: tick)
                await self?.step()
            }
        }
    }

    func stop() {
        ticker?.cancel()
        reapply = nil
    }

    /// The progress the translator serves: this replica's own while it decides, else what the
    /// cluster recorded (`shared`, the Rollouts' status). A new leader takes over what it finds there.
    func progressToServe(shared: [NamespacedName: RolloutProgress]) async -> [NamespacedName: RolloutProgress] {
        if await leading() {
            for (name, recorded) in shared where progress[name] == nil { progress[name] = recorded }
        } else {
            progress = shared
        }
        return progress
    }

    /// The Rollouts the last translation accepted (those the table tracks), with what they track.
    func observe(_ all: [Rollout], tracked: [String: RolloutTracking]) {
        rollouts = [:]
        for rollout in all {
            let name = rollout.metadata.namespacedName
            if let tracking = tracked[name.description] { rollouts[name] = (rollout, tracking) }
        }
        for name in watches.keys where rollouts[name] == nil { watches[name] = nil }
        for (name, entry) in rollouts {
            let traffic = entry.rollout.traffic(at: progress[name])
            let current = progress[name].flatMap { $0.fingerprint == entry.rollout.fingerprint ? $0 : nil }
            let step = current.map { $0.phase == .Promoted ? entry.rollout.spec.steps.count : $0.step + 1 } ?? 0
            metrics.setRollout(namespace: name.namespace, name: name.name, step: step, canaryWeight: traffic.canaryWeight)
        }
    }

    // MARK: Commands

    enum Command: String, CaseIterable { case promote, pause, resume, abort }

    struct CommandError: Error, CustomStringConvertible {
        var status: Int
        var description: String
    }

    /// `archway rollout promote|pause|resume|abort`: applied at once, recorded, and logged.
    func run(_ command: Command, on name: NamespacedName) async throws -> RolloutProgress {
        guard await leading() else {
            throw CommandError(status: 409, description: "this replica does not hold the leader Lease: send the command to the leader, which moves Rollouts")
        }
        guard let entry = rollouts[name] else { throw CommandError(status: 404, description: "no accepted Rollout \(name)") }
        let now = Self.timestamp(Date())
        let fingerprint = entry.rollout.fingerprint
        let current = progress[name].flatMap { $0.fingerprint == fingerprint ? $0 : nil }
            ?? RolloutProgress(phase: .Waiting, step: 0, stepStartedAt: now, fingerprint: fingerprint)
        var next = current
        switch command {
        case .promote:
            next = RolloutProgress(phase: .Promoted, step: entry.rollout.spec.steps.count - 1, stepStartedAt: now,
                                   message: "promoted by archway rollout promote", fingerprint: fingerprint)
        case .pause:
            guard [.Progressing, .Waiting, .Paused].contains(current.phase) else {
                throw CommandError(status: 409, description: "Rollout \(name) is \(current.phase.rawValue): nothing to pause")
            }
            next.phase = .Paused
            next.pausedByUser = true
            next.message = "paused by archway rollout pause"
        case .resume:
            switch current.phase {
            case .Paused, .Waiting:
                next.phase = .Progressing
                next.pausedByUser = nil
                next.message = "resumed by archway rollout resume"
            case .RolledBack, .Aborted:
                // Again from the first step: the canary earns its traffic anew.
                next = RolloutProgress(phase: .Progressing, step: 0, stepStartedAt: now, message: "restarted by archway rollout resume", fingerprint: fingerprint)
                watches[name] = nil
            case .Progressing, .Promoted:
                throw CommandError(status: 409, description: "Rollout \(name) is \(current.phase.rawValue): nothing to resume")
            }
        case .abort:
            guard current.phase != .Promoted else { throw CommandError(status: 409, description: "Rollout \(name) is promoted already") }
            next.phase = .Aborted
            next.pausedByUser = nil
            next.message = "aborted by archway rollout abort: all traffic to \(entry.rollout.spec.stable.name)"
        }
        await record(next, for: name, rollout: entry.rollout, figures: ["command": command.rawValue])
        return next
    }

    /// `POST /rollouts/NAMESPACE/NAME/VERB` on the admin endpoint: the progress after the command as
    /// JSON, or `{"error": ...}` with 400, 404 or 409.
    func answer(_ segments: [String]) async -> (status: Int, body: String) {
        func refusal(_ status: Int, _ message: String) -> (status: Int, body: String) {
            (status, String(decoding: (try? JSONEncoder().encode(["error": message])) ?? Data(), as: UTF8.self) + "\n")
        }
        guard segments.count == 3, let command = Command(rawValue: segments[2]) else {
            return refusal(400, "POST /rollouts/NAMESPACE/NAME/VERB, VERB one of \(Command.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        do {
            let progress = try await run(command, on: NamespacedName(segments[0], segments[1]))
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            return (200, String(decoding: (try? encoder.encode(progress)) ?? Data(), as: UTF8.self) + "\n")
        } catch let failure as CommandError {
            return refusal(failure.status, failure.description)
        } catch {
            return refusal(500, "\(error)")
        }
    }

    // MARK: The loop

    private func step() async {
        guard reapply != nil, !rollouts.isEmpty, await leading() else { return }
        let (counters, slos) = signals()
        for (name, entry) in rollouts.sorted(by: { $0.key < $1.key }) {
            await advance(name, entry.rollout, counters: counters[name.description] ?? RolloutTracker.Snapshot(),
                          slos: entry.tracking.slos.compactMap { slos[$0] })
        }
    }

    private func advance(_ name: NamespacedName, _ rollout: Rollout, counters: RolloutTracker.Snapshot,
                         slos: [SLOTracker.Snapshot]) async {
        let fingerprint = rollout.fingerprint
        let now = Date()
        let clock = ContinuousClock.now
        let blocked = RolloutAnalysis.budgetBlock(slos)
        guard let current = progress[name].flatMap({ $0.fingerprint == fingerprint ? $0 : nil }) else {
            // A new Rollout, or a changed one: from the first step, once the budget allows.
            let start = blocked.map { RolloutProgress(phase: .Waiting, step: 0, stepStartedAt: Self.timestamp(now), message: $0, fingerprint: fingerprint) }
                ?? RolloutProgress(phase: .Progressing, step: 0, stepStartedAt: Self.timestamp(now), message: "started", fingerprint: fingerprint)
            watches[name] = Watch(stepBaseline: counters, lastSample: counters, lastJudged: clock)
            return await record(start, for: name, rollout: rollout, figures: [:])
        }
        var watch = watches[name] ?? Watch(stepBaseline: counters, lastSample: counters, lastJudged: clock)
        defer { watches[name] = watch }
        /// Held by the budget (its message kept current), or going on once there is budget again.
        func holdOrGoOn(_ goingOn: String) async {
            if let blocked {
                guard current.message != blocked else { return }
                var held = current
                held.message = blocked
                return await record(held, for: name, rollout: rollout, figures: [:])
            }
            var progressing = current
            progressing.phase = .Progressing
            progressing.message = goingOn
            watch = Watch(stepBaseline: counters, lastSample: counters, lastJudged: clock)
            await record(progressing, for: name, rollout: rollout, figures: [:])
        }
        if current.phase == .Waiting { return await holdOrGoOn("started: the error budget allows it") }
        guard current.phase == .Progressing || current.phase == .Paused, rollout.spec.steps.indices.contains(current.step) else { return }
        let step = rollout.spec.steps[current.step]
        let shadow = step.shadow != nil
        let analysis = RolloutAnalysis(rollout)
        let interval = rollout.analysisInterval
        // Judged while paused too: a pause stops progress, not protection. A budget that runs out is
        // judged at once, so a canary that is what spends it is rolled back rather than held.
        let budgetJustSpent = blocked != nil && current.phase == .Progressing
        if clock - watch.lastJudged >= interval || budgetJustSpent {
            let sinceLast = (canary: (shadow ? counters.shadow : counters.canary).since(shadow ? watch.lastSample.shadow : watch.lastSample.canary),
                             stable: counters.stable.since(watch.lastSample.stable))
            let outcome = analysis.judge(canary: sinceLast.canary, stable: sinceLast.stable, slos: slos,
                                         interval: rollout.spec.analysis?.interval ?? "10s")
            if outcome.judged || !budgetJustSpent {
                watch.lastSample = counters
                watch.lastJudged = clock
            }
            if let failure = outcome.failure {
                var rolledBack = current
                rolledBack.phase = .RolledBack
                rolledBack.pausedByUser = nil
                rolledBack.message = "rolled back at step \(current.step + 1): \(failure)"
                metrics.countRollback(namespace: name.namespace, name: name.name)
                return await record(rolledBack, for: name, rollout: rollout, figures: outcome.figures)
            }
            if outcome.judged, current.phase == .Progressing { watch.judgedOnStep = true }
        }
        if current.phase == .Paused {
            // A pause for the budget lifts itself once there is budget again; a person's waits for resume.
            guard current.pausedByUser != true else { return }
            return await holdOrGoOn("resumed: the error budget allows it")
        }
        if let blocked {
            var paused = current
            paused.phase = .Paused
            paused.message = blocked
            return await record(paused, for: name, rollout: rollout, figures: [:])
        }
        // The step is done once it lasted, saw its requests, and passed a judged interval.
        let started = Self.date(current.stepStartedAt) ?? now
        let lasted = now.timeIntervalSince(started) * 1000 >= Double(step.duration.flatMap(parseGatewayDuration) ?? Int(interval / .milliseconds(1)))
        let seen = (shadow ? counters.shadow : counters.canary).since(shadow ? watch.stepBaseline.shadow : watch.stepBaseline.canary).total
        guard lasted, seen >= (step.minRequests ?? 0) else { return }
        guard watch.judgedOnStep else {
            // Said once, so an operator sees why a quiet route does not move on.
            let waiting = "waiting for traffic: the canary needs \(analysis.minRequests) requests in one analysis interval to be judged"
            if current.message != waiting { var held = current; held.message = waiting; await record(held, for: name, rollout: rollout, figures: [:]) }
            return
        }
        let figures = ["step_canary_requests": "\(seen)"]
        watch = Watch(stepBaseline: counters, lastSample: counters, lastJudged: clock)
        if current.step + 1 < rollout.spec.steps.count {
            let next = RolloutProgress(phase: .Progressing, step: current.step + 1, stepStartedAt: Self.timestamp(now),
                                       message: "step \(current.step + 1) passed with \(seen) canary requests", fingerprint: fingerprint)
            await record(next, for: name, rollout: rollout, figures: figures)
        } else {
            let done = RolloutProgress(phase: .Promoted, step: current.step, stepStartedAt: Self.timestamp(now),
                                       message: "every step passed: all traffic to \(rollout.spec.canary.name)", fingerprint: fingerprint)
            await record(done, for: name, rollout: rollout, figures: figures)
        }
    }

    /// One transition: kept (state directory), logged with the numbers that caused it, and served.
    private func record(_ next: RolloutProgress, for name: NamespacedName, rollout: Rollout, figures: [String: String]) async {
        let previous = progress[name]
        progress[name] = next
        var metadata: Logger.Metadata = [
            "rollout": "\(name)", "phase": "\(next.phase.rawValue)", "step": "\(next.step + 1)",
            "canary_weight": "\(rollout.traffic(at: next).canaryWeight)", "message": "\(next.message ?? "")",
        ]
        if let previous { metadata["from_phase"] = "\(previous.phase.rawValue)"; metadata["from_step"] = "\(previous.step + 1)" }
        for (key, value) in figures { metadata[key] = "\(value)" }
        if next.phase == .RolledBack { logger.warning("rollout rolled back", metadata: metadata) } else { logger.info("rollout transition", metadata: metadata) }
        if let store {
            do {
                try store.write(Self.fileName, Dictionary(uniqueKeysWithValues: progress.map { ($0.key.description, $0.value) }))
            } catch {
                logger.error("cannot keep the Rollouts' progress in the state directory; a restart starts them again", metadata: ["error": "\(error)"])
            }
        }
        await reapply?()
    }

    static func date(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
