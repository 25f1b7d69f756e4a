import Foundation
import GatewayAPI
import RoutingTable
import Translator
import Yams

/// The computed `.status` of every GatewayClass, Gateway and HTTPRoute, shaped as the objects a
/// conformant controller writes to the API server, and rendered as JSON, YAML or a kubectl-like table.
public struct StatusReport: Sendable {
    public struct Item: Encodable, Sendable {
        public var apiVersion: String
        public var kind: String
        public var metadata: Metadata
        public var status: Status?
    }
    public struct Metadata: Encodable, Sendable {
        public var name: String
        public var namespace: String?
        public var generation: Int64?
    }
    public enum Status: Encodable, Sendable, Equatable {
        case gatewayClass(GatewayClassStatus)
        case gateway(GatewayStatus)
        case listenerSet(ListenerSetStatus)
        case route(RouteStatus)
        case policy(PolicyStatus)
        /// Not a Kubernetes status: whether archway serves the Ingress side by side, and why (not).
        case ingress(IngressServingStatus)
        /// archway.dev objects with a plain condition list (ServiceLevelObjective).
        case conditions([Condition])
        case addressPool(AddressPoolStatus)
        case acmeIssuer(ACMEIssuerStatus)
        case rollout(RolloutStatus)
        /// A LoadBalancer Service of archway's class: its load-balancer addresses.
        case loadBalancer(LoadBalancerStatus)
        public func encode(to encoder: any Encoder) throws {
            switch self {
            case .gatewayClass(let status): try status.encode(to: encoder)
            case .gateway(let status): try status.encode(to: encoder)
            case .listenerSet(let status): try status.encode(to: encoder)
            case .route(let status): try status.encode(to: encoder)
            case .policy(let status): try status.encode(to: encoder)
            case .addressPool(let status): try status.encode(to: encoder)
            case .acmeIssuer(let status): try status.encode(to: encoder)
            case .rollout(let status): try status.encode(to: encoder)
            case .loadBalancer(let status): try status.encode(to: encoder)
            case .conditions(let conditions):
                var container = encoder.container(keyedBy: ConditionKeys.self)
                try container.encode(conditions, forKey: .conditions)
            case .ingress(let status):
                var container = encoder.container(keyedBy: IngressKeys.self)
                try container.encode(status.served, forKey: .served)
                try container.encodeIfPresent(status.className, forKey: .ingressClassName)
                try container.encode(status.message, forKey: .message)
            }
        }
    }

    private enum IngressKeys: String, CodingKey { case served, ingressClassName, message }
    private enum ConditionKeys: String, CodingKey { case conditions }

    public var items: [Item]

    /// Objects with the statuses someone else computed (`archway status --from-cluster` reads them).
    public init(items: [Item], noStatus: [String: String]) {
        self.items = items
        self.noStatus = noStatus
    }
    /// Why a route got no status from this controller, by "namespace/name" (shown in the table).
    public internal(set) var unattached: [String: String] = [:]
    /// Why an object read from a cluster carries no status from archway (another controller's class,
    /// not reconciled yet), by `ObjectRef.description`: its item has no status.
    public var noStatus: [String: String] = [:]
    /// The edge policies guarding each route's rules, by "namespace/name" (shown in the table only:
    /// it is not part of any Kubernetes status).
    public var edgePolicies: [String: [String]] = [:]

    /// `timestamp` is stamped into every condition's `lastTransitionTime` (the translator has no clock),
    /// and the object's generation into each `observedGeneration` the translator left empty.
    /// The report `archway status` and `describe` show: the statuses, and the edge policies guarding
    /// each route's rules in `table`.
    init(snapshot: ResourceSnapshot, statuses: StatusSet, table: RoutingTable, timestamp: Date = Date()) {
        self.init(snapshot: snapshot, statuses: statuses, timestamp: timestamp)
        edgePolicies = table.edgePoliciesByRoute()
    }

    public init(snapshot: ResourceSnapshot, statuses: StatusSet, timestamp: Date = Date()) {
        self.init(unstamped: snapshot, statuses: statuses)
        let time = Item.time(timestamp)
        items = items.map { $0.stamped(at: time) }
    }

