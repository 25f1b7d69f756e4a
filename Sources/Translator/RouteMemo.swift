import GatewayAPI
import RoutingTable

/// What translating one HTTPRoute or GRPCRoute gives, apart from every other route: made by
/// `Translator.contribution(of:...)` from the route and its context alone, and added to the
/// translation by `merge`, whether it was just made or remembered from the last translation.
struct RouteContribution: Sendable {
    var kind: String
    var route: NamespacedName
    var clusters: [String: ClusterSource]
    var status: RouteStatus?
    /// Each listener taken, once per parentRef that took it (attachedRoutes).
    var taken: [ListenerIndex.Taken] = []
    var entries: [TableBuilder.Entry] = []
    var blocked: [TableBuilder.BlockedRoute: Set<String>] = [:]
    /// The listeners served through, by Gateway and listener name (what `describe` shows).
    var attached: [(gateway: NamespacedName, listener: String)] = []

    init(kind: String, route: NamespacedName, clusters: [String: ClusterSource]) {
        self.kind = kind
        self.route = route
        self.clusters = clusters
    }

    /// The virtual hosts its entries go to.
    var hosts: [TableBuilder.HostKey] { entries.map { TableBuilder.HostKey(listener: $0.listener, hostname: $0.hostname) } }

    func merge(into listeners: inout ListenerIndex, builder: inout TableBuilder) {
        builder.addClusters(clusters)
        listeners.count(taken)
        builder.add(entries, blocked: blocked)
        for (gateway, listener) in attached {
            builder.attachments.noteAttached(kind: kind, route: route, gateway: gateway, listener: listener)
        }
    }
}

/// Everything a route's contribution is made from besides the route itself: the snapshot without its
/// HTTPRoutes, GRPCRoutes and EndpointSlices (which the table's clusters read, after the routes) and
/// without the Gateways' observed status (which the listeners' sockets stand for), the listeners as
/// attachment sees them, and what the translation worked out before the routes (edge policies by
/// target, kind conflicts, objectives and Rollouts by route). When two translations have equal
/// contexts, a route equal in both contributes the same to both.
struct RouteContext: Equatable, Sendable {
    var resources: ResourceSnapshot
    var listeners: ListenerView
    var edge: EdgeAttachments
    var conflicts: RouteKindConflicts
    var sloTargets: [String: [String]]
    var rolloutRules: [String: [Int: String]]

    init(_ snapshot: ResourceSnapshot, listeners: ListenerIndex, conflicts: RouteKindConflicts, builder: TableBuilder) {
        resources = snapshot.withoutRoutesAndEndpoints().withoutObservedGatewayStatus()
        self.listeners = ListenerView(listeners)
        edge = builder.attachments.edge
        self.conflicts = conflicts
        sloTargets = builder.sloTargets
        rolloutRules = builder.rolloutRules
    }
}

/// What attaching a route reads of the listeners, all but their counts.
struct ListenerView: Equatable, Sendable {
    struct Listener: Equatable {
        var spec: Gateway.Listener
        var served: Gateway.Listener
        var origin: ListenerOrigin
        var supportedKinds: [RouteGroupKind]
        var acceptsRoutes: Bool
        var isUsable: Bool
    }
    struct GatewayView: Equatable {
        var gateway: Gateway
        var sockets: [String?]
        var listeners: [Listener]
    }
    struct ListenerSetView: Equatable {
        var listenerSet: ListenerSet
        var gateway: NamespacedName
        var rejection: String?
    }
    var gateways: [NamespacedName: GatewayView]
    var listenerSets: [NamespacedName: ListenerSetView]

    init(_ index: ListenerIndex) {
        gateways = index.gateways.mapValues { state in
            GatewayView(gateway: state.gateway.withoutObservedStatus, sockets: state.addressing.sockets, listeners: state.listeners.map {
                Listener(spec: $0.spec, served: $0.served, origin: $0.origin, supportedKinds: $0.supportedKinds,
                         acceptsRoutes: $0.acceptsRoutes, isUsable: $0.isUsable)
            })
        }
        listenerSets = index.listenerSets.mapValues {
            ListenerSetView(listenerSet: $0.listenerSet, gateway: $0.gateway, rejection: $0.rejection.map { "\($0.reason): \($0.message)" })
        }
    }
}

/// The routes' contributions to one translation, with their context: given to the next translation
/// (`Translator.translate(_:reusing:)`), which takes a route's contribution from here instead of
/// making it again when the context is equal and the route too. At 10,000 routes one edited route
/// is then one route translated, not ten thousand; the result is the same either way (tested on
/// random edits against a translation from scratch).
public struct TranslationMemo: Sendable {
    enum Source: Equatable, Sendable {
        case http(HTTPRoute)
        case grpc(GRPCRoute)
    }
    /// A route and its contribution, shared by reference between the translations that use it.
    final class Remembered: Sendable {
        let source: Source
        let contribution: RouteContribution
        init(source: Source, contribution: RouteContribution) {
            self.source = source
            self.contribution = contribution
        }
    }
    struct Key: Hashable, Sendable {
        var kind: String
        var name: NamespacedName
    }
    let context: RouteContext?
    var routes: [Key: Remembered] = [:]
    /// The table these routes were part of, whose virtual hosts the next translation takes for the
    /// hosts no changed route reaches.
    private(set) var table: RoutingTable?

    init(context: RouteContext?) { self.context = context }

    func remembering(_ table: RoutingTable) -> TranslationMemo {
        var memo = self
        memo.table = table
        return memo
    }

    /// A memo that reuses nothing.
    public static let empty = TranslationMemo(context: nil)

    /// The contributions that may be reused in `context`: all of them if it equals theirs, else none.
    /// (One comparison per translation; each route is then compared with its remembered self.)
    func reusable(in context: RouteContext) -> Reusable {
        self.context == context ? Reusable(routes: routes, table: table) : Reusable(routes: [:], table: nil)
    }

    struct Reusable: Sendable {
        let routes: [Key: Remembered]
        let table: RoutingTable?
        /// The remembered route and contribution, if it was made from a route equal to `source`.
        func remembered(_ source: Source, key: Key) -> Remembered? {
            guard let remembered = routes[key], remembered.source == source else { return nil }
            return remembered
        }
    }
}
