import GatewayAPI
import RoutingTable

/// What attachment needs to know about any route kind.
struct RouteIdentity {
    var kind: String
    var metadata: ObjectMeta
    var parentRefs: [ParentReference]
    var hostnames: [String]
    var namespace: String { metadata.namespace ?? "default" }

    init(kind: String, metadata: ObjectMeta, parentRefs: [ParentReference], hostnames: [String]) {
        self.kind = kind
        self.metadata = metadata
        self.parentRefs = parentRefs
        self.hostnames = hostnames
    }

    init(route: HTTPRoute, kind: String) {
        self.init(kind: kind, metadata: route.metadata, parentRefs: route.spec.parentRefs ?? [], hostnames: route.spec.hostnames ?? [])
    }
}

/// How a route kind ranks one match (rule index, match index, the compiled match) for precedence.
typealias MatchRanking = (_ rule: Int, _ match: Int, _ compiled: HTTPMatch) -> MatchCriteria

/// A route's rules after compilation, as far as its status is concerned.
struct RuleOutcome {
    var acceptedRules: Int
    var dropped: [(rule: Int, message: String)]
    var refsProblem: (reason: String, message: String)?
}

extension Translator {
    /// What one HTTPRoute (or lowered GRPCRoute) gives the translation: its clusters, status, the
    /// listeners it takes and its table entries (nil status when none of its parents is a Gateway of
    /// ours: other controllers' routes are not ours to write). Reads the listeners and the builder's
    /// policies, objectives and Rollouts, changes neither: `RouteContribution.merge` does.
    func contribution(of route: HTTPRoute, kind: String = "HTTPRoute", http2Backends: Bool = false,
                      criteria: MatchRanking = { .http($2) }, snapshot: ResourceSnapshot,
                      conflicts: RouteKindConflicts, listeners: ListenerIndex, builder: TableBuilder) -> RouteContribution {
        let compiled = compile(route, kind: kind, http2Backends: http2Backends, snapshot: snapshot)
        var contribution = RouteContribution(kind: kind, route: route.metadata.namespacedName, clusters: compiled.clusters)
        let identity = RouteIdentity(route: route, kind: kind)
        let outcome = RuleOutcome(acceptedRules: compiled.rules.count, dropped: compiled.dropped, refsProblem: compiled.refsProblem)
        contribution.status = attachParents(identity, outcome: outcome, snapshot: snapshot, conflicts: conflicts, listeners: listeners,
                                            taken: &contribution.taken) { gateway, listener, hostnames in
            builder.entries(for: compiled, of: route, kind: kind, through: gateway, listener: listener, hostnames: hostnames,
                            criteria: criteria, into: &contribution.entries, blocking: &contribution.blocked)
            contribution.attached.append((gateway.gateway.metadata.namespacedName, listener.name))
        }
        return contribution
    }

