import GatewayAPI

/// Why a route's parentRef attaches it to nothing this archway serves: said once, for `archway
/// status` (the note beside an unattached route) and `archway check` (which fails on the typos).
struct ParentRefExplanation {
    var message: String
    /// A mistake in the manifests (a typo, a missing object), as opposed to a route or Gateway that
    /// belongs to another controller, which is nobody's error.
    var isError: Bool

    /// nil when the parentRef names a Gateway this archway serves: its status says the rest.
    static func explain(_ ref: ParentReference, routeNamespace: String, snapshot: ResourceSnapshot,
                        statuses: StatusSet) -> ParentRefExplanation? {
        let group = ref.group ?? GatewayAPIGroup.name, kind = ref.kind ?? "Gateway"
        if group == GatewayAPIGroup.name, kind == "ListenerSet" {
            return explainListenerSet(NamespacedName(ref.namespace ?? routeNamespace, ref.name), snapshot: snapshot, statuses: statuses)
        }
        guard group == GatewayAPIGroup.name, kind == "Gateway" else {
            let knownElsewhere = group == GatewayAPIGroup.name ? kind == "XListenerSet" : group.isEmpty && kind == "Service"
            let typo = KnownKinds.closest(to: kind, among: ["Gateway", "ListenerSet"]).map { "; did you mean \($0)?" } ?? ""
            return ParentRefExplanation(message: "parentRef kind \(kind) in group \(group.isEmpty ? "core" : group) is not a Gateway\(typo)",
                                        isError: !knownElsewhere)
        }
        let key = NamespacedName(ref.namespace ?? routeNamespace, ref.name)
        guard let gateway = snapshot.gateways.first(where: { $0.metadata.namespacedName == key }) else {
            let names = snapshot.gateways.map(\.metadata.namespacedName.description)
            let suggestion = KnownKinds.closest(to: key.description, among: names).map { "; did you mean \($0)?" } ?? ""
            return ParentRefExplanation(message: "Gateway \(key) not found\(suggestion)", isError: true)
        }
        let className = gateway.spec.gatewayClassName
        guard snapshot.gatewayClasses.contains(where: { $0.metadata.name == className }) else {
            return ParentRefExplanation(
                message: "Gateway \(key) has gatewayClassName \(className), but no GatewayClass \(className) exists "
                    + "(it needs one whose spec.controllerName is archway's controller name)",
                isError: true)
        }
        guard statuses.gateways[key] != nil else {
            let controller = snapshot.gatewayClasses.first { $0.metadata.name == className }?.spec.controllerName ?? "?"
            return ParentRefExplanation(message: "Gateway \(key) has class \(className), whose controller \(controller) is not this archway",
                                        isError: false)
        }
        return nil
    }

    /// nil when the ListenerSet's parent is a Gateway of ours: the ListenerSet's status says the rest.
    private static func explainListenerSet(_ key: NamespacedName, snapshot: ResourceSnapshot, statuses: StatusSet) -> ParentRefExplanation? {
        guard statuses.listenerSets[key] == nil else { return nil }
        guard let set = snapshot.listenerSets.first(where: { $0.metadata.namespacedName == key }) else {
            let names = snapshot.listenerSets.map(\.metadata.namespacedName.description)
            let suggestion = KnownKinds.closest(to: key.description, among: names).map { "; did you mean \($0)?" } ?? ""
            return ParentRefExplanation(message: "ListenerSet \(key) not found\(suggestion)", isError: true)
        }
        let parent = set.parentGateway.map { "Gateway \($0)" } ?? "a parent that is not a Gateway"
        return ParentRefExplanation(message: "ListenerSet \(key) joins \(parent), which this archway does not serve", isError: false)
    }
}
