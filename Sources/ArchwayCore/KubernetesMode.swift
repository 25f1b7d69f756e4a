import Foundation
import GatewayAPI
import Logging
import Providers

/// `archway serve --kubernetes`: the API server feeds resources in, every replica serves them, and
/// the one holding the Lease writes `.status` back.
public actor KubernetesMode {
    public struct Options: Sendable {
        public var connection: KubeConnection
        /// Namespace and name of the Lease; nil turns leader election off (a single replica writes).
        public var lease: NamespacedName?
        public var identity: String
        public var timing = LeaderElector.Timing()
        public var debounce: Duration = .milliseconds(50)
        public var secretLabelSelector: String?
        public var watchSeconds = 300
        /// Items per page of a list (client-go's pager asks for 500).
        public var listPageSize = 500
        /// Status writes (and the reads after a conflict) per second once `apiBurst` is spent, as
        /// client-go's QPS: what the API server is asked to take from archway at most.
        public var apiQPS: Double = 20
        /// Requests that may go at once after a quiet spell, as client-go's Burst.
        public var apiBurst = 40
        public init(connection: KubeConnection, lease: NamespacedName?, identity: String) {
            self.connection = connection
            self.lease = lease
            self.identity = identity
        }
    }

    nonisolated public let provider: KubernetesProvider
    nonisolated public let writer: StatusWriter
    /// Events about objects (reload failures, rejections), written by the leader beside the statuses.
    nonisolated public let events: EventWriter
    nonisolated public let elector: LeaderElector?
    private let client: KubeClient
    nonisolated private let identity: String
    /// Where the layer-2 membership Leases live: beside the leader Lease.
    nonisolated private let leaseNamespace: String
    private let logger: Logger
    private var latest: [StatusUpdate] = []
    /// `latest` has statuses the writer has not started on.
    private var dirty = false
    private var writing: Task<Void, Never>?
    private var electionTask: Task<Void, Never>?
    private var leadershipGained: (@Sendable () async -> Void)?
    /// Labels the Secrets archway writes carry: the equality terms of the Secret label selector.
    nonisolated private let secretLabels: [String: String]
    nonisolated private let debounce: Duration

    /// Encoding statuses runs on the control-plane thread, at its lower priority, like the apply that
    /// publishes them; so do the reflectors, the writers and the cache (see `ControlPlaneThread`).
    public nonisolated var unownedExecutor: UnownedSerialExecutor { ControlPlaneThread.shared.asUnownedSerialExecutor() }

    public init(options: Options, controllerName: String, logger: Logger) throws {
        let client = try KubeClient(connection: options.connection)
        let provider = KubernetesProvider(client: client, debounce: options.debounce, secretLabelSelector: options.secretLabelSelector,
                                          watchSeconds: options.watchSeconds, listPageSize: options.listPageSize,
                                          executor: ControlPlaneThread.shared, logger: logger)
        self.client = client
        identity = options.identity
        leaseNamespace = options.lease?.namespace ?? options.connection.namespace
        self.provider = provider
        secretLabels = Self.equalityTerms(of: options.secretLabelSelector)
        debounce = options.debounce
        // One budget for every write archway makes to the API server, statuses and events alike.
        let limiter = TokenBucket(qps: options.apiQPS, burst: options.apiBurst)
        writer = StatusWriter(client: client, cache: provider.cache, controllerName: controllerName, limiter: limiter, logger: logger)
        events = EventWriter(client: client, controllerName: controllerName, instance: options.identity, limiter: limiter, logger: logger)
        elector = options.lease.map {
            LeaderElector(client: client, namespace: $0.namespace, name: $0.name, identity: options.identity, timing: options.timing, logger: logger)
        }
        self.logger = logger
    }

    /// This replica's membership in layer-2 announcement, on the same API server client.
    nonisolated func l2Membership(timing: L2Membership.Timing) -> L2Membership {
        L2Membership(client: client, namespace: leaseNamespace, identity: identity, timing: timing, logger: logger)
    }

    /// Where ACME automation keeps accounts and certificates in the cluster, on the same client.
    nonisolated func acmeStorage() -> KubernetesACMEStore {
        // A watch event, the debounce, one translation: a second covers it with room to spare.
        KubernetesACMEStore(client: client, namespace: leaseNamespace, labels: secretLabels, propagation: debounce + .seconds(1))
    }

    /// The labels that make a Secret match a label selector: `a=b` and `a==b` give a: b, `a in (x, y)`
    /// gives a: x, and a bare `a` (exists) gives a: "". `!=`, `notin` and `!a` need no label (an object
    /// without the key matches them).
    static func equalityTerms(of selector: String?) -> [String: String] {
        var labels: [String: String] = [:]
        var terms: [String] = [], current = "", depth = 0
        for character in selector ?? "" {
            if character == "(" { depth += 1 } else if character == ")" { depth -= 1 }
            if character == ",", depth == 0 { terms.append(current); current = "" } else { current.append(character) }
        }
        terms.append(current)
        for term in terms.map({ $0.trimmingCharacters(in: .whitespaces) }) where !term.isEmpty {
            if term.hasPrefix("!") || term.contains("!=") || term.contains(" notin ") { continue }
            if let range = term.range(of: " in ") {
                let values = term[range.upperBound...].trimmingCharacters(in: CharacterSet(charactersIn: "() "))
                labels[term[..<range.lowerBound].trimmingCharacters(in: .whitespaces)] =
                    values.split(separator: ",").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
                continue
            }
            let parts = term.replacingOccurrences(of: "==", with: "=").split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            labels[parts[0]] = parts.count == 2 ? parts[1] : ""
        }
        return labels
    }

    /// Called each time this replica takes the Lease.
    func onLeadershipGained(_ body: @escaping @Sendable () async -> Void) { leadershipGained = body }

    private func leadershipWasGained() {
        writeLatest()
        if let gained = leadershipGained { Task { await gained() } }
    }

    public nonisolated var isLeader: Bool {
        get async { elector?.isLeader ?? true }
    }

    public func startElection() {
        guard let elector, electionTask == nil else { return }
        electionTask = Task { [self] in
            await elector.run { leading in
                guard leading else { return }
                // Not awaited: the next renewal of the Lease must not wait for the control-plane
                // thread, nor for the whole apply that leadership starts.
                Task { await self.leadershipWasGained() }
            }
        }
    }

    /// Remembers the statuses of the configuration just applied and, when leading, writes what changed.
    /// Ingresses archway serves get the `gatewayService`'s load-balancer addresses, as ingress
    /// controllers publish them (the ADDRESS column of `kubectl get ingress`).
    public func publish(snapshot: ResourceSnapshot, statuses: StatusSet, gatewayService: NamespacedName?) async {
        publish(unstamped: StatusReport(unstamped: snapshot, statuses: statuses).items, snapshot: snapshot, gatewayService: gatewayService)
    }

    /// `publish(snapshot:statuses:gatewayService:)` with the items already made (the runtime makes them
    /// once per apply, for this and for the rejection events).
    func publish(unstamped items: [StatusReport.Item], snapshot: ResourceSnapshot, gatewayService: NamespacedName?) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys  // the same status, the same bytes: see StatusUpdate
        let balancer = gatewayService.flatMap { snapshot.services[$0]?.status?.loadBalancer } ?? .init(ingress: [])
        // Statuses are compared as computed, before a clock stamps them; only the changed ones are
        // stamped and encoded. At 10,000 routes stamping and encoding them all on every apply cost more
        // than translating, though one route had changed.
        let time = StatusReport.Item.time(Date())
        var kept: [ObjectRef: EncodedStatus] = [:]
        kept.reserveCapacity(encoded.count)
        var updates: [StatusUpdate] = []
        updates.reserveCapacity(items.count)
        for item in items {
            let ref = item.ref
            guard let status = item.status else { continue }
            if case .ingress(let serving) = status {
                guard serving.served, let data = try? encoder.encode(IngressStatus(loadBalancer: balancer)) else { continue }
                updates.append(StatusUpdate(ref: ref, status: data))
                continue
            }
            let generation = item.metadata.generation
            if let known = encoded[ref], known.status == status, known.generation == generation {
                kept[ref] = known
                updates.append(known.update)
                continue
            }
            guard let data = try? encoder.encode(item.stamped(at: time).status) else { continue }
            let update = StatusUpdate(ref: ref, status: data)
            kept[ref] = EncodedStatus(status: status, generation: generation, update: update)
            updates.append(update)
        }
        encoded = kept
        publish(updates)
    }

    /// Writes the events recorded since the last call when this replica leads; a follower drops them
    /// (the leader records the same ones from the same configuration).
    public func publish(events recorded: [ArchwayEvent]) async {
        guard await isLeader else { return }
        let events = recorded.compactMap { event in
            event.regarding.map { KubeEvent(regarding: $0, type: event.type.rawValue, reason: event.reason, note: event.note) }
        }
        guard !events.isEmpty else { return }
        // Not awaited by the apply: events wait behind status writes for the same rate budget. One
        // batch after the other, so that a repeat finds the Event its first occurrence created.
        let previous = eventWriting
        eventWriting = Task(executorPreference: ControlPlaneThread.shared, priority: .utility) { [events, writer = self.events] in
            await previous?.value
            await writer.write(events)
        }
    }
    private var eventWriting: Task<Void, Never>?

    /// What each object's status encoded to (the update, with its digest), with its status as computed
    /// (unstamped) and the object's generation (which stamping writes into observedGeneration).
    private var encoded: [ObjectRef: EncodedStatus] = [:]
    private struct EncodedStatus {
        var status: StatusReport.Status
        var generation: Int64?
        var update: StatusUpdate
    }

    /// Makes `updates` the statuses to write, replacing any not yet written.
    func publish(_ updates: [StatusUpdate]) {
        latest = updates
        writeLatest()
    }

    private struct IngressStatus: Encodable {
        var loadBalancer: Service.Status.LoadBalancer
    }

    /// One writer at a time, in a task of its own: at the API server's rate a large change takes a
    /// while to write, and neither the apply that published it nor the Lease renewal that found
    /// leadership may wait for that. The newest statuses win: a publish while a batch is being written
    /// stops that batch before its next request, and the writer starts over on the new statuses, where
    /// objects already written with the same status are skipped without a comparison (see StatusWriter).
    private func writeLatest() {
        dirty = true
        guard writing == nil else { return }
        writing = Task(executorPreference: ControlPlaneThread.shared, priority: .utility) { await self.writeWhileDirty() }
    }

    private func writeWhileDirty() async {
        if await isLeader {
            while dirty, !Task.isCancelled {
                dirty = false
                await writer.write(latest, until: { await self.writingShouldStop() })
            }
        }
        writing = nil
    }

    /// Newer statuses are waiting, or this replica no longer holds the Lease (a new leader writes;
    /// this one resumes if it leads again).
    private func writingShouldStop() async -> Bool {
        if dirty { return true }
        return !(await isLeader)
    }

    /// Returns once no status write is under way (for tests).
    func statusWritesIdle() async {
        while let task = writing { await task.value }
    }

    /// Stops renewing without handing the Lease back: what a crashed or cut-off replica looks like
    /// to the others. For tests of takeover.
    func stopRenewing() async {
        electionTask?.cancel()
        electionTask = nil
        await elector?.forgetLeadership()
    }

    public func stop() async {
        writing?.cancel()
        eventWriting?.cancel()
        electionTask?.cancel()
        electionTask = nil
        await elector?.release()
        await provider.stop()
        await client.shutdown()
    }
}