    /// The part of attachment every route kind shares: each parentRef is defaulted, its listeners
    /// selected (or the refusal reported), every listener taken added to `taken` (what
    /// `ListenerIndex.count` counts in attachedRoutes), `attachTo` called for those that serve, and the
    /// Accepted / ResolvedRefs / PartiallyInvalid conditions written.
    func attachParents(_ route: RouteIdentity, outcome: RuleOutcome, snapshot: ResourceSnapshot,
                       conflicts: RouteKindConflicts = .init(), listeners: ListenerIndex, taken: inout [ListenerIndex.Taken],
                       attachTo: (_ gateway: GatewayState, _ listener: Gateway.Listener, _ hostnames: [String]) -> Void) -> RouteStatus? {
        let generation = route.metadata.generation ?? 1
        let routeKey = RouteKindConflicts.routeKey(kind: route.kind, route.metadata.namespacedName)
        var parents: [RouteParentStatus] = []
        for parentRef in route.parentRefs {
            let defaulted = Self.defaulted(parentRef, routeNamespace: route.namespace)
            guard let parent = Self.parent(defaulted, in: listeners), let gateway = listeners.gateways[parent.gateway] else { continue }
            let gatewayKey = parent.gateway

            var conditions: [Condition] = []
            func set(_ type: String, _ status: Bool, _ reason: String, _ message: String) {
                conditions.append(Condition(type: type, status: status, reason: reason, message: message, observedGeneration: generation))
            }
            let reasons = outcome.dropped.map { "rule \($0.rule): \($0.message)" }.joined(separator: "; ")
            switch selectListeners(for: parentRef, route: route, gateway: gateway, parent: parent, snapshot: snapshot) {
            case .failure(let problem):
                set("Accepted", false, problem.reason, problem.message)
            case .success(let candidates):
                let winners = candidates.map { index, _ in
                    conflicts.winner(over: routeKey, on: .init(gateway: gatewayKey, listener: gateway.listeners[index].served.name))
                }
                let selected = zip(candidates, winners).filter { $0.1 == nil }.map(\.0)
                if selected.isEmpty {
                    set("Accepted", false, "Conflicted",
                        "its hostnames are already served by \(Set(winners.compactMap { $0 }).sorted().joined(separator: ", ")) on the same listener, which is older; an HTTPRoute and a GRPCRoute may not share a hostname")
                } else if outcome.acceptedRules == 0 {
                    set("Accepted", false, "UnsupportedValue", "All rules are invalid: \(reasons)")
                } else {
                    set("Accepted", true, "Accepted", "Route is accepted")
                    for (index, hostnames) in selected {
                        taken.append(.init(gateway: gatewayKey, listener: index))
                        // Counted on a listener that cannot be served, but nothing goes to the table.
                        if gateway.listeners[index].isUsable { attachTo(gateway, gateway.listeners[index].served, hostnames) }
                    }
                }
            }
            if let problem = outcome.refsProblem {
                set("ResolvedRefs", false, problem.reason, problem.message)
            } else {
                set("ResolvedRefs", true, "ResolvedRefs", "All references are resolved")
            }
            if !outcome.dropped.isEmpty && outcome.acceptedRules > 0 {
                set("PartiallyInvalid", true, "UnsupportedValue", "Dropped Rule(s): \(reasons)")
            }
            parents.append(RouteParentStatus(parentRef: defaulted, controllerName: options.controllerName, conditions: conditions))
        }
        return parents.isEmpty ? nil : RouteStatus(parents: parents)
    }

    /// The listeners a route would take on each of its Gateways, conflicts aside.
    func candidateListeners(for route: RouteIdentity, snapshot: ResourceSnapshot,
                            listeners: ListenerIndex) -> [(gateway: NamespacedName, listener: String, hostnames: [String])] {
        route.parentRefs.flatMap { parentRef -> [(gateway: NamespacedName, listener: String, hostnames: [String])] in
            let defaulted = Self.defaulted(parentRef, routeNamespace: route.namespace)
            guard let parent = Self.parent(defaulted, in: listeners), let gateway = listeners.gateways[parent.gateway],
                  case .success(let selected) = selectListeners(for: parentRef, route: route, gateway: gateway, parent: parent, snapshot: snapshot)
            else { return [] }
            return selected.map { (parent.gateway, gateway.listeners[$0.0].served.name, $0.1) }
        }
    }

    private static func defaulted(_ parentRef: ParentReference, routeNamespace: String) -> ParentReference {
        ParentReference(group: parentRef.group ?? GatewayAPIGroup.name, kind: parentRef.kind ?? "Gateway",
                        namespace: parentRef.namespace ?? routeNamespace, name: parentRef.name,
                        sectionName: parentRef.sectionName, port: parentRef.port)
    }

    /// What a parentRef names: a Gateway of ours (its own listeners) or a ListenerSet whose parent is
    /// one (that set's listeners only). nil for anything else, which is not ours to report on.
    struct RouteParent {
        var gateway: NamespacedName
        var listenerSet: ListenerSetState?
        var description: String {
            listenerSet.map { "ListenerSet \($0.listenerSet.metadata.namespacedName)" } ?? "Gateway \(gateway)"
        }
    }

