import Foundation
import Logging
import Synchronization

/// Picks the one replica that writes status, with a coordination.k8s.io/v1 Lease, as client-go's
/// leader election does: the holder renews every `retryPeriod`; the others take over once the Lease
/// has gone unchanged for `leaseDuration` *by their own clock* (renewTime is another machine's clock
/// and is never compared with ours); a holder that cannot renew for `renewDeadline` steps down first,
/// so two replicas never both believe they lead. Every replica serves traffic either way.
public actor LeaderElector {
    public struct Timing: Sendable {
        public var leaseDuration: Duration = .seconds(15)
        public var renewDeadline: Duration = .seconds(10)
        public var retryPeriod: Duration = .seconds(2)
        public init() {}
        public init(leaseDuration: Duration, renewDeadline: Duration, retryPeriod: Duration) {
            self.leaseDuration = leaseDuration
            self.renewDeadline = renewDeadline
            self.retryPeriod = retryPeriod
        }
    }

    nonisolated public let identity: String
    private let client: KubeClient
    private let namespace: String
    private let name: String
    private let timing: Timing
    private let logger: Logger
    private let clock = ContinuousClock()
    /// Read without entering the actor: the status writer asks before every write from the niced
    /// control-plane thread, and an actor entered from there would run its renewals there too, behind
    /// translations.
    public nonisolated var isLeader: Bool { leading.withLock { $0 } }
    private let leading = Mutex(false)
    /// The Lease as last read, and when (our clock) it last changed.
    private var observed: (record: [String: String], at: ContinuousClock.Instant)?
    private var lastRenewal: ContinuousClock.Instant?
    private var onChange: (@Sendable (Bool) async -> Void)?

    public init(client: KubeClient, namespace: String, name: String, identity: String, timing: Timing = Timing(), logger: Logger) {
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.timing = timing
        self.logger = logger
    }

    private var path: String { KubeKind.lease.objectPath(namespace: namespace, name: name) }

    /// Tries to acquire or renew every retry period until cancelled; `onChange` hears every gain and loss.
    public func run(onChange: @escaping @Sendable (Bool) async -> Void) async {
        self.onChange = onChange
        while !Task.isCancelled {
            switch await tryAcquireOrRenew() {
            case .held:
                lastRenewal = clock.now
                await setLeader(true)
            case .heldByOther:
                await setLeader(false)
            case .unreachable:
                // Keep leading through short API server trouble, but never past the renew deadline.
                if let lastRenewal, clock.now - lastRenewal < timing.renewDeadline { break }
                await setLeader(false)
            }
            try? await Task.sleep(for: timing.retryPeriod)
        }
    }

    /// On shutdown: hand the Lease back at once so another replica need not wait for it to expire.
    public func release() async {
        guard isLeader else { return }
        await setLeader(false)
        guard let (lease, spec) = try? await read(), spec["holderIdentity"] as? String == identity else { return }
        var released = spec
        released["holderIdentity"] = ""
        released["leaseDurationSeconds"] = 1
        released["renewTime"] = Self.microTime(Date())
        _ = try? await write(lease: lease, spec: released)
        logger.info("leader lease released", metadata: ["lease": "\(namespace)/\(name)"])
    }

    /// Believes it no longer leads, without touching the Lease (which then expires).
    public func forgetLeadership() { leading.withLock { $0 = false } }

    private func setLeader(_ leading: Bool) async {
        guard leading != isLeader else { return }
        self.leading.withLock { $0 = leading }
        logger.info(leading ? "became leader: this replica writes status" : "no longer leader: status is written by another replica",
                    metadata: ["lease": "\(namespace)/\(name)", "identity": "\(identity)"])
        await onChange?(leading)
    }

    private func read() async throws -> (lease: [String: Any], spec: [String: Any])? {
        let response = try await client.send(.GET, path)
        if response.status == 404 { return nil }
        guard response.status == 200, let lease = response.object else {
            throw KubeClient.RequestError(method: "GET", path: path, status: response.status, message: response.message)
        }
        return (lease, lease["spec"] as? [String: Any] ?? [:])
    }

    private func write(lease: [String: Any], spec: [String: Any]) async throws -> Bool {
        var lease = lease
        lease["spec"] = spec
        let response = try await client.send(.PUT, path, body: try JSONSerialization.data(withJSONObject: lease))
        if response.status == 409 { return false }  // someone else wrote first: read again next round
        guard response.status == 200 else {
            throw KubeClient.RequestError(method: "PUT", path: path, status: response.status, message: response.message)
        }
        return true
    }

    private enum Attempt { case held, heldByOther, unreachable }

    private func tryAcquireOrRenew() async -> Attempt {
        do {
            let now = Self.microTime(Date())
            let seconds = Int(timing.leaseDuration.components.seconds)
            guard let (lease, spec) = try await read() else {
                let created: [String: Any] = [
                    "apiVersion": KubeKind.lease.apiVersion, "kind": "Lease",
                    "metadata": ["name": name, "namespace": namespace],
                    "spec": ["holderIdentity": identity, "leaseDurationSeconds": seconds, "acquireTime": now, "renewTime": now, "leaseTransitions": 0],
                ]
                let response = try await client.send(.POST, KubeKind.lease.collectionPath(namespace: namespace),
                                                     body: try JSONSerialization.data(withJSONObject: created))
                return response.status == 201 || response.status == 200 ? .held : .heldByOther
            }
            let holder = spec["holderIdentity"] as? String ?? ""
            let record = spec.compactMapValues { "\($0)" }
            if observed?.record != record { observed = (record, clock.now) }
            var next = spec
            next["renewTime"] = now
            next["leaseDurationSeconds"] = seconds
            if holder == identity { return try await write(lease: lease, spec: next) ? .held : .heldByOther }
            let expired = holder.isEmpty || clock.now - observed!.at >= timing.leaseDuration
            guard expired else { return .heldByOther }
            next["holderIdentity"] = identity
            next["acquireTime"] = now
            next["leaseTransitions"] = ((spec["leaseTransitions"] as? NSNumber)?.intValue ?? 0) + 1
            let taken = try await write(lease: lease, spec: next)
            if taken { logger.info("took over the leader lease", metadata: ["previous": "\(holder.isEmpty ? "(released)" : holder)"]) }
            return taken ? .held : .heldByOther
        } catch {
            logger.warning("leader election request failed", metadata: ["error": "\(error)"])
            return .unreachable
        }
    }

    /// metav1.MicroTime: RFC 3339 with microseconds, UTC.
    static func microTime(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'"
        return formatter.string(from: date)
    }
}
