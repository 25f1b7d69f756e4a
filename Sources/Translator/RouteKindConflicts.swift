import GatewayAPI
import RoutingTable

/// An HTTPRoute and a GRPCRoute may not share a hostname on one listener: both would claim the same
/// requests with different meanings. The spec keeps the older route (then the one first by
/// "namespace/name") and refuses the other on that listener.
struct RouteKindConflicts: Equatable, Sendable {
    struct ListenerKey: Hashable, Sendable {
        var gateway: NamespacedName
        var listener: String
    }

    init() {}

    /// For each refused route ("Kind ns/name"), the listeners it lost and the route that kept them.
    private(set) var losses: [String: [ListenerKey: String]] = [:]

    static func routeKey(kind: String, _ name: NamespacedName) -> String { "\(kind) \(name.namespace)/\(name.name)" }

    func winner(over route: String, on listener: ListenerKey) -> String? { losses[route]?[listener] }

    /// Two hostname sets overlap when a name of one covers a name of the other ("*" covers everything).
    static func overlap(_ a: [String], _ b: [String]) -> Bool {
        a.contains { x in
            b.contains { y in x == "*" || y == "*" || Hostnames.covers(x, y) || Hostnames.covers(y, x) }
        }
    }

    fileprivate struct Claim {
        var route: RouteIdentity
        var key: String
        var hostnames: [String]
    }

    /// Routes join each listener oldest first; one whose hostnames meet those of an already accepted
    /// route of the other kind is refused there (a refused route refuses nobody). Only routes of the
    /// other kind are compared: a listener with routes of one kind (the usual case, thousands of
    /// HTTPRoutes) costs nothing here.
    fileprivate mutating func resolve(_ claims: [ListenerKey: [Claim]]) {
        for (listener, claims) in claims {
            guard let firstKind = claims.first?.route.kind, claims.contains(where: { $0.route.kind != firstKind }) else { continue }
            var accepted: [String: [Claim]] = [:]
            for claim in claims.map({ (order: Self.order($0.route), claim: $0) }).sorted(by: { $0.order < $1.order }).map(\.claim) {
                let others = accepted.filter { $0.key != claim.route.kind }.values.joined()
                if let kept = others.first(where: { Self.overlap($0.hostnames, claim.hostnames) }) {
                    losses[claim.key, default: [:]][listener] = kept.key
                } else {
                    accepted[claim.route.kind, default: []].append(claim)
                }
            }
        }
    }

    /// Creation time first (RFC 3339 in UTC sorts as text; a missing one counts as newest), then
    /// "namespace/name" as text.
    private static func order(_ route: RouteIdentity) -> Order {
        Order(created: route.metadata.creationTimestamp ?? "~", name: "\(route.namespace)/\(route.metadata.name)")
    }

    private struct Order: Comparable {
        var created: String
        var name: String
        static func < (a: Order, b: Order) -> Bool { (a.created, a.name) < (b.created, b.name) }
    }
}

extension Translator {
    /// Works out, before anything attaches, where HTTPRoutes and GRPCRoutes would collide, so that the
    /// outcome does not depend on the order routes are processed in.
    func routeKindConflicts(_ snapshot: ResourceSnapshot, listeners: ListenerIndex) -> RouteKindConflicts {
        // With routes of one kind only there is nothing to collide (and no need to work out where
        // each of 10,000 routes would attach twice).
        guard !snapshot.httpRoutes.isEmpty, !snapshot.grpcRoutes.isEmpty else { return RouteKindConflicts() }
        var claims: [RouteKindConflicts.ListenerKey: [RouteKindConflicts.Claim]] = [:]
        let routes = snapshot.httpRoutes.map { RouteIdentity(route: $0, kind: "HTTPRoute") }
            + snapshot.grpcRoutes.map { RouteIdentity(route: Self.lower($0), kind: "GRPCRoute") }
        for route in routes {
            let key = RouteKindConflicts.routeKey(kind: route.kind, route.metadata.namespacedName)
            for (gateway, listenerName, hostnames) in candidateListeners(for: route, snapshot: snapshot, listeners: listeners) {
                let listener = RouteKindConflicts.ListenerKey(gateway: gateway, listener: listenerName)
                claims[listener, default: []].append(.init(route: route, key: key, hostnames: hostnames))
            }
        }
        var conflicts = RouteKindConflicts()
        conflicts.resolve(claims)
        return conflicts
    }
}
