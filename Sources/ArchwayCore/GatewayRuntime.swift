import Dispatch
import Foundation
import DataPlane
import GatewayAPI
import L2Announcement
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Observability
import Providers
import ServiceLifecycle
import RoutingTable
import Translator

/// Everything `archway serve` runs: provider → translator → compiled table → listeners, plus the
/// admin endpoint. A load or compile failure never replaces a working table.
public actor GatewayRuntime {
    public struct Options: Sendable {
        public var configPaths: [String]
        public var portMap: [Int: ListenerManager.Binding] = [:]
        /// LoadBalancer Services archway gives addresses from its AddressPools.
        public var loadBalancers: LoadBalancerServing? = LoadBalancerServing()
        public var bindHost = "0.0.0.0"
        public var adminHost = "127.0.0.1"
        public var adminPort = 9901
        /// `/metrics`, `/healthz` and `/readyz` alone on this address too (nil: not separately).
        public var metricsAddress: (host: String, port: Int)?
        /// The bearer token state-changing admin calls need when they do not come from loopback; nil: loopback only.
        public var adminToken: String?
        public var controllerName = Translator.defaultControllerName
        public var drainTimeout: TimeAmount = .seconds(30)
        /// File mode: how often the files are polled where inotify cannot be used (see FileProvider).
        public var pollInterval: Duration = .milliseconds(500)
        public var eventLoopThreads = CPUAffinity.usableCores
        /// Ingresses of archway's class are served on these ports (nil: Ingresses are ignored).
        public var ingress: IngressServing? = IngressServing()
        /// Sizes, timeouts and connection budget for clients.
        public var limits = ClientLimits()
        /// Plain HTTP/1.1 requests are proxied as bytes, past NIOHTTP1's codec (see FastLaneHandler).
        public var fastLane = true
        /// One JSON line per request; nil turns the access log off.
        public var accessLog: AccessLogWriter?
        /// How often SLO budgets are recomputed for /metrics and /slo.
        public var sloRefreshInterval: TimeAmount = .seconds(2)
        /// Server spans to an OTLP collector; nil: traceparent is still propagated, nothing is exported.
        public var tracing: OTLPTracing?
        /// Resources from the API server instead of `configPaths`, and status written back.
        public var kubernetes: KubernetesMode?
        /// The Service in front of archway's pods: Gateways report its addresses (Kubernetes mode).
        public var gatewayService: NamespacedName?
        /// Layer-2 announcement of the served addresses on the LAN (ARP / NDP); nil: off.
        public var announcement: AddressAnnouncement.Options?
        /// File mode: where what must outlive a restart is kept (the addresses pools gave, ACME accounts
        /// and certificates); nil: memory only, and no ACME ordering (in a cluster they live in the API server).
        public var stateDirectory: StateDirectory?
        /// How ACME orders retry and poll.
        public var acmeTiming = ACMEAutomation.Timing()
        /// Which addresses of a translation are announced. Widen it (LoadBalancer Services' addresses,
        /// say) by replacing it; `AddressAnnouncement.serve` receives its answer after every applied change.
        public var addressesToAnnounce: @Sendable (ResourceSnapshot, StatusSet) -> Set<IPAddress> = AnnouncedAddresses.served

        public init(configPaths: [String]) { self.configPaths = configPaths }
    }

    public let options: Options
    public let metrics = GatewayMetrics()
    /// The last events (reload failures, objects rejected and recovered): `/events`, `describe --admin`,
    /// and in a cluster the Events the leader writes.
    public let events = EventLog()
    private let rejections = NIOLockedValueBox(RejectionTracker())
    /// What an apply found is reported off the apply, one configuration after the other: the rejection
    /// events and, in a cluster, the statuses to write. At 10,000 routes making, comparing and encoding
    /// every object's status costs about as much as translating one change; at a lower priority
    /// (`ControlPlaneThread`), a change arriving meanwhile is served first.
    private var reporting: Task<Void, Never>?
    /// The apply whose statuses are the newest: a report that finds itself superseded writes none.
    private let newestReport = NIOLockedValueBox(0)
    private let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let tables = TableStore()
    private let admin: AdminServer
    private let contexts: EventLoopContexts
    private let listeners: ListenerManager
    private let healthChecks: HealthChecks
    private let source: any ConfigurationSource
    private let translator: Translator
    private let announcement: AddressAnnouncement?
    let acmeAutomation: ACMEAutomation?
    let rolloutController: RolloutController
    private var warnedRolloutsForgotten = false
    /// The challenges of ACME orders as the snapshot carries them (their certificates made once each).
    private var challengeAnswers = ChallengeAnswers()
    /// The configuration last loaded, which an ACME order re-applies with its answers or its new certificate.
    private var lastLoad: ManifestLoader.Result?
    /// Set while a configuration is being applied: applies never interleave, so tables swap in order.
    private var applying = false
    private var laterRelease: Task<Void, Never>?
    private var appliesSinceRelease = 0
    private func resetReleaseCount() { appliesSinceRelease = 0 }
    private let controlPlaneThread = ControlPlaneThread.shared
    /// The actor runs on the control-plane thread, at its lower priority: translating and compiling
    /// are synchronous calls here, and everything else an apply does gives way to the event loops too.
    public nonisolated var unownedExecutor: UnownedSerialExecutor { controlPlaneThread.asUnownedSerialExecutor() }
    private var lastGood: (snapshot: ResourceSnapshot, statuses: StatusSet)?
    /// The statuses whose problems were last logged (`logStatusProblems`).
    private var loggedStatuses: StatusSet?
    /// The last full translation's input and table, while a change of EndpointSlices alone can be
    /// applied on top of it (`applyEndpoints`); nil: the next change is translated in full.
    private var lastTranslation: (snapshot: ResourceSnapshot, table: RoutingTable, clusters: ClusterSources)?
    /// The routes' parts of the last translation, which the next one reuses for the routes that did
    /// not change. A full apply (`reapply`) starts from nothing, so that it alone makes every part again.
    private var routeMemo = TranslationMemo.empty
    /// The addresses the last applied configuration held (restored from the state directory at start).
    private var addressMemory = AddressMemory()
    /// Edge policies that blocked requests in the last applied table, for the metric's reset to 0.
    private var blockingPolicies: Set<String> = []
    /// Invalid API server objects already logged, so each is named once rather than on every change.
    private var reportedInvalid: Set<String> = []
    private var isShutDown = false
    public private(set) var adminAddress: SocketAddress?
    /// Increments on every applied configuration; lets tests and operators see that a change landed.
    public private(set) var generation = 0

    public init(options: Options, logger: Logger) {
        self.options = options
        self.logger = logger
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, options.eventLoopThreads))
        admin = AdminServer(metrics: metrics, controlToken: options.adminToken)
        contexts = EventLoopContexts(group: group, metrics: metrics, logger: logger, limits: options.limits, accessLog: options.accessLog,
                                     tracer: options.tracing?.tracer, fastLane: options.fastLane)
        listeners = ListenerManager(group: group, tables: tables, contexts: contexts, bindHost: options.bindHost,
                                    portMap: options.portMap, logger: logger)
        healthChecks = HealthChecks(contexts: contexts, tables: tables)
        source = options.kubernetes?.provider ?? FileProvider(paths: options.configPaths, interval: options.pollInterval,
                                                                    executor: ControlPlaneThread.shared, logger: logger)
        // The default sockets' address when specific (nil: a wildcard), in the translator's spelling.
        let bound = IPAddress(options.bindHost).flatMap { $0.number == .zero ? nil : $0.description }
        let address = bound ?? (IPAddress(options.bindHost) == nil ? options.bindHost : "127.0.0.1")
        let certificates = tables.certificates
        var translatorOptions = Translator.Options(controllerName: options.controllerName, defaultAddress: address,
                                                   certificateCheck: { certificates.problem(chainPEM: $0, keyPEM: $1) })
        translatorOptions.caBundleCheck = { certificates.problem(caPEM: $0) }
        translatorOptions.addressCheck = { LocalAddresses.problem($0) }
        translatorOptions.loadBalancers = options.loadBalancers
        translatorOptions.announcesAddresses = options.announcement != nil
        translatorOptions.bindAddress = bound
        translatorOptions.ingress = options.ingress
        translatorOptions.gatewayService = options.gatewayService
        translator = Translator(options: translatorOptions)
        let (adminServer, gatewayMetrics) = (self.admin, self.metrics)
        if let kubernetes = options.kubernetes {
            acmeAutomation = ACMEAutomation(storage: kubernetes.acmeStorage(), leading: { await kubernetes.isLeader },
                                            timing: options.acmeTiming, metrics: gatewayMetrics, logger: logger)
        } else {
            acmeAutomation = options.stateDirectory.map {
                ACMEAutomation(storage: ACMEStateStore(directory: $0), timing: options.acmeTiming, metrics: gatewayMetrics, logger: logger)
            }
        }
        let tableStore = tables
        rolloutController = RolloutController(
            store: options.kubernetes == nil ? options.stateDirectory : nil,
            leading: { [kubernetes = options.kubernetes] in await kubernetes?.isLeader ?? true },
            signals: {
                let table = tableStore.current
                return (table.rolloutSnapshots(), Dictionary(table.sloSnapshots().map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first }))
            },
            metrics: gatewayMetrics, logger: logger)
        announcement = options.announcement.map {
            AddressAnnouncement(options: $0, membership: options.kubernetes?.l2Membership(timing: $0.membership), admin: adminServer,
                                metrics: gatewayMetrics, logger: logger)
        }
    }

    /// Loads the configuration, binds the listeners and the admin endpoint. Ready when it returns.
    public func start() async throws {
        adminAddress = try await admin.start(host: options.adminHost, port: options.adminPort, group: group)
        if let metrics = options.metricsAddress {
            let bound = try await admin.startProbes(host: metrics.host, port: metrics.port, group: group)
            logger.info("metrics and probes listening", metadata: ["address": "\(bound.map { "\($0)" } ?? "?")"])
        }
        logger.info("admin endpoint listening", metadata: ["address": "\(adminAddress.map { "\($0)" } ?? "?")"])
        await acmeAutomation?.onChange { [weak self] in await self?.reapply() }
        await rolloutController.onChange { [weak self] in await self?.reapply() }
        admin.setControl("rollouts") { [rolloutController] segments in await rolloutController.answer(segments) }
        admin.setQuery("/events") { [events] _ in (200, "application/json", events.json() + "\n") }
        admin.setQuery("/explain") { [tables] query in
            guard let text = query["q"], let request = try? JSONDecoder().decode(ExplainQuery.self, from: Data(text.utf8)) else {
                return (400, "text/plain", "/explain takes q=, the request as JSON: {\"method\":\"GET\",\"url\":\"http://host/path\",\"headers\":[{\"name\":\"X-Canary\",\"value\":\"true\"}]}\n")
            }
            let explanation = RequestExplainer.explain(request, store: tables, source: "the live table of a running archway (endpoint health included)")
            if query["o"] == "text" { return (200, "text/plain; charset=utf-8", explanation.text()) }
            return ((try? explanation.json()).map { (200, "application/json", $0) }) ?? (500, "text/plain", "the explanation could not be encoded\n")
        }
        // A new leader takes over the ordering at once, not at the next change.
        if acmeAutomation != nil { await options.kubernetes?.onLeadershipGained { [weak self] in await self?.reapply() } }
        await options.kubernetes?.startElection()
        await announcement?.start()
        restoreAddressMemory()
        await apply(source.initialLoad())
        tracingExport = options.tracing?.run(logger: logger)
        let tables = self.tables, metrics = self.metrics, admin = self.admin
        sloRefresh = group.next().scheduleRepeatedTask(initialDelay: .zero, delay: options.sloRefreshInterval) { _ in
            ServiceLevelReport.publish(tables.current.sloSnapshots(), metrics: metrics, admin: admin)
        }
    }

    private func restoreAddressMemory() {
        guard let directory = options.stateDirectory else { return }
        do {
            if let restored = try directory.read(AddressMemory.fileName, as: AddressMemory.self) {
                addressMemory = restored
                logger.info("addresses restored from the state directory", metadata: [
                    "gateways": "\(restored.gateways.count)", "services": "\(restored.services.count)", "directory": "\(directory.url.path)",
                ])
            }
        } catch {
            logger.error("cannot read the remembered addresses; the pools assign afresh (a Gateway may get a different address)", metadata: ["error": "\(error)"])
        }
    }

    private func remember(_ held: AddressMemory) {
        guard held != addressMemory else { return }
        addressMemory = held
        do {
            try options.stateDirectory?.write(AddressMemory.fileName, held)
        } catch {
            logger.error("cannot remember the assigned addresses; a restart may renumber them", metadata: ["error": "\(error)"])
        }
    }

    private var sloRefresh: RepeatedTask?
    private var tracingExport: (group: ServiceGroup, task: Task<Void, Never>)?

    /// Applies every settled change of the source until the task is cancelled.
    public func watch() async {
        for await change in await source.changes() {
            await apply(change)
        }
    }

    /// SIGTERM path: readyz turns 503, listeners stop accepting, in-flight requests finish (up to the
    /// drain timeout), then everything closes.
    /// `releasingThreads: false` leaves the event-loop threads to the process exit that follows: shutting
    /// the group down races with late continuations that NIO then reports as errors on stderr.
    public func shutdown(releasingThreads: Bool = true) async {
        guard !isShutDown else { return }
        isShutDown = true
        admin.setReady(false)  // before draining, so load balancers stop sending new connections first
        await announcement?.stop()  // and another replica takes the addresses over now
        await acmeAutomation?.shutdown()  // no order re-applies a configuration during the drain
        await rolloutController.stop()
        // An apply that began before the shutdown ends first: it may still bind listeners, and must
        // not find them draining or the event loops gone (NIO traps a bind on a stopped loop).
        while applying { try? await Task.sleep(for: .milliseconds(5)) }
        logger.info("draining", metadata: ["timeout_s": "\(options.drainTimeout.nanoseconds / 1_000_000_000)"])
        healthChecks.stopAll()
        sloRefresh?.cancel()
        await listeners.drain(timeout: options.drainTimeout)
        await contexts.closeIdleConnections()
        await contexts.flushAccessLog()
        if let export = tracingExport {
            // The exporter sends what it still holds before it stops.
            await export.group.triggerGracefulShutdown()
            await export.task.value
        }
        await reporting?.value  // the last statuses are handed to the writer before it stops
        await options.kubernetes?.stop()
        await admin.stop()
        logger.info("stopped")
        if releasingThreads {
            group.shutdownGracefully(queue: .global()) { _ in }
        }
    }

    public func localAddress(listenerPort: Int, address: String? = nil) async -> SocketAddress? {
        await listeners.localAddress(listenerPort: listenerPort, address: address)
    }

    public var statuses: StatusSet? { lastGood?.statuses }

    /// Applies the last loaded configuration again: an ACME order's answers or certificate changed.
    /// Returns once a table with them serves. Always a full translation: what changed (an order's
    /// progress, this replica's leadership) may show in statuses without showing in the resources.
    func reapply() async {
        // The configuration is read once the slot is ours: a file change applied meanwhile is kept.
        await inApplySlot { if let lastLoad = self.lastLoad { await self.applyOnce(lastLoad, inFull: true) } }
    }

    func apply(_ load: ManifestLoader.Result) async {
        await inApplySlot { await self.applyOnce(load, inFull: false) }
    }

    /// Actor methods interleave at every await; an apply waits for the one before it to end, so
    /// tables swap in order. Nothing is applied once shutting down (the listeners are draining).
    private func inApplySlot(_ body: () async -> Void) async {
        while applying { try? await Task.sleep(for: .milliseconds(5)) }
        guard !isShutDown else { return }
        applying = true
        defer { applying = false }
        await body()
        // Freed memory is handed back once changes pause: `malloc_trim` locks each malloc arena in
        // turn, the event loops' too, and trimming after every apply tripled the p99 of requests
        // during a burst of reloads. Under changes that never pause, every 16th apply trims anyway.
        // Requests in flight during the swap still hold the old table: it is let go of then too
        // (not by an event loop).
        appliesSinceRelease += 1
        if appliesSinceRelease >= 16 {
            appliesSinceRelease = 0
            FreedMemory.release()
        }
        laterRelease?.cancel()
        laterRelease = Task { [tables] in
            try? await Task.sleep(for: .seconds(2))
            guard !Task.isCancelled else { return }
            tables.releaseRetired()
            FreedMemory.release()
            self.resetReleaseCount()
        }
    }

    /// Compiles `table` (reusing what the served one has compiled) and swaps it in. The table two swaps
    /// old is let go of on this thread too, once the apply yields, rather than in the swap.
    private func install(_ table: RoutingTable) throws {
        let older = try tables.swap(CompiledTable(table, reusing: tables.current.routes))
        controlPlaneThread.post { withExtendedLifetime(older) {} }
    }

    /// `inFull: false` lets a change of EndpointSlices alone skip the translation (`applyEndpoints`).
    private func applyOnce(_ load: ManifestLoader.Result, inFull: Bool) async {
        if options.kubernetes != nil {
            // In a cluster, objects belong to different teams and change independently: one invalid
            // object is skipped (and named in the log once), it does not freeze everyone else's changes.
            let newlyInvalid = load.errors.filter { !reportedInvalid.contains($0.description) }
            for error in newlyInvalid {
                logger.error("invalid object skipped", metadata: ["error": "\(error)"])
            }
            events.recordReloadFailure(newlyInvalid, reason: "Invalid")
            reportedInvalid = Set(load.errors.map(\.description))
        } else if !load.errors.isEmpty {
            for error in load.errors {
                logger.error("invalid manifest", metadata: ["error": "\(error)"])
            }
            if lastGood != nil {
                metrics.configReloadFailures.increment()
                events.recordReloadFailure(load.errors)
                logger.error("configuration change rejected; the last good configuration keeps serving",
                             metadata: ["errors": "\(load.errors.count)"])
                return
            }
            logger.warning("starting with the valid manifests only", metadata: ["skipped": "\(load.errors.count)"])
            events.recordReloadFailure(load.errors, reason: "Invalid")
        }
        lastLoad = load
        var resources = load.resources.map(\.resource)
        addressMemory.carryOver(&resources)
        // In a cluster the Secrets archway wrote (its annotation on them) are its own to replace.
        let userSecrets = Set(resources.compactMap { resource -> NamespacedName? in
            guard case .secret(let secret) = resource else { return nil }
            if options.kubernetes != nil, secret.isWrittenByACMEAutomation { return nil }
            return secret.metadata.namespacedName
        })
        if let acme = acmeAutomation {
            resources += await acme.secrets(for: ACMEIssuer.requestedSecrets(in: resources), excluding: userSecrets).map(Resource.secret)
        }
        var snapshot = ResourceSnapshot(resources)
        var challenges = await acmeAutomation?.presentedChallenges ?? []
        // The leader's challenges, shared on the ACMEIssuers' status (never read from a file's manifest).
        if options.kubernetes != nil { challenges += snapshot.acmeIssuers.flatMap { $0.status?.challenges ?? [] } }
        (snapshot.acmeChallengeAnswers, snapshot.acmeTLSChallenges) = challengeAnswers.answering(challenges)
        // Where each Rollout stands: the cluster's record (their status) in Kubernetes mode.
        let recorded = options.kubernetes == nil ? [:] : Dictionary(snapshot.rollouts.compactMap { rollout in
            rollout.status?.progress.map { (rollout.metadata.namespacedName, $0) }
        }, uniquingKeysWith: { first, _ in first })
        snapshot.rolloutProgress = await rolloutController.progressToServe(shared: recorded)
        if !snapshot.rollouts.isEmpty, options.kubernetes == nil, options.stateDirectory == nil, !warnedRolloutsForgotten {
            warnedRolloutsForgotten = true
            logger.warning("Rollouts' progress is kept only with serve --state-dir: without it a restart starts every Rollout again from its first step")
        }
        let clock = ContinuousClock()
        let compared = clock.now
        if !inFull, let last = lastTranslation, let services = snapshot.endpointChanges(since: last.snapshot) {
            await applyEndpoints(of: services, snapshot: snapshot, after: last, since: compared)
            return
        }
        lastTranslation = nil
        let translateStart = clock.now
        var swapped = translateStart
        let memo = inFull ? TranslationMemo.empty : routeMemo
        let result = translator.translate(snapshot, reusing: memo)
        routeMemo = result.memo
        metrics.translations.increment()
        let translated = clock.now
        await rolloutController.observe(snapshot.rollouts, tracked: result.table.rollouts ?? [:])
        do {
            try install(result.table)
            swapped = clock.now
            healthChecks.reconcile()
        } catch {
            metrics.configReloadFailures.increment()
            logger.error("routing table rejected; the last good configuration keeps serving", metadata: ["error": "\(error)"])
            events.record(ArchwayEvent(type: .Warning, reason: "ReloadFailed", regarding: nil, note: "routing table rejected: \(error)"))
            return
        }
        let families = Dictionary(result.table.ports.map { ($0.socket, $0.protocol) }, uniquingKeysWith: { first, _ in first })
        let failures = await listeners.apply(sockets: families)
        for (socket, error) in failures.sorted(by: { $0.key < $1.key }) {
            logger.error("listener socket unavailable", metadata: ["listener": "\(socket)", "error": "\(error)"])
        }
        var statuses = Self.markUnavailable(sockets: failures, in: result.statuses, table: result.table)
        // A socket that failed is bound again at the next full apply: an EndpointSlice change must
        // not take that away, so then the next change is translated in full too.
        var everythingServed = failures.isEmpty
        if let announcement {
            // A pool address the node could not take is bound (IP_FREEBIND) but unreachable: as
            // unusable as one whose socket failed, and reported the same way.
            let unheld = await announcement.serve(options.addressesToAnnounce(snapshot, statuses))
            var unreachable: [SocketKey: String] = [:]
            for port in result.table.ports {
                guard let text = port.address, let address = IPAddress(text), let problem = unheld[address] else { continue }
                unreachable[port.socket] = "\(text) is not on this node (\(problem))"
            }
            statuses = Self.markUnavailable(sockets: unreachable, in: statuses, table: result.table) { _, problem in problem }
            everythingServed = everythingServed && unreachable.isEmpty
        }
        statuses = await certificateProgress(result.certificates, snapshot: snapshot, userSecrets: userSecrets, on: statuses)
        // Ready means: a configuration is loaded and every listener port it asks for is bound.
        if !isShutDown { admin.setReady(failures.isEmpty) }
        lastGood = (snapshot, statuses)
        if everythingServed { lastTranslation = (snapshot, result.table, result.clusters) }
        // What the pools gave, served or not: an address that could not be used this time is still
        // the Gateway's when it can be.
        remember(AddressMemory(result.statuses))
        // Both views are made when asked for, not on every change: at 10,000 routes they cost more
        // than translating.
        let table = result.table, served = result.served, applied = Date()
        admin.setStatus { [snapshot, statuses] format in
            let report = StatusReport(snapshot: snapshot, statuses: statuses, table: table, timestamp: applied)
            switch format {
            case "json": return try? report.json()
            case "table": return report.table()
            case "yaml": return try? report.yaml()
            default: return nil
            }
        }
        let previousReport = reporting
        let reportNumber = newestReport.withLockedValue { $0 += 1; return $0 }
        reporting = Task.detached(executorPreference: controlPlaneThread, priority: .utility) {
            [rejections, events, newestReport, kubernetes = options.kubernetes, gatewayService = options.gatewayService, snapshot, statuses] in
            await previousReport?.value
            // In a cluster the status items are made once, for the status writes and the rejection
            // events; statuses a newer apply has replaced are not written (the writer would drop them).
            let current = newestReport.withLockedValue { $0 } == reportNumber
            let items = kubernetes == nil || !current ? nil : StatusReport(unstamped: snapshot, statuses: statuses).items
            let found = rejections.withLockedValue { tracker in
                tracker.events(for: statuses) { items ?? StatusReport(unstamped: snapshot, statuses: statuses).items }
            }
            for event in found { events.record(event) }
            await kubernetes?.publish(events: events.takeNew())
            if let items { await kubernetes?.publish(unstamped: items, snapshot: snapshot, gatewayService: gatewayService) }
        }
        // The resources are listed when asked for too, not copied on every apply.
        let (attachments, translator, eventLog) = (result.attachments, self.translator, events)
        admin.setQuery("/describe") { [snapshot, statuses, load] query in
            DescribeAnswer.answer(query) {
                DescribeSource(origin: "a running archway", resources: load.resources.map(\.resource), snapshot: snapshot,
                               report: StatusReport(snapshot: snapshot, statuses: statuses, table: table, timestamp: applied),
                               attachments: attachments, translator: translator, events: eventLog.recent())
            }
        }
        admin.setTopology { [snapshot, statuses] in
            DashboardTopology(snapshot: snapshot, statuses: statuses, edgePolicies: table.edgePoliciesByRoute(), served: served).json()
        }
        generation += 1
        metrics.configReloads.increment()
        logStatusProblems(statuses, snapshot: snapshot)
        reportUnenforceable(result.table)
        // What each part of an apply cost, for the scale benchmark (scale/run) and for operators
        // wondering why a change took long to serve.
        func millis(_ duration: Duration) -> String { String(format: "%.1f", Double(duration / .microseconds(1)) / 1000) }
        logger.info("configuration applied", metadata: [
            "generation": "\(generation)", "gateways": "\(result.statuses.gateways.count)",
            "httproutes": "\(result.statuses.httpRoutes.count)", "ports": "\(result.table.ports.map(\.port))",
            "routes_translated": "\(result.routesTranslated)",
            "translate_ms": "\(millis(translated - translateStart))", "compile_swap_ms": "\(millis(swapped - translated))",
            "apply_ms": "\(millis(clock.now - translateStart))",
        ])
    }

    /// A change of EndpointSlices alone: the clusters of the Services it touched are made again and
    /// the table swapped. Routes are not translated again, and statuses (which no EndpointSlice
    /// feeds) are neither recomputed nor published, so each replica spends on it what it changes.
    /// `start`: before the comparison that chose this path, whose cost the log line includes.
    private func applyEndpoints(of services: Set<NamespacedName>, snapshot: ResourceSnapshot,
                                after last: (snapshot: ResourceSnapshot, table: RoutingTable, clusters: ClusterSources),
                                since start: ContinuousClock.Instant) async {
        let clock = ContinuousClock()
        let table = last.clusters.refreshing(last.table, services: services, from: snapshot)
        // A Service no route reaches changes nothing served.
        if !services.isDisjoint(with: last.clusters.services) {
            do {
                try install(table)
                healthChecks.reconcile()
            } catch {
                metrics.configReloadFailures.increment()
                logger.error("routing table rejected; the last good configuration keeps serving", metadata: ["error": "\(error)"])
                return
            }
        }
        lastTranslation = (snapshot, table, last.clusters)
        lastGood?.snapshot = snapshot
        generation += 1
        metrics.configReloads.increment()
        metrics.endpointUpdates.increment()
        logger.info("endpoints applied", metadata: [
            "generation": "\(generation)", "services": "\(services.sorted().map(\.description).joined(separator: ", "))",
            "apply_ms": "\(String(format: "%.1f", Double((clock.now - start) / .microseconds(1)) / 1000))",
        ])
    }

    /// The translator cannot know which sockets bind; listeners on a socket that failed are reported
    /// as the spec says: Accepted=False/PortUnavailable, Programmed=False. The table names the listeners
    /// each socket serves (a ListenerSet's as "namespace/set/listener").
    static func markUnavailable(sockets failures: [SocketKey: String], in statuses: StatusSet, table: RoutingTable,
                                message: (SocketKey, String) -> String = { "\($0) cannot be bound: \($1)" }) -> StatusSet {
        guard !failures.isEmpty else { return statuses }
        var result = statuses
        for port in table.ports {
            guard let error = failures[port.socket] else { continue }
            let message = message(port.socket, error)
            for ref in port.listeners.flatMap(\.refs) {
                let gateway = NamespacedName(ref.gatewayNamespace, ref.gatewayName)
                // A Gateway's own address that cannot be bound is not served: out of its status
                // (so nothing announces it either), and the Gateway is not programmed as asked.
                if let address = port.address, var status = result.gateways[gateway] {
                    status.addresses.removeAll { $0.value == address }
                    for index in status.conditions.indices where status.conditions[index].type == "Programmed" {
                        // Every unusable address is named, not only the last one looked at.
                        let earlier = status.conditions[index].reason == "AddressNotUsable" ? status.conditions[index].message : ""
                        status.conditions[index].status = "False"
                        status.conditions[index].reason = "AddressNotUsable"
                        status.conditions[index].message = earlier.isEmpty ? message : earlier.contains(message) ? earlier : earlier + "; " + message
                    }
                    result.gateways[gateway] = status
                }
                result.editListener(of: gateway, served: ref.listenerName) { name, listeners in
                    markUnavailable(name, in: listeners, message: message)
                }
            }
        }
        return result
    }

    private static func markUnavailable(_ name: String, in statuses: [ListenerStatus], message: String) -> [ListenerStatus] {
        statuses.map { listener in
            guard listener.name == name else { return listener }
            var updated = listener
            updated.conditions = listener.conditions.map { condition in
                var condition = condition
                if condition.type == "Accepted" || condition.type == "Programmed" {
                    condition.status = "False"
                    condition.reason = condition.type == "Accepted" ? "PortUnavailable" : "Invalid"
                    condition.message = message
                }
                return condition
            }
            return updated
        }
    }

    /// Every policy that applies to requests but cannot be enforced: an error line each time a
    /// configuration is applied, and the gauge the alerts read.
    private func reportUnenforceable(_ table: RoutingTable) {
        var blocking: [String: String] = [:]
        var routes: [String: Set<String>] = [:]
        for entry in table.httpRouteEntries {
            for case .unenforceable(let broken) in entry.edge {
                blocking[broken.policy] = broken.problem
                routes[broken.policy, default: []].insert("\(entry.origin.namespace)/\(entry.origin.name)")
            }
        }
        for (policy, problem) in blocking.sorted(by: { $0.key < $1.key }) {
            logger.error("edge policy cannot be enforced; the requests it covers are refused with 500", metadata: [
                "policy": "\(policy)", "problem": "\(problem)", "routes": "\(routes[policy, default: []].sorted().joined(separator: ", "))",
            ])
            metrics.setUnenforceable(policy: policy, true)
        }
        for fixed in blockingPolicies.subtracting(blocking.keys) { metrics.setUnenforceable(policy: fixed, false) }
        blockingPolicies = Set(blocking.keys)
    }

    /// Logs the problems in statuses that changed since the last apply (an unchanged one was logged
    /// then): at 10,000 routes, going through every route's conditions on every apply cost as much as
    /// translating one, and said again what had been said.
    private func logStatusProblems(_ statuses: StatusSet, snapshot: ResourceSnapshot) {
        let logged = loggedStatuses
        loggedStatuses = statuses
        for (key, ingress) in statuses.ingresses.sorted(by: { $0.key < $1.key }) where ingress.degraded && logged?.ingresses[key] != ingress {
            logger.warning("ingress not served as written", metadata: ["ingress": "\(key)", "message": "\(ingress.message)"])
        }
        func log(_ kind: String, _ name: NamespacedName, _ status: RouteStatus?, before: RouteStatus??) {
            guard let status, before != .some(status) else { return }
            for parent in status.parents {
                for condition in parent.conditions where condition.isProblem {
                    logger.warning("route condition", metadata: [
                        "route": "\(kind) \(name)", "parent": "\(parent.parentRef.namespace ?? "")/\(parent.parentRef.name)",
                        "type": "\(condition.type)", "reason": "\(condition.reason)", "message": "\(condition.message)",
                    ])
                }
            }
        }
        for route in snapshot.httpRoutes {
            let name = route.metadata.namespacedName
            log("HTTPRoute", name, statuses.httpRoutes[name], before: logged.map { $0.httpRoutes[name] })
        }
        for route in snapshot.grpcRoutes {
            let name = route.metadata.namespacedName
            log("GRPCRoute", name, statuses.grpcRoutes[name], before: logged.map { $0.grpcRoutes[name] })
        }
        for route in snapshot.streamRoutes {
            let name = route.metadata.namespacedName
            log(route.kind.rawValue, name, statuses.streamRoutes[route.kind]?[name], before: logged.map { $0.streamRoutes[route.kind]?[name] })
        }
    }
}
