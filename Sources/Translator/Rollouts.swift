import GatewayAPI
import RoutingTable

extension Translator {
    /// Each accepted Rollout's rule as the current step serves it, lowered onto plain Gateway API in
    /// the snapshot the rest of the translation reads (the user's route is not touched): the step's
    /// weights on stable and canary (the rule's other backendRefs get none), a RequestMirror to the
    /// canary for a shadow step, and for a testers step a copy of the rule, appended, whose matches
    /// also ask for the testers' header or cookie and whose traffic is all the canary's. More header
    /// matches rank higher, so the Gateway API's own precedence sends testers to the copy.
    /// Returns the snapshot to translate and, per route, which rules each Rollout tracks.
    func lowerRollouts(_ snapshot: ResourceSnapshot, into statuses: inout StatusSet, builder: inout TableBuilder) -> ResourceSnapshot {
        var lowered = snapshot
        var claimed: [String: NamespacedName] = [:]
        for rollout in snapshot.rollouts {
            let name = rollout.metadata.namespacedName
            let generation = rollout.metadata.generation ?? 1
            let progress = snapshot.rolloutProgress[name].flatMap { $0.fingerprint == rollout.fingerprint ? $0 : nil }
            func refuse(_ reason: String, _ message: String) {
                statuses.rollouts[name] = RolloutStatus(conditions: [Condition(type: "Accepted", status: false, reason: reason, message: message,
                                                                               observedGeneration: generation)])
            }
            let kind = rollout.spec.targetRef.kind ?? "HTTPRoute"
            let routeName = NamespacedName(name.namespace, rollout.spec.targetRef.name)
            let found: (rules: [(name: String?, refs: [BackendReference])], hostnames: [String])?
            switch kind {
            case "GRPCRoute":
                found = snapshot.grpcRoutes.first { $0.metadata.namespacedName == routeName }
                    .map { (($0.spec.rules ?? []).map { ($0.name, $0.backendRefs ?? []) }, $0.spec.hostnames ?? []) }
            default:
                found = snapshot.httpRoutes.first { $0.metadata.namespacedName == routeName }
                    .map { (($0.spec.rules ?? []).map { ($0.name, $0.backendRefs ?? []) }, $0.spec.hostnames ?? []) }
            }
            guard let rules = found?.rules else {
                refuse("TargetNotFound", "\(kind) \(routeName) not found")
                continue
            }
            let ruleIndex: Int
            if let section = rollout.spec.targetRef.sectionName {
                guard let index = rules.firstIndex(where: { $0.name == section }) else {
                    refuse("TargetNotFound", "\(kind) \(routeName) has no rule named \(section)")
                    continue
                }
                ruleIndex = index
            } else {
                guard rules.count == 1 else {
                    refuse("TargetNotFound", "\(kind) \(routeName) has \(rules.count) rules: name the rule in targetRef.sectionName")
                    continue
                }
                ruleIndex = 0
            }
            let refs = rules[ruleIndex].refs
            func position(_ backend: Rollout.BackendName) -> Int? {
                refs.firstIndex { ($0.kind ?? "Service") == "Service" && ($0.group ?? "").isEmpty && $0.namespace == nil
                    && $0.name == backend.name && (backend.port == nil || $0.port == backend.port) }
            }
            let rule = rules[ruleIndex].name.map { "rule \($0)" } ?? "rule \(ruleIndex)"
            guard let stable = position(rollout.spec.stable), let canary = position(rollout.spec.canary) else {
                let missing = position(rollout.spec.stable) == nil ? rollout.spec.stable.name : rollout.spec.canary.name
                refuse("BackendNotFound", "\(missing) is not a backendRef (a Service of the route's namespace) of \(rule) of \(kind) \(routeName): "
                       + "list stable and canary in the rule (the canary with weight 0), and the Rollout sets their weights")
                continue
            }
            let routeKey = "\(kind) \(routeName)"
            let claim = "\(routeKey) \(ruleIndex)"
            if let other = claimed[claim] {
                refuse("Conflicted", "\(rule) of \(kind) \(routeName) is already managed by Rollout \(other)")
                continue
            }
            claimed[claim] = name

            let traffic = rollout.traffic(at: progress)
            var tracked = [ruleIndex]
            switch kind {
            case "GRPCRoute":
                lowered.editGRPCRoute(routeName) { route in
                    tracked += Self.lower(traffic, onto: &route.spec.rules, at: ruleIndex, stable: stable, canary: canary)
                }
            default:
                lowered.editHTTPRoute(routeName) { route in
                    tracked += Self.lower(traffic, onto: &route.spec.rules, at: ruleIndex, stable: stable, canary: canary)
                }
            }
            for index in tracked { builder.rolloutRules[routeKey, default: [:]][index] = name.description }
            builder.rollouts[name.description] = RolloutTracking(
                name: name.description, stable: rollout.spec.stable.name, canary: rollout.spec.canary.name,
                slos: builder.sloTargets[routeKey] ?? [])
            let where_ = progress.map { "\($0.phase.rawValue) at step \($0.step + 1) of \(rollout.spec.steps.count)" } ?? "not started"
            statuses.rollouts[name] = RolloutStatus(
                conditions: [Condition(type: "Accepted", status: true, reason: "Accepted",
                                       message: "manages \(rule) of \(kind) \(routeName): \(Self.describe(traffic, rollout))", observedGeneration: generation)],
                progress: progress, canaryWeight: traffic.canaryWeight,
                message: progress?.phase == .Promoted
                    ? "promoted: to make it permanent, set \(rule) of \(kind) \(routeName) to backendRefs [{name: \(rollout.spec.canary.name)"
                        + (refs[canary].port.map { ", port: \($0)" } ?? "") + ", weight: 100}] and delete the Rollout"
                    : where_)
            builder.rolloutNotes[kind, default: [:]][routeName, default: []].append("\(rule): traffic managed by Rollout \(name) (\(Self.describe(traffic, rollout)))")
        }
        return lowered
    }

