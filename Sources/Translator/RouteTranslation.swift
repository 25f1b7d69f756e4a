import GatewayAPI
import RoutingTable

extension Translator {
    /// Every HTTPRoute's and GRPCRoute's contribution, taken from `earlier` for each route that did not
    /// change (when nothing else did either), made for the others, and merged into the listeners, the
    /// table and the statuses in the snapshot's order. Returns the memo for the next translation and
    /// how many routes were translated.
    func translateRoutes(_ snapshot: ResourceSnapshot, conflicts: RouteKindConflicts, earlier: TranslationMemo,
                         listeners: inout ListenerIndex, builder: inout TableBuilder,
                         statuses: inout StatusSet) -> (memo: TranslationMemo, translated: Int) {
        // Each route's part is made from the listeners as they are before any route counts in them.
        let context = RouteContext(snapshot, listeners: listeners, conflicts: conflicts, builder: builder)
        // Two routes of one kind and name (a file defining one twice) would share a memo entry: then
        // nothing is reused, now or next time.
        let unique = Self.namesAreUnique(snapshot.httpRoutes) { $0.metadata.namespacedName } && Self.namesAreUnique(snapshot.grpcRoutes) { $0.metadata.namespacedName }
        let reusable = unique ? earlier.reusable(in: context) : TranslationMemo.empty.reusable(in: context)
        var memo = TranslationMemo(context: unique ? context : nil)
        // The routes reused are in it already; those made again replace theirs, those gone are removed.
        memo.routes = reusable.routes
        let unchanged = listeners, unchangedBuilder = builder
        var contributions: [TranslationMemo.Remembered] = []
        contributions.reserveCapacity(snapshot.httpRoutes.count + snapshot.grpcRoutes.count)
        var changedHosts = Set<TableBuilder.HostKey>()
        var reused = 0, remade = 0
        func take(_ key: TranslationMemo.Key, _ source: @autoclosure () -> TranslationMemo.Source, made: () -> RouteContribution) {
            let route: TranslationMemo.Remembered
            if let remembered = reusable.remembered(source(), key: key) {
                route = remembered
                reused += 1
            } else {
                defer { memo.routes[key] = route }
                route = .init(source: source(), contribution: made())
                // Its hosts as they are, and as they were if it changed: both are built again.
                changedHosts.formUnion(route.contribution.hosts)
                if let before = reusable.routes[key] {
                    changedHosts.formUnion(before.contribution.hosts)
                    remade += 1
                }
            }
            contributions.append(route)
        }
        for route in snapshot.httpRoutes {
            take(.init(kind: "HTTPRoute", name: route.metadata.namespacedName), .http(route)) {
                contribution(of: route, snapshot: snapshot, conflicts: conflicts, listeners: unchanged, builder: unchangedBuilder)
            }
        }
        for route in snapshot.grpcRoutes {
            take(.init(kind: "GRPCRoute", name: route.metadata.namespacedName), .grpc(route)) {
                contribution(of: route, snapshot: snapshot, conflicts: conflicts, listeners: unchanged, builder: unchangedBuilder)
            }
        }
        if let table = reusable.table {
            // Routes gone since: their hosts are built again too.
            if reusable.routes.count > reused + remade {
                let present = Set(snapshot.httpRoutes.map { TranslationMemo.Key(kind: "HTTPRoute", name: $0.metadata.namespacedName) }
                                  + snapshot.grpcRoutes.map { TranslationMemo.Key(kind: "GRPCRoute", name: $0.metadata.namespacedName) })
                for (key, before) in reusable.routes where !present.contains(key) {
                    changedHosts.formUnion(before.contribution.hosts)
                    memo.routes[key] = nil
                }
            }
            builder.reuse(table, changed: changedHosts)
        }
        for route in contributions {
            route.contribution.merge(into: &listeners, builder: &builder)
            guard let status = route.contribution.status else { continue }
            if case .grpc = route.source { statuses.grpcRoutes[route.contribution.route] = status } else { statuses.httpRoutes[route.contribution.route] = status }
        }
        return (memo, contributions.count - reused)
    }

    /// No two objects share a namespace and name (the snapshot keeps them sorted by both).
    /// A closure, not a key path: reading through a generic key path copied each whole object.
    private static func namesAreUnique<Object>(_ objects: [Object], _ name: (Object) -> NamespacedName) -> Bool {
        objects.indices.dropFirst().allSatisfy { name(objects[$0 - 1]) != name(objects[$0]) }
    }
}
