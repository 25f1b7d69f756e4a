import GatewayAPI
import Logging

/// Feeds the runtime from the API server: one reflector per watched kind, plus one per Secret or
/// ConfigMap that a resource references (or, with a label selector, every matching one). Bursts of
/// events within `debounce` become one load, so one routing-table swap.
public actor KubernetesProvider: ConfigurationSource {
    nonisolated public let client: KubeClient
    nonisolated public let cache = ObjectCache()
    /// Shared by the reflectors, so those starting together ask the server once.
    private let discovery: APIDiscovery
    private let logger: Logger
    private let debounce: Duration
    private let kinds: [KubeKind]
    /// nil: watch only the Secrets and ConfigMaps that resources name; set: watch every one with these labels.
    private let secretLabelSelector: String?
    private let watchSeconds: Int
    private let listPageSize: Int
    /// Where the reflectors and the debounce run (and so the cache they call): nil for the cooperative
    /// pool. `serve` gives its control-plane thread, so that decoding gives way to the event loops.
    nonisolated private let executor: (any TaskExecutor)?
    private var reflectors: [Reflector.Query: Task<Void, Never>] = [:]
    private var unsynced: Set<Reflector.Query> = []
    private var syncWaiters: [CheckedContinuation<Void, Never>] = []
    private var lastYielded = -1

    public init(client: KubeClient, debounce: Duration = .milliseconds(50), kinds: [KubeKind] = KubeKind.watchedWhole,
                secretLabelSelector: String? = nil, watchSeconds: Int = 300, listPageSize: Int = 500,
                executor: (any TaskExecutor)? = nil, logger: Logger) {
        self.client = client
        discovery = APIDiscovery(client: client)
        self.debounce = debounce
        self.kinds = kinds
        self.secretLabelSelector = secretLabelSelector
        self.watchSeconds = watchSeconds
        self.listPageSize = listPageSize
        self.executor = executor
        self.logger = logger
    }

    public func initialLoad() async -> ManifestLoader.Result {
        var queries = kinds.map { Reflector.Query(kind: $0) }
        if let secretLabelSelector {
            queries += [KubeKind.secret, .configMap].map { Reflector.Query(kind: $0, labelSelector: secretLabelSelector) }
        }
        for query in queries { startReflector(query) }
        await waitForSync()
        return await settledLoad()
    }

    public func changes() async -> AsyncStream<ManifestLoader.Result> {
        let signals = await cache.changes()
        let (stream, continuation) = AsyncStream.makeStream(of: ManifestLoader.Result.self, bufferingPolicy: .bufferingNewest(1))
        let task = Task(executorPreference: executor) { [self, debounce] in
            // A change the watches brought between the initial load and this subscription signalled
            // no one: without this look it would wait for the next change to be applied.
            if await cache.revision != lastYielded { continuation.yield(await settledLoad()) }
            for await _ in signals {
                try? await Task.sleep(for: debounce)
                if Task.isCancelled { break }
                guard await cache.revision != lastYielded else { continue }  // already covered by the last load
                continuation.yield(await settledLoad())
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// One list of each kind and of the Secrets they reference, no watch: for commands that read the
    /// cluster once (`inventory`, `migrate`). Missing optional kinds are skipped; any other failure throws.
    public static func readOnce(client: KubeClient, kinds: [KubeKind], logger: Logger) async throws -> ManifestLoader.Result {
        try await readObjects(client: client, kinds: kinds, logger: logger).load()
    }

    /// `readOnce`, keeping each object's `.status` too (what `archway status --from-cluster` shows).
    public static func readObjects(client: KubeClient, kinds: [KubeKind], pageSize: Int = 500, logger: Logger) async throws -> ObjectCache {
        let cache = ObjectCache()
        let discovery = APIDiscovery(client: client)
        for kind in kinds {
            _ = try await Reflector(client: client, discovery: discovery, query: .init(kind: kind), cache: cache, logger: logger, pageSize: pageSize).list()
        }
        let referenced = ResourceSnapshot.referencedObjects(in: await cache.load().resources.lazy.map(\.resource))
        for query in referenced.sorted().compactMap(Reflector.Query.init(naming:)) {
            _ = try await Reflector(client: client, discovery: discovery, query: query, cache: cache, logger: logger, pageSize: pageSize).list()
        }
        return cache
    }

    public func stop() {
        for task in reflectors.values { task.cancel() }
        reflectors.removeAll()
    }

    /// A complete load. The references it names are reconciled first; only when that started or
    /// stopped a watch is the cache read again, so that the load holds what those watches brought.
    private func settledLoad() async -> ManifestLoader.Result {
        lastYielded = await cache.revision
        let load = await cache.load()
        guard await reconcileReferences(of: load) else { return load }
        lastYielded = await cache.revision
        return await cache.load()
    }

    private func startReflector(_ query: Reflector.Query) {
        let reflector = Reflector(client: client, discovery: discovery, query: query, cache: cache, logger: logger,
                                  watchSeconds: watchSeconds, pageSize: listPageSize)
        unsynced.insert(query)
        // The provider lives as long as the runtime; reflectors are cancelled by `stop()`.
        reflectors[query] = Task(executorPreference: executor) { [self] in
            await reflector.run { await self.markSynced(query) }
        }
    }

    private func markSynced(_ query: Reflector.Query) {
        unsynced.remove(query)
        if unsynced.isEmpty {
            for waiter in syncWaiters { waiter.resume() }
            syncWaiters.removeAll()
        }
    }

    /// Until every running reflector has listed once (or found its kind missing).
    private func waitForSync() async {
        guard !unsynced.isEmpty else { return }
        await withCheckedContinuation { syncWaiters.append($0) }
    }

    /// Starts a watch for each newly referenced Secret or ConfigMap and stops those no longer named,
    /// then waits (up to 5 s) for the new ones' first answer, so a certificate arrives with the Gateway
    /// naming it. Tells whether any watch was started or stopped.
    private func reconcileReferences(of load: ManifestLoader.Result) async -> Bool {
        guard secretLabelSelector == nil else { return false }
        let wanted = Set(ResourceSnapshot.referencedObjects(in: load.resources.lazy.map(\.resource)).compactMap(Reflector.Query.init(naming:)))
        let current = Set(reflectors.keys.filter { $0.fieldSelector != nil })
        for query in current.subtracting(wanted) {
            reflectors.removeValue(forKey: query)?.cancel()
            unsynced.remove(query)
            await cache.drop(query: query.id)
        }
        let added = wanted.subtracting(current)
        for query in added { startReflector(query) }
        // Bounded: a Secret we may not read must not hold every later change back.
        for _ in 0..<50 where !unsynced.isDisjoint(with: added) {
            try? await Task.sleep(for: .milliseconds(100))
        }
        return !added.isEmpty || !current.isSubset(of: wanted)
    }
}
