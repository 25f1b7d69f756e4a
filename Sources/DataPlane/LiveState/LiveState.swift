import RoutingTable

/// The data plane's live objects for one installed table, each under the stable key the compiled
/// table names it by: a cluster's id, an objective's name, an edge rule (its policy and settings).
/// Installing the next table carries over every object whose key and configuration are unchanged, so
/// a reload forgives no failing endpoint, forgets no request counted against an objective and refills
/// no rate-limit bucket. Objects the new table no longer names are dropped with the old table.
final class LiveState: Sendable {
    /// Circuit breaker and endpoint health, by cluster id; only clusters with a BackendTrafficPolicy.
    let health: [String: ClusterHealth]
    /// ServiceLevelObjective counters, by objective name.
    let slos: [String: SLOTracker]
    /// One guard per distinct rule: every route a Gateway-wide policy reaches shares its guard, and so
    /// its rate-limit buckets and credential caches.
    let guards: [EdgeRule: any EdgeGuard]
    /// Rollout counters, by Rollout name.
    let rollouts: [String: RolloutTracker]

    static let empty = LiveState(health: [:], slos: [:], guards: [:], rollouts: [:])

    private init(health: [String: ClusterHealth], slos: [String: SLOTracker], guards: [EdgeRule: any EdgeGuard], rollouts: [String: RolloutTracker]) {
        self.health = health
        self.slos = slos
        self.guards = guards
        self.rollouts = rollouts
    }

    init(for table: CompiledTable, carryingOver previous: LiveState, makeGuard: (EdgeRule) -> any EdgeGuard) {
        var health: [String: ClusterHealth] = [:]
        for cluster in table.clustersBySlot {
            guard let policy = cluster.resilience else { continue }
            // Failure streaks and ejections belong to endpoints under a policy: a changed endpoint set
            // or policy starts afresh.
            if let kept = previous.health[cluster.id], kept.policy == policy, kept.endpoints == cluster.endpoints {
                health[cluster.id] = kept
            } else {
                health[cluster.id] = ClusterHealth(policy: policy, endpoints: cluster.endpoints)
            }
        }
        var slos: [String: SLOTracker] = [:]
        for (name, spec) in table.source.slos {
            slos[name] = previous.slos[name].flatMap { $0.spec == spec ? $0 : nil } ?? SLOTracker(spec: spec)
        }
        var guards: [EdgeRule: any EdgeGuard] = [:]
        for route in table.routesBySlot {
            for rule in route.edgeRules where guards[rule] == nil {
                guards[rule] = previous.guards[rule] ?? makeGuard(rule)
            }
        }
        var rollouts: [String: RolloutTracker] = [:]
        for (name, tracking) in table.source.rollouts ?? [:] {
            // Every step swaps the table; the counts carry on while stable and canary stay the same.
            rollouts[name] = previous.rollouts[name].flatMap { $0.tracking == tracking ? $0 : nil } ?? RolloutTracker(tracking: tracking)
        }
        self.health = health
        self.slos = slos
        self.guards = guards
        self.rollouts = rollouts
    }
}
