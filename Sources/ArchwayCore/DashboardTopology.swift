import Foundation
import GatewayAPI

/// What the dashboard draws: Gateways with their listeners, routes with their parents, hostnames,
/// backends (with weights) and conditions. Built from the snapshot and statuses each time a
/// configuration is applied.
struct DashboardTopology: Encodable {
    struct ConditionView: Encodable {
        var type: String
        var status: String
        var reason: String
    }
    struct ListenerView: Encodable {
        var name: String
        var port: Int
        var `protocol`: String
        var attachedRoutes: Int
        /// An HTTPS listener without a usable certificate is unhealthy even when its Gateway is Programmed.
        var conditions: [ConditionView]
    }
    struct GatewayView: Encodable {
        var name: String
        var gatewayClass: String
        /// status.addresses: where it is served.
        var addresses: [String]
        var listeners: [ListenerView]
        var conditions: [ConditionView]
    }
    struct BackendView: Encodable {
        var name: String
        var weight: Int
        /// Which rule sends traffic here and to what share of that rule's requests: "X-Canary=true:
        /// 100%" for a header-matched rule, "90%" for a weight split. Shares are per rule: two rules
        /// with one backend each are not a 50/50 split.
        var label: String
    }
    /// An edge policy that is not in force as written (invalid, cannot be enforced, target missing).
    struct PolicyProblemView: Encodable {
        var name: String
        var reason: String
        var message: String
    }
    struct RouteView: Encodable {
        var kind: String
        var name: String
        var parents: [String]
        var hostnames: [String]
        var backends: [BackendView]
        var conditions: [ConditionView]
        /// Edge policies per rule ("rule 0: RateLimit ns/name, ...").
        var policies: [String]
        /// The Rollouts managing its rules, whose traffic its backends' shares show.
        var rollouts: [String]
    }
    /// A Rollout: where it stands and the canary's share of live traffic now.
    struct RolloutView: Encodable {
        var name: String
        var route: String
        var phase: String
        var step: String
        var canaryWeight: Int
        var message: String
        var conditions: [ConditionView]
    }
    /// An AddressPool's use, and who holds which of its addresses.
    struct PoolView: Encodable {
        var name: String
        var used: Int
        var free: String
        var total: String
        var holders: [String]
        var conditions: [ConditionView]
    }
    /// A certificate archway obtains from an ACMEIssuer: where it stands and when it expires.
    struct CertificateView: Encodable {
        var secret: String
        var names: [String]
        var issuer: String
        var state: String
        var notAfter: String?
        var renewalTime: String?
        var message: String?
    }
    var gateways: [GatewayView]
    var pools: [PoolView]
    var certificates: [CertificateView]
    var routes: [RouteView]
    var policyProblems: [PolicyProblemView]
    var rollouts: [RolloutView]