    /// The statuses as the translator computed them, before a clock stamps them (see `Item.stamped`):
    /// equal inputs give equal items, in the same order, whenever they are made.
    init(unstamped snapshot: ResourceSnapshot, statuses: StatusSet) {
        let v1 = "\(GatewayAPIGroup.name)/v1"
        var items: [Item] = []
        for gatewayClass in snapshot.gatewayClasses {
            guard let status = statuses.gatewayClasses[gatewayClass.metadata.name] else { continue }
            items.append(Item(apiVersion: v1, kind: "GatewayClass",
                              metadata: .init(name: gatewayClass.metadata.name, generation: gatewayClass.metadata.generation),
                              status: .gatewayClass(status)))
        }
        for gateway in snapshot.gateways {
            guard let status = statuses.gateways[gateway.metadata.namespacedName] else { continue }
            items.append(Item(apiVersion: v1, kind: "Gateway",
                              metadata: .init(name: gateway.metadata.name, namespace: gateway.metadata.namespace, generation: gateway.metadata.generation),
                              status: .gateway(status)))
        }
        for set in snapshot.listenerSets {
            guard let status = statuses.listenerSets[set.metadata.namespacedName] else { continue }
            items.append(Item(apiVersion: v1, kind: "ListenerSet",
                              metadata: .init(name: set.metadata.name, namespace: set.metadata.namespace, generation: set.metadata.generation),
                              status: .listenerSet(status)))
        }
        for route in statuses.routeReports(snapshot) {
            let status = route.status
            if status == nil {
                let parents = route.parentRefs.compactMap { ref in
                    ParentRefExplanation.explain(ref, routeNamespace: route.metadata.namespace ?? "default", snapshot: snapshot,
                                                 statuses: statuses)?.message
                }
                unattached[route.metadata.namespacedName.description] = parents.isEmpty ? "the route has no parentRefs" : parents.joined(separator: "; ")
            }
            items.append(Item(apiVersion: v1, kind: route.kind,  // every route kind is served at v1 since Gateway API v1.6
                              metadata: .init(name: route.metadata.name, namespace: route.metadata.namespace, generation: route.metadata.generation),
                              status: status.map { .route($0) } ?? .route(RouteStatus(parents: []))))
        }
        for policy in snapshot.backendTLSPolicies {
            guard let status = statuses.backendTLSPolicies[policy.metadata.namespacedName] else { continue }
            items.append(Item(apiVersion: v1, kind: "BackendTLSPolicy",
                              metadata: .init(name: policy.metadata.name, namespace: policy.metadata.namespace, generation: policy.metadata.generation),
                              status: .policy(status)))
        }
        for policy in snapshot.backendTrafficPolicies {
            guard let status = statuses.backendTrafficPolicies[policy.metadata.namespacedName] else { continue }
            items.append(Item(apiVersion: "\(BackendTrafficPolicy.group)/v1alpha1", kind: "BackendTrafficPolicy",
                              metadata: .init(name: policy.metadata.name, namespace: policy.metadata.namespace, generation: policy.metadata.generation),
                              status: .policy(status)))
        }
        for policy in snapshot.edgePolicies {
            guard let status = statuses.edgePolicies[policy.kind]?[policy.metadata.namespacedName] else { continue }
            items.append(Item(apiVersion: "\(BackendTrafficPolicy.group)/v1alpha1", kind: policy.kind.rawValue,
                              metadata: .init(name: policy.metadata.name, namespace: policy.metadata.namespace, generation: policy.metadata.generation),
                              status: .policy(status)))
        }
        for slo in snapshot.serviceLevelObjectives {
            guard let conditions = statuses.serviceLevelObjectives[slo.metadata.namespacedName] else { continue }
            items.append(Item(apiVersion: "\(BackendTrafficPolicy.group)/v1alpha1", kind: "ServiceLevelObjective",
                              metadata: .init(name: slo.metadata.name, namespace: slo.metadata.namespace, generation: slo.metadata.generation),
                              status: .conditions(conditions)))
        }
        for pool in snapshot.addressPools {
            guard let status = statuses.addressPools[pool.metadata.name] else { continue }
            items.append(Item(apiVersion: "\(BackendTrafficPolicy.group)/v1alpha1", kind: "AddressPool",
                              metadata: .init(name: pool.metadata.name, generation: pool.metadata.generation),
                              status: .addressPool(status)))
        }
        for issuer in snapshot.acmeIssuers {
            guard let status = statuses.acmeIssuers[issuer.metadata.name] else { continue }
            items.append(Item(apiVersion: "\(BackendTrafficPolicy.group)/v1alpha1", kind: "ACMEIssuer",
                              metadata: .init(name: issuer.metadata.name, generation: issuer.metadata.generation),
                              status: .acmeIssuer(status)))
        }
        for rollout in snapshot.rollouts {
            guard let status = statuses.rollouts[rollout.metadata.namespacedName] else { continue }
            items.append(Item(apiVersion: "\(BackendTrafficPolicy.group)/v1alpha1", kind: "Rollout",
                              metadata: .init(name: rollout.metadata.name, namespace: rollout.metadata.namespace, generation: rollout.metadata.generation),
                              status: .rollout(status)))
        }
        for (name, status) in statuses.loadBalancers.sorted(by: { $0.key < $1.key }) {
            let generation = snapshot.services[name]?.metadata.generation
            items.append(Item(apiVersion: "v1", kind: "Service", metadata: .init(name: name.name, namespace: name.namespace, generation: generation),
                              status: .loadBalancer(status)))
        }
        for ingress in snapshot.ingresses {
            guard let status = statuses.ingresses[ingress.metadata.namespacedName] else { continue }
            items.append(Item(apiVersion: "networking.k8s.io/v1", kind: "Ingress",
                              metadata: .init(name: ingress.metadata.name, namespace: ingress.metadata.namespace, generation: ingress.metadata.generation),
                              status: .ingress(status)))
        }
        self.items = items
    }

