import GatewayAPI
import Translator

/// `archway check`: every manifest error, then every status condition that says something is wrong,
/// each on one line naming the file, the object and the field or condition.
public struct ConfigCheck: Sendable {
    public var problems: [String]

    public init(paths: [String], controllerName: String, ingress: IngressServing? = IngressServing()) {
        let translation = OfflineTranslation(paths: paths, controllerName: controllerName, ingress: ingress)
        let (snapshot, result) = (translation.snapshot, translation.result)
        var problems = translation.load.errors.map(\.description)
        var locations: [ObjectRef: SourceLocation] = [:]
        for loaded in translation.load.resources { locations[loaded.resource.ref] = loaded.location }

        func report(_ kind: String, _ namespace: String, _ name: String, _ field: String, _ condition: Condition) {
            let location = locations[ObjectRef(kind: kind, namespace: namespace, name: name)]
            let object = namespace.isEmpty ? "\(kind) \(name)" : "\(kind) \(namespace)/\(name)"
            problems.append("\(location.map { "\($0)" } ?? "?") (\(object)): \(field): \(condition.type)=\(condition.status) \(condition.reason): \(condition.message)")
        }
        for (name, status) in result.statuses.gatewayClasses.sorted(by: { $0.key < $1.key }) {
            for condition in status.conditions where condition.isProblem { report("GatewayClass", "", name, "status", condition) }
        }
        for (key, status) in result.statuses.gateways.sorted(by: { $0.key < $1.key }) {
            for condition in status.conditions where condition.isProblem { report("Gateway", key.namespace, key.name, "status", condition) }
            for listener in status.listeners {
                for condition in listener.conditions where condition.isProblem {
                    report("Gateway", key.namespace, key.name, "status.listeners[\(listener.name)]", condition)
                }
            }
        }
        for (key, status) in result.statuses.listenerSets.sorted(by: { $0.key < $1.key }) {
            for condition in status.conditions where condition.isProblem { report("ListenerSet", key.namespace, key.name, "status", condition) }
            for listener in status.listeners {
                for condition in listener.conditions where condition.isProblem {
                    report("ListenerSet", key.namespace, key.name, "status.listeners[\(listener.name)]", condition)
                }
            }
        }
        for gateway in snapshot.gateways where result.statuses.gateways[gateway.metadata.namespacedName] == nil {
            let className = gateway.spec.gatewayClassName
            guard !snapshot.gatewayClasses.contains(where: { $0.metadata.name == className }) else { continue }
            let location = locations[ObjectRef(kind: "Gateway", namespace: gateway.metadata.namespace ?? "default", name: gateway.metadata.name)]
            problems.append("\(location.map { "\($0)" } ?? "?") (Gateway \(gateway.metadata.namespacedName)): spec.gatewayClassName: "
                            + "no GatewayClass \(className) exists; create one with spec.controllerName: \(controllerName)")
        }
        for route in result.statuses.routeReports(snapshot) {
            let key = route.metadata.namespacedName
            for (index, parent) in (route.status?.parents ?? []).enumerated() {
                for condition in parent.conditions where condition.isProblem {
                    report(route.kind, key.namespace, key.name, "status.parents[\(index)] (\(parent.parentRef.kind ?? "Gateway") \(parent.parentRef.namespace ?? "")/\(parent.parentRef.name))", condition)
                }
            }
            for (index, parentRef) in route.parentRefs.enumerated() {
                guard let explanation = ParentRefExplanation.explain(parentRef, routeNamespace: key.namespace, snapshot: snapshot,
                                                                     statuses: result.statuses), explanation.isError else { continue }
                let location = locations[ObjectRef(kind: route.kind, namespace: key.namespace, name: key.name)]
                problems.append("\(location.map { "\($0)" } ?? "?") (\(route.kind) \(key)): spec.parentRefs[\(index)]: \(explanation.message)")
            }
        }
        // A policy says the same thing through every ancestor: once is enough.
        let edgeStatuses = result.statuses.edgePolicies.sorted { $0.key.rawValue < $1.key.rawValue }.map { ($0.key.rawValue, $0.value) }
        for (kind, statuses) in [("BackendTLSPolicy", result.statuses.backendTLSPolicies), ("BackendTrafficPolicy", result.statuses.backendTrafficPolicies)] + edgeStatuses {
            for (key, status) in statuses.sorted(by: { $0.key < $1.key }) {
                for condition in status.ancestors.first?.conditions ?? [] where condition.isProblem {
                    report(kind, key.namespace, key.name, "status", condition)
                }
            }
        }
        for (key, conditions) in result.statuses.serviceLevelObjectives.sorted(by: { $0.key < $1.key }) {
            for condition in conditions where condition.isProblem { report("ServiceLevelObjective", key.namespace, key.name, "status", condition) }
        }
        for (name, status) in result.statuses.addressPools.sorted(by: { $0.key < $1.key }) {
            for condition in status.conditions where condition.isProblem { report("AddressPool", "", name, "status", condition) }
        }
        self.problems = problems
    }
}