    static func parent(_ defaulted: ParentReference, in listeners: ListenerIndex) -> RouteParent? {
        guard defaulted.group == GatewayAPIGroup.name else { return nil }
        let key = NamespacedName(defaulted.namespace!, defaulted.name)
        switch defaulted.kind {
        case "Gateway": return listeners.gateways[key] == nil ? nil : RouteParent(gateway: key)
        case "ListenerSet": return listeners.listenerSets[key].map { RouteParent(gateway: $0.gateway, listenerSet: $0) }
        default: return nil
        }
    }

    private struct AttachProblem: Error {
        var reason: String
        var message: String
    }

    /// The spec's order of refusals: no listener selected by sectionName/port → NoMatchingParent;
    /// none allowing this route's kind and namespace → NotAllowedByListeners; none whose hostname
    /// intersects the route's → NoMatchingListenerHostname.
    private func selectListeners(for parentRef: ParentReference, route: RouteIdentity, gateway: GatewayState, parent: RouteParent,
                                 snapshot: ResourceSnapshot) -> Swift.Result<[(Int, [String])], AttachProblem> {
        let routeNamespace = route.namespace
        if let set = parent.listenerSet, let rejection = set.rejection {
            return .failure(.init(reason: "NoMatchingParent", message: "\(parent.description) is not accepted: \(rejection.message)"))
        }
        // A Gateway parentRef reaches only the Gateway's own listeners, a ListenerSet one only that set's.
        let owner = parent.listenerSet?.listenerSet.metadata.namespacedName
        let candidates = gateway.listeners.indices.filter { index in
            let spec = gateway.listeners[index].spec
            return gateway.listeners[index].origin.listenerSet == owner
                && (parentRef.sectionName == nil || parentRef.sectionName == spec.name)
                && (parentRef.port == nil || parentRef.port == spec.port)
        }
        guard !candidates.isEmpty else {
            var wanted: [String] = []
            if let section = parentRef.sectionName { wanted.append("named \"\(section)\"") }
            if let port = parentRef.port { wanted.append("on port \(port)") }
            return .failure(.init(reason: "NoMatchingParent",
                                  message: "\(parent.description) has no listener \(wanted.joined(separator: " "))"))
        }
        var refusals: [String] = []
        let allowed = candidates.filter { index in
            let listener = gateway.listeners[index]
            let name = listener.spec.name
            guard listener.acceptsRoutes else {
                refusals.append("listener \"\(name)\" is not valid")
                return false
            }
            guard listener.supportedKinds.contains(where: { $0.kind == route.kind && ($0.group ?? GatewayAPIGroup.name) == GatewayAPIGroup.name }) else {
                refusals.append("listener \"\(name)\" does not allow \(route.kind)")
                return false
            }
            let namespaces = listener.spec.allowedRoutes?.namespaces
            let allowedNamespace: Bool
            switch namespaces?.from ?? .Same {
            case .All: allowedNamespace = true
            case .Same: allowedNamespace = routeNamespace == listener.origin.namespace
            case .Selector: allowedNamespace = namespaces?.selector?.matches(snapshot.labels(ofNamespace: routeNamespace)) ?? false
            }
            if !allowedNamespace {
                refusals.append("listener \"\(name)\" does not allow routes from namespace \(routeNamespace)")
            }
            return allowedNamespace
        }
        guard !allowed.isEmpty else {
            return .failure(.init(reason: "NotAllowedByListeners", message: refusals.joined(separator: "; ")))
        }
        let routeHostnames = route.hostnames
        let intersecting = allowed.compactMap { index -> (Int, [String])? in
            let hostnames = Hostnames.intersect(listener: gateway.listeners[index].spec.hostname, route: routeHostnames)
            return hostnames.isEmpty ? nil : (index, hostnames)
        }
        guard !intersecting.isEmpty else {
            let listenerHosts = allowed.map { gateway.listeners[$0].spec.hostname ?? "*" }.joined(separator: ", ")
            return .failure(.init(reason: "NoMatchingListenerHostname",
                                  message: "route hostnames \(routeHostnames.joined(separator: ", ")) do not intersect listener hostnames \(listenerHosts)"))
        }
        return .success(intersecting)
    }
}
