import RoutingTable

/// A compiled table with the data plane's live state attached: what requests are served from. Each
/// request reads it once from the `TableStore` and keeps it to its end, so a request that began before
/// a swap finishes with the routes and the live objects it started with. The live objects are
/// resolved here, once per swap, into arrays indexed by the slots the compiled clusters and routes
/// carry: a request finds its cluster's health or its route's guards by index, never by hashing a name.
public final class ServedTable: Sendable {
    public let routes: CompiledTable
    let live: LiveState
    /// By `CompiledCluster.slot`; nil for clusters without a BackendTrafficPolicy.
    private let healthBySlot: [ClusterHealth?]
    /// By `CompiledRoute.slot`: the route's guards in phase order, and the objectives it counts towards.
    private let guardsBySlot: [[any EdgeGuard]]
    private let slosBySlot: [[SLOTracker]]
    private let rolloutsBySlot: [RolloutTracker?]

    static let empty = ServedTable(.empty, carryingOver: nil)

    /// `previous`: the table being replaced, whose live objects carry over (see `LiveState`).
    /// `makeGuard` is the tests' way to put a guard of their own in place of a policy's.
    init(_ routes: CompiledTable, carryingOver previous: ServedTable?, makeGuard: (EdgeRule) -> any EdgeGuard = EdgeGuards.make) {
        let live = LiveState(for: routes, carryingOver: previous?.live ?? .empty, makeGuard: makeGuard)
        self.routes = routes
        self.live = live
        healthBySlot = routes.clustersBySlot.map { live.health[$0.id] }
        // LiveState made a guard for every rule of every route, so none is missing.
        guardsBySlot = routes.routesBySlot.map { route in route.edgeRules.map { live.guards[$0]! } }
        slosBySlot = routes.routesBySlot.map { route in route.sloNames.compactMap { live.slos[$0] } }
        rolloutsBySlot = routes.routesBySlot.map { route in route.rolloutName.flatMap { live.rollouts[$0] } }
    }

    /// Circuit breaker and endpoint health of a cluster of this table, when a policy asks for them.
    func health(of cluster: CompiledCluster) -> ClusterHealth? { healthBySlot[cluster.slot] }

    /// The live checks for a route of this table's edge policies, in phase order.
    func edgeGuards(of route: CompiledRoute) -> [any EdgeGuard] { guardsBySlot[route.slot] }

    /// The counters of the objectives a route of this table counts towards.
    func sloTrackers(of route: CompiledRoute) -> [SLOTracker] { slosBySlot[route.slot] }

    /// The counters of the Rollout whose rule a route of this table belongs to.
    func rolloutTracker(of route: CompiledRoute) -> RolloutTracker? { rolloutsBySlot[route.slot] }

    /// Every Rollout's counters now, by name, for the rollout controller.
    public func rolloutSnapshots() -> [String: RolloutTracker.Snapshot] { live.rollouts.mapValues { $0.snapshot() } }

    /// Every objective's budget and burn rates now, for the metrics and `archway slo status`.
    public func sloSnapshots() -> [SLOTracker.Snapshot] { live.slos.values.map { $0.snapshot() } }

    // MARK: Routing, as the compiled table answers it

    public func route(socket: SocketKey, host: String, serverName: String? = nil, request: RequestView) -> RouteLookup {
        routes.route(socket: socket, host: host, serverName: serverName, request: request)
    }

    public func streamRoute(socket: SocketKey, serverName: String?) -> CompiledStreamRoute? {
        routes.streamRoute(socket: socket, serverName: serverName)
    }

    public func isStreamListener(socket: SocketKey, serverName: String?) -> Bool {
        routes.isStreamListener(socket: socket, serverName: serverName)
    }
}
