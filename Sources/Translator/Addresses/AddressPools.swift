import GatewayAPI

extension Translator {
    /// The Gateways of archway's classes and the LoadBalancer Services of its load-balancer class,
    /// as claims on the AddressPools. What each held before (its status: written back by the leader in
    /// a cluster, carried over from the last translation in file mode) is kept first, so no change
    /// elsewhere renumbers it. A Gateway refused as a whole (an unsupported address type) asks for
    /// nothing, and so holds nothing.
    func addressClaims(_ snapshot: ResourceSnapshot, classes: Set<String>) -> [AddressClaim] {
        var claims: [AddressClaim] = []
        // The shared default address (the --gateway-service Service's) is not a Gateway's to keep.
        let shared = Set(defaultAddresses(snapshot).map(\.value))
        for gateway in snapshot.gateways where classes.contains(gateway.spec.gatewayClassName) && Self.rejection(of: gateway) == nil {
            let previous = (gateway.status?.addresses ?? []).filter { ($0.type ?? "IPAddress") == "IPAddress" && !shared.contains($0.value) }.map(\.value)
            let asked = (gateway.metadata.annotations?[AddressPool.ipFamiliesAnnotation] ?? "")
                .split(separator: ",").compactMap { IPAddress.Family(rawValue: String($0.filter { $0 != " " })) }
            claims.append(.gateway(gateway, in: snapshot, families: asked.isEmpty ? [.IPv4] : asked, previous: previous))
        }
        for service in snapshot.services.values.sorted(by: { $0.metadata.namespacedName < $1.metadata.namespacedName })
        where isOurLoadBalancer(service) {
            let previous = (service.status?.loadBalancer?.ingress ?? []).compactMap(\.ip)
            claims.append(.service(service, in: snapshot, loadBalancerIP: service.spec?.loadBalancerIP,
                                   families: Self.families(of: service), previous: previous))
        }
        return claims
    }

    /// A Service of type LoadBalancer whose class is archway's, or that names none while archway is
    /// the cluster's default load balancer.
    func isOurLoadBalancer(_ service: Service) -> Bool {
        guard service.spec?.type == "LoadBalancer", let ours = options.loadBalancers else { return false }
        guard let named = service.spec?.loadBalancerClass else { return ours.isDefault }
        return named == ours.className
    }

    /// The families a Service asks for, as kube-proxy would serve them: both for dual stack (its
    /// first family first), else its first family, else IPv4.
    static func families(of service: Service) -> [IPAddress.Family] {
        let listed = (service.spec?.ipFamilies ?? []).compactMap(IPAddress.Family.init(rawValue:))
        let dual = ["PreferDualStack", "RequireDualStack"].contains(service.spec?.ipFamilyPolicy ?? "")
        if dual { return listed.count == 2 ? listed : [listed.first ?? .IPv4, listed.first == .IPv6 ? .IPv4 : .IPv6] }
        return [listed.first ?? .IPv4]
    }

    /// What archway writes on each of its LoadBalancer Services: the addresses granted, and a
    /// condition that says why any it asked for were not. A requested address outside every pool is
    /// refused: a load balancer hands out only addresses it owns.
    func loadBalancerStatuses(_ snapshot: ResourceSnapshot, allocation: AddressAllocation) -> [NamespacedName: LoadBalancerStatus] {
        var result: [NamespacedName: LoadBalancerStatus] = [:]
        // A Service archway gave an address that is no longer its (type or class changed, or
        // --default-load-balancer turned off): the address goes back, or two Services would have it.
        for service in snapshot.services.values where !isOurLoadBalancer(service)
            && (service.status?.conditions ?? []).contains(where: { $0.type == Self.addressAssignedCondition && $0.isTrue }) {
            result[service.metadata.namespacedName] = LoadBalancerStatus(loadBalancer: .init(ingress: []), conditions: [
                Condition(type: Self.addressAssignedCondition, status: false, reason: "NotArchwaysLoadBalancer",
                          message: "no longer a LoadBalancer Service of archway's class: its address went back to the pool",
                          observedGeneration: service.metadata.generation ?? 1),
            ])
        }
        for service in snapshot.services.values where isOurLoadBalancer(service) {
            let name = service.metadata.namespacedName
            let holding = allocation.holders[ObjectRef(kind: "Service", namespace: name.namespace, name: name.name)]
            let granted = (holding?.addresses ?? []).map(\.address.description)
            var problems = (holding?.problems ?? []).map(\.description)
            problems += (holding?.unmanaged ?? []).map { "\(AddressAllocation.Reason.addressNotInPool): \($0) is in no AddressPool archway may hand out" }
            if holding == nil || (granted.isEmpty && problems.isEmpty) {
                problems.append("no AddressPool admits this Service (none exists, or none allows its namespace and kind)")
            }
            let generation = service.metadata.generation ?? 1
            let condition = problems.isEmpty
                ? Condition(type: Self.addressAssignedCondition, status: true, reason: "AddressAssigned",
                            message: "assigned \(granted.joined(separator: ", "))", observedGeneration: generation)
                : Condition(type: Self.addressAssignedCondition, status: false,
                            reason: granted.isEmpty ? "AddressNotAssigned" : "AddressPartlyAssigned",
                            message: problems.joined(separator: "; "), observedGeneration: generation)
            result[name] = LoadBalancerStatus(loadBalancer: .init(ips: granted), conditions: [condition])
        }
        return result
    }

    /// Prefixed: a Service's conditions are shared with whatever else acts on Services.
    static let addressAssignedCondition = "archway.dev/AddressAssigned"
}
