import GatewayAPI
import RoutingTable

/// What a translation knows about how routes attach, kept for `archway describe`: the listeners each
/// route attached through, and the edge policies by the Gateway, listener, route or rule they target.
public struct RouteAttachments: Sendable, Equatable {
    /// A Gateway's listener by its served name (a ListenerSet's listeners are "NAMESPACE/SET/NAME").
    public struct Listener: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
        public var gateway: NamespacedName
        public var name: String
        public var description: String { "Gateway \(gateway) listener \(name)" }
        public static func < (a: Self, b: Self) -> Bool { (a.gateway, a.name) < (b.gateway, b.name) }
    }
    /// By route ("HTTPRoute team-a/web"): the listeners it was attached to. Arrays, not sets: a route
    /// takes one or two listeners, and at 50,000 routes a set each costs megabytes.
    public internal(set) var listenersByRoute: [ObjectRef: [Listener]] = [:]
    var edge = EdgeAttachments()

    /// The routes attached to a Gateway, each with the listeners it attached through.
    public func routes(of gateway: NamespacedName) -> [ObjectRef: [Listener]] {
        var routes: [ObjectRef: [Listener]] = [:]
        for (route, listeners) in listenersByRoute {
            let ours = listeners.filter { $0.gateway == gateway }.sorted()
            if !ours.isEmpty { routes[route] = ours }
        }
        return routes
    }

    mutating func noteAttached(kind: String, route: NamespacedName, gateway: NamespacedName, listener: String) {
        let listener = Listener(gateway: gateway, name: listener)
        let ref = ObjectRef(kind: kind, namespace: route.namespace, name: route.name)
        if listenersByRoute[ref]?.contains(listener) != true { listenersByRoute[ref, default: []].append(listener) }
    }
}

/// One edge policy that reaches a route rule, where it is attached, and whether it is the one enforced.
public struct AppliedPolicy: Sendable, Codable, Equatable {
    public var kind: String
    /// "RateLimit team-a/per-client".
    public var policy: String
    public var level: EdgeAttachments.Level
    /// Of its kind, this is the one enforced (the most specific level wins).
    public var wins: Bool
    /// Why it cannot be enforced (its requests are refused with 500), if so.
    public var problem: String?
}

/// The edge policies that reach one rule of a route through some listeners.
public struct RulePolicies: Sendable, Codable, Equatable {
    public var rule: Int
    public var ruleName: String?
    /// The listeners through which these policies apply ("Gateway infra/web listener http").
    public var through: [String]
    public var policies: [AppliedPolicy]
}

extension Translator {
    /// Every edge policy that reaches each rule of `route`, inherited ones included, by level, with the
    /// winner of each kind marked: the translator's own precedence (`EdgeAttachments.winners`), so what
    /// `describe` says is what is served. Rules reached through listeners with the same policies are
    /// listed once.
    public func appliedPolicies(to route: HTTPRoute, kind: String, attachments: RouteAttachments,
                                snapshot: ResourceSnapshot) -> [RulePolicies] {
        let name = route.metadata.namespacedName
        let listeners = attachments.listenersByRoute[ObjectRef(kind: kind, namespace: name.namespace, name: name.name)] ?? []
        let rules = route.spec.rules ?? []
        var result: [RulePolicies] = []
        for (index, rule) in (rules.isEmpty ? [HTTPRoute.Rule()] : rules).enumerated() {
            let filters = (rule.filters ?? []) + ((try? Self.ruleLevelFilters(fromBackendsOf: rule)) ?? [])
            let extensionRefs = kind == "HTTPRoute" ? filters.compactMap { filter in
                filter.type == "ExtensionRef" ? filter.extensionRef.map { extensionRefRule($0, namespace: name.namespace, snapshot: snapshot).rule } : nil
            } : []
            var byListener: [(through: String, policies: [AppliedPolicy])] = []
            for listener in listeners.sorted() {
                let levels = attachments.edge.levels(gateway: listener.gateway, listener: listener.name, route: kind == "HTTPRoute" ? name : nil,
                                                     ruleName: rule.name, extensionRefs: extensionRefs)
                let winners = Dictionary(EdgeAttachments.winners(levels).map { ($0.kind, $0) }, uniquingKeysWith: { first, _ in first })
                var policies: [AppliedPolicy] = []
                var decided: Set<String> = []
                // Walked most specific first, so a policy attached at two levels wins at the more specific one.
                for (level, rules) in levels.reversed() {
                    for edgeRule in rules.reversed() {
                        let wins = winners[edgeRule.kind] == edgeRule && !decided.contains(edgeRule.kind)
                        if wins { decided.insert(edgeRule.kind) }
                        var problem: String?
                        if case .unenforceable(let broken) = edgeRule { problem = broken.problem }
                        policies.append(AppliedPolicy(kind: edgeRule.kind, policy: edgeRule.policy, level: level, wins: wins, problem: problem))
                    }
                }
                guard !policies.isEmpty else { continue }
                byListener.append((listener.description, policies.reversed()))
            }
            var merged: [RulePolicies] = []
            for (through, policies) in byListener {
                if let same = merged.firstIndex(where: { $0.policies == policies }) {
                    merged[same].through.append(through)
                } else {
                    merged.append(RulePolicies(rule: index, ruleName: rule.name, through: [through], policies: policies))
                }
            }
            result += merged
        }
        return result
    }
}

/// An edge policy attached to a Gateway or to one of its listeners.
public struct GatewayPolicy: Sendable, Codable, Equatable {
    public var policy: String
    public var level: EdgeAttachments.Level
    /// nil at Gateway level.
    public var listener: String?
}

extension RouteAttachments {
    /// The edge policies a Gateway's routes inherit from the Gateway itself and from its listeners.
    public func policies(attachedTo gateway: NamespacedName) -> [GatewayPolicy] {
        var found: [GatewayPolicy] = []
        for (target, rules) in edge.byTarget {
            switch target {
            case .gateway(let name) where name == gateway:
                found += rules.map { GatewayPolicy(policy: $0.policy, level: .gateway, listener: nil) }
            case .listener(let name, let listener) where name == gateway:
                found += rules.map { GatewayPolicy(policy: $0.policy, level: .listener, listener: listener) }
            default: continue
            }
        }
        return found.sorted { ($0.listener ?? "", $0.policy) < ($1.listener ?? "", $1.policy) }
    }
}