    /// Loads the manifests and translates them: the manifest errors and the resulting report.
    public static func compute(paths: [String], controllerName: String,
                               ingress: IngressServing? = IngressServing()) -> (errors: [String], report: StatusReport) {
        let translation = OfflineTranslation(paths: paths, controllerName: controllerName, ingress: ingress)
        let report = StatusReport(snapshot: translation.snapshot, statuses: translation.result.statuses, table: translation.result.table)
        return (translation.load.errors.map(\.description), report)
    }

    private struct List: Encodable {
        var apiVersion = "v1"
        var kind = "List"
        var items: [Item]
    }

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(List(items: items)), as: UTF8.self)
    }

    public func yaml() throws -> String {
        try YAMLEncoder().encode(List(items: items))
    }

    /// Reads like `kubectl get`: one line per object, and under it every condition that is not as it
    /// should be, with its reason and message.
    public func table() -> String {
        var rows: [[String]] = [["KIND", "NAMESPACE", "NAME", "STATUS"]]
        var notes: [Int: [String]] = [:]
        var policyLines: [Int: [String]] = [:]
        /// Lines that inform rather than warn (an issued certificate), printed without the "!".
        var detailLines: [Int: [String]] = [:]
        func problems(_ conditions: [Condition], prefix: String) -> [String] {
            conditions.filter(\.isProblem)
                .map { "\(prefix)\($0.type)=\($0.status) \($0.reason): \($0.message)" }
        }
        func summary(_ conditions: [Condition]) -> String {
            conditions.filter { $0.type != "Conflicted" || $0.isTrue }.map { "\($0.type)=\($0.status)" }.joined(separator: " ")
        }
        for item in items {
            var line = ""
            var itemNotes: [String] = []
            var infos: [String] = []
            var details: [String] = []
            switch item.status {
            case .gatewayClass(let status):
                line = summary(status.conditions)
                itemNotes = problems(status.conditions, prefix: "")
            case .gateway(let status):
                let listeners = status.listeners.map { "\($0.name)(routes=\($0.attachedRoutes))" }.joined(separator: ",")
                line = summary(status.conditions) + " address=" + status.addresses.map(\.value).joined(separator: ",") + " listeners=" + listeners
                itemNotes = problems(status.conditions, prefix: "")
                for listener in status.listeners {
                    itemNotes += problems(listener.conditions, prefix: "listener \(listener.name): ")
                }
            case .listenerSet(let status):
                let listeners = status.listeners.map { "\($0.name)(routes=\($0.attachedRoutes))" }.joined(separator: ",")
                line = summary(status.conditions) + " listeners=" + listeners
                itemNotes = problems(status.conditions, prefix: "")
                for listener in status.listeners {
                    itemNotes += problems(listener.conditions, prefix: "listener \(listener.name): ")
                }
            case .route(let status):
                if status.parents.isEmpty {
                    line = "NotAttached"
                    itemNotes = [unattached["\(item.metadata.namespace ?? "")/\(item.metadata.name)"] ?? "no parentRef names a Gateway served by this controller"]
                } else {
                    line = status.parents.map { parent in
                        "\(parent.parentRef.namespace ?? "")/\(parent.parentRef.name)\(parent.parentRef.sectionName.map { "/" + $0 } ?? ""): " + summary(parent.conditions)
                    }.joined(separator: "; ")
                    for parent in status.parents {
                        itemNotes += problems(parent.conditions, prefix: "parent \(parent.parentRef.namespace ?? "")/\(parent.parentRef.name): ")
                    }
                    if item.kind == "HTTPRoute" || item.kind == "GRPCRoute" {
                        infos = edgePolicies["\(item.metadata.namespace ?? "default")/\(item.metadata.name)"] ?? []
                    }
                }
            case .ingress(let status):
                line = status.served ? "Served" : "NotServed"
                itemNotes = [status.message]
            case .policy(let status):
                let conditions = status.ancestors.first?.conditions ?? []
                line = summary(conditions)
                itemNotes = problems(conditions, prefix: "")
            case .conditions(let conditions):
                line = summary(conditions) + (conditions.first { $0.isTrue }.map { " (\($0.message))" } ?? "")
                itemNotes = problems(conditions, prefix: "")
            case .addressPool(let status):
                line = summary(status.conditions) + " used=\(status.used) free=\(status.free) total=\(status.total)"
                itemNotes = problems(status.conditions, prefix: "")
            case .acmeIssuer(let status):
                line = summary(status.conditions)
                itemNotes = problems(status.conditions, prefix: "")
                for certificate in status.certificates {
                    let subject = "certificate \(certificate.secret) [\(certificate.names.joined(separator: ", "))]"
                    if certificate.state == "Issued" {
                        details.append("\(subject): Issued, valid until \(certificate.notAfter ?? "?"), renewed from \(certificate.renewalTime ?? "?")")
                    } else {
                        itemNotes.append("\(subject): \(certificate.state): \(certificate.message ?? "")"
                                         + (certificate.nextAttempt.map { "; next attempt at \($0)" } ?? ""))
                    }
                }
            case .rollout(let status):
                line = summary(status.conditions) + (status.progress.map { " \($0.phase.rawValue) step \($0.step + 1)" } ?? "")
                    + (status.canaryWeight.map { " canary=\($0)%" } ?? "")
                itemNotes = problems(status.conditions, prefix: "")
                details = [status.conditions.first { $0.isTrue }?.message, status.message, status.progress?.message].compactMap { $0 }
            case .loadBalancer(let status):
                let ips = (status.loadBalancer.ingress ?? []).compactMap(\.ip)
                line = "LoadBalancer external-ip=" + (ips.isEmpty ? "<pending>" : ips.joined(separator: ","))
                itemNotes = problems(status.conditions, prefix: "")
            case .none:
                line = "NoStatus"
                itemNotes = [noStatus[item.ref.description] ?? "archway has written no status for it"]
            }
            notes[rows.count] = itemNotes
            policyLines[rows.count] = infos
            detailLines[rows.count] = details
            rows.append([item.kind, item.metadata.namespace ?? "", item.metadata.name, line])
        }
        let widths = (0..<3).map { column in rows.map { $0[column].count }.max() ?? 0 }
        var output = ""
        for (index, row) in rows.enumerated() {
            var text = ""
            for column in 0..<3 { text += row[column].padding(toLength: widths[column] + 2, withPad: " ", startingAt: 0) }
            output += text + row[3] + "\n"
            for note in notes[index] ?? [] { output += "    ! " + note + "\n" }
            for line in policyLines[index] ?? [] { output += "    policies " + line + "\n" }
            for line in detailLines[index] ?? [] { output += "    " + line + "\n" }
        }
        return output
    }
}