    /// `served`: the routes as served (Rollouts' steps lowered), whose backends and shares are drawn;
    /// by default the snapshot's own.
    init(snapshot: ResourceSnapshot, statuses: StatusSet, edgePolicies: [String: [String]] = [:], served: ResourceSnapshot? = nil) {
        let served = served ?? snapshot
        func views(_ conditions: [Condition]) -> [ConditionView] { conditions.map { ConditionView(type: $0.type, status: $0.status, reason: $0.reason) } }
        gateways = snapshot.gateways.compactMap { gateway in
            guard let status = statuses.gateways[gateway.metadata.namespacedName] else { return nil }
            let attached = Dictionary(status.listeners.map { ($0.name, $0.attachedRoutes) }) { first, _ in first }
            return GatewayView(name: gateway.metadata.namespacedName.description, gatewayClass: gateway.spec.gatewayClassName,
                               addresses: status.addresses.map(\.value),
                               listeners: gateway.spec.listeners.map { listener in
                                   ListenerView(name: listener.name, port: listener.port, protocol: listener.protocol,
                                                attachedRoutes: attached[listener.name] ?? 0,
                                                conditions: views(status.listeners.first { $0.name == listener.name }?.conditions ?? []))
                               },
                               conditions: views(status.conditions))
        }
        pools = snapshot.addressPools.compactMap { pool in
            guard let status = statuses.addressPools[pool.metadata.name] else { return nil }
            return PoolView(name: pool.metadata.name, used: status.used, free: status.free, total: status.total,
                            holders: status.assignments.map { "\($0.address) \($0.holder.kind) \($0.holder.namespace)/\($0.holder.name)" },
                            conditions: views(status.conditions))
        }
        certificates = statuses.acmeIssuers.sorted { $0.key < $1.key }.flatMap { issuer, status in
            status.certificates.map {
                CertificateView(secret: $0.secret, names: $0.names, issuer: issuer, state: $0.state, notAfter: $0.notAfter,
                                renewalTime: $0.renewalTime, message: $0.state == "Issued" ? nil : $0.message)
            }
        }
        /// One rule's backends, each labelled with the rule's matches (when it has any) and its share.
        func backends(_ refs: [BackendReference], matches: String?, namespace: String) -> [BackendView] {
            let total = refs.reduce(0) { $0 + ($1.weight ?? 1) }
            return refs.map { ref in
                let share = total > 0 ? "\(Int((100 * Double(ref.weight ?? 1) / Double(total)).rounded()))%" : "0%"
                return BackendView(name: "\(ref.namespace ?? namespace)/\(ref.name)\(ref.port.map { ":\($0)" } ?? "")", weight: ref.weight ?? 1,
                                   label: matches.map { "\($0): \(share)" } ?? share)
            }
        }
        // Each route's backends and hostnames, by "Kind namespace/name", read once from the routes as served.
        var specs: [String: (backends: [BackendView], hostnames: [String])] = [:]
        for route in served.httpRoutes {
            let namespace = route.metadata.namespace ?? "default"
            specs["HTTPRoute \(route.metadata.namespacedName)"] = ((route.spec.rules ?? []).flatMap {
                backends($0.backendRefs ?? [], matches: Self.summary($0.matches ?? []), namespace: namespace)
            }, route.spec.hostnames ?? [])
        }
        for route in served.grpcRoutes {
            let namespace = route.metadata.namespace ?? "default"
            specs["GRPCRoute \(route.metadata.namespacedName)"] = ((route.spec.rules ?? []).flatMap { rule in
                let methods = (rule.matches ?? []).compactMap { match in match.method.map { "\($0.service ?? "*")/\($0.method ?? "*")" } }
                return backends(rule.backendRefs ?? [], matches: methods.isEmpty ? nil : methods.joined(separator: " or "), namespace: namespace)
            }, route.spec.hostnames ?? [])
        }
        for route in snapshot.streamRoutes {
            let namespace = route.metadata.namespace ?? "default"
            specs["\(route.kind.rawValue) \(route.metadata.namespacedName)"] = ((route.spec.rules ?? []).flatMap {
                backends($0.backendRefs ?? [], matches: nil, namespace: namespace)
            }, route.spec.hostnames ?? [])
        }
        var managing: [String: [String]] = [:]
        rollouts = snapshot.rollouts.compactMap { rollout in
            let name = rollout.metadata.namespacedName
            guard let status = statuses.rollouts[name] else { return nil }
            let route = "\(rollout.spec.targetRef.kind ?? "HTTPRoute") \(NamespacedName(name.namespace, rollout.spec.targetRef.name))"
            let accepted = status.conditions.first { $0.type == "Accepted" }
            let phase = accepted?.isTrue == false ? "NotAccepted" : status.progress?.phase.rawValue ?? "Waiting"
            let step = status.progress.map { "\($0.step + 1)/\(rollout.spec.steps.count)" } ?? "-"
            if accepted?.isTrue == true { managing[route, default: []].append("Rollout \(name): \(phase) step \(step), canary \(status.canaryWeight ?? 0)%") }
            return RolloutView(name: name.description, route: route, phase: phase, step: step, canaryWeight: status.canaryWeight ?? 0,
                               message: [status.progress?.message, status.message, accepted?.isTrue == false ? accepted?.message : nil]
                                .compactMap { $0 }.joined(separator: "; "),
                               conditions: views(status.conditions))
        }
        var routes: [RouteView] = []
        for report in statuses.routeReports(snapshot) {
            guard let status = report.status, !status.parents.isEmpty else { continue }
            let namespace = report.metadata.namespace ?? "default"
            let name = report.metadata.namespacedName
            let (routeBackends, hostnames) = specs["\(report.kind) \(name)"] ?? ([], [])
            routes.append(RouteView(kind: report.kind, name: name.description,
                                    parents: status.parents.map { "\($0.parentRef.namespace ?? namespace)/\($0.parentRef.name)" },
                                    hostnames: hostnames, backends: routeBackends,
                                    conditions: views(status.parents.first?.conditions ?? []),
                                    policies: edgePolicies[name.description] ?? [], rollouts: managing["\(report.kind) \(name)"] ?? []))
        }
        self.routes = routes
        policyProblems = statuses.edgePolicies.sorted { $0.key.rawValue < $1.key.rawValue }.flatMap { kind, byName in
            byName.sorted { $0.key < $1.key }.compactMap { name, status -> PolicyProblemView? in
                guard let accepted = status.ancestors.first?.conditions.first(where: { $0.type == "Accepted" }), accepted.isProblem else { return nil }
                return PolicyProblemView(name: "\(kind.rawValue) \(name)", reason: accepted.reason, message: accepted.message)
            }
        }
    }

    /// What distinguishes a rule's requests, for its edge labels: "X-Canary=true", "/api", "POST /upload";
    /// nil for a rule that takes everything.
    static func summary(_ matches: [HTTPRoute.Match]) -> String? {
        let parts = matches.compactMap { match -> String? in
            var words: [String] = []
            if let method = match.method { words.append(method.rawValue) }
            if let path = match.path?.value, path != "/" { words.append(path) }
            words += (match.headers ?? []).map { "\($0.name)=\($0.value)" }
            words += (match.queryParams ?? []).map { "?\($0.name)=\($0.value)" }
            return words.isEmpty ? nil : words.joined(separator: " ")
        }
        return parts.isEmpty ? nil : parts.joined(separator: " or ")
    }

    func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{\"gateways\":[],\"routes\":[],\"policyProblems\":[]}"
    }
}