    /// A route whose rule a Rollout manages says so in its Accepted message, with the traffic now:
    /// whoever reads the route sees why its weights are not the ones written.
    func noteRollouts(_ notes: [String: [NamespacedName: [String]]], in statuses: inout StatusSet) {
        for (kind, routes) in notes {
            for (route, lines) in routes {
                let note = lines.joined(separator: "; ")
                func annotate(_ status: inout RouteStatus) {
                    for parent in status.parents.indices {
                        for index in status.parents[parent].conditions.indices where status.parents[parent].conditions[index].type == "Accepted" {
                            status.parents[parent].conditions[index].message += " (\(note))"
                        }
                    }
                }
                if kind == "GRPCRoute" { statuses.grpcRoutes[route].map { var s = $0; annotate(&s); statuses.grpcRoutes[route] = s } }
                else { statuses.httpRoutes[route].map { var s = $0; annotate(&s); statuses.httpRoutes[route] = s } }
            }
        }
    }

    /// Lowers the step onto rule `index` of an HTTPRoute's or GRPCRoute's rules: its weights and
    /// mirror, and for a testers step the copy appended; returns the copy's index when there is one.
    static func lower<Rule: RolloutLowerableRule>(_ traffic: RolloutTraffic, onto rules: inout [Rule]?, at index: Int,
                                                  stable: Int, canary: Int) -> [Int] {
        guard var all = rules, all.indices.contains(index) else { return [] }
        defer { rules = all }
        let (served, testers) = lower(traffic, refs: all[index].backendRefs ?? [], stable: stable, canary: canary)
        all[index].backendRefs = served.refs
        if let mirror = served.mirror { all[index].filters = (all[index].filters ?? []) + [mirror] }
        guard let testers else { return [] }
        var copy = all[index]
        copy.name = nil
        copy.backendRefs = testers.refs
        copy.requireHeader(testers.header)
        all.append(copy)
        return [all.count - 1]
    }

    /// The rule's backendRefs for the step, a mirror for a shadow step, and for a testers step the
    /// copy's backendRefs and the header its matches add.
    static func lower(_ traffic: RolloutTraffic, refs: [BackendReference], stable: Int, canary: Int)
        -> (served: (refs: [BackendReference], mirror: HTTPRoute.Filter?), testers: (refs: [BackendReference], header: HTTPRoute.ValueMatch)?) {
        func weighted(canaryWeight: Int) -> [BackendReference] {
            refs.enumerated().map { index, ref in
                var ref = ref
                ref.weight = index == canary ? canaryWeight : index == stable ? 100 - canaryWeight : 0
                return ref
            }
        }
        switch traffic {
        case .weight(let weight):
            return ((weighted(canaryWeight: weight), nil), nil)
        case .shadow(let percent):
            var target = refs[canary]
            target.weight = nil
            target.filters = nil
            return ((weighted(canaryWeight: 0), HTTPRoute.Filter(requestMirror: .init(backendRef: target, percent: percent))), nil)
        case .testers(let testers):
            let header: HTTPRoute.ValueMatch
            if let match = testers.header {
                header = match
            } else {
                let parts = (testers.cookie ?? "=").split(separator: "=", maxSplits: 1).map(String.init)
                header = HTTPRoute.ValueMatch(type: .RegularExpression, name: "cookie",
                                              value: "(^|.*;\\s*)\(escapeRegex(parts[0]))=\(escapeRegex(parts.count > 1 ? parts[1] : ""))(;.*|$)")
            }
            return ((weighted(canaryWeight: 0), nil), (weighted(canaryWeight: 100), header))
        }
    }

    static func describe(_ traffic: RolloutTraffic, _ rollout: Rollout) -> String {
        switch traffic {
        case .weight(let weight): "\(rollout.spec.stable.name) \(100 - weight)%, \(rollout.spec.canary.name) \(weight)%"
        case .shadow(let percent): "\(rollout.spec.stable.name) 100%, \(percent)% copied to \(rollout.spec.canary.name)"
        case .testers(let testers):
            "\(rollout.spec.stable.name) 100%, testers (\(testers.header.map { "header \($0.name)" } ?? "cookie \(testers.cookie ?? "")")) to \(rollout.spec.canary.name)"
        }
    }
}

/// What lowering a Rollout's step needs of a rule, which HTTPRoute and GRPCRoute rules both have.
protocol RolloutLowerableRule {
    var name: String? { get set }
    var filters: [HTTPRoute.Filter]? { get set }
    var backendRefs: [BackendReference]? { get set }
    /// Every match (the rule's implicit catch-all one when it has none) also requires `header`.
    mutating func requireHeader(_ header: HTTPRoute.ValueMatch)
}

extension HTTPRoute.Rule: RolloutLowerableRule {
    mutating func requireHeader(_ header: HTTPRoute.ValueMatch) {
        matches = (matches ?? [HTTPRoute.Match()]).map { var match = $0; match.headers = (match.headers ?? []) + [header]; return match }
    }
}

extension GRPCRoute.Rule: RolloutLowerableRule {
    mutating func requireHeader(_ header: HTTPRoute.ValueMatch) {
        matches = (matches ?? [GRPCRoute.Match()]).map { var match = $0; match.headers = (match.headers ?? []) + [header]; return match }
    }
}
