import GatewayAPI
import RoutingTable

/// Where a Gateway is served: on addresses of its own, each with sockets of its own, or on the
/// default bind address, whose sockets every Gateway without an address shares.
struct GatewayAddressing {
    /// `status.addresses`: what is really served, nothing more.
    var served: [Gateway.Address] = []
    /// The addresses its listeners bind on; nil stands for the default bind address.
    var sockets: [String?] = []
    /// Set when an address the spec asks for cannot be served: Programmed=False with this reason.
    var problem: (reason: String, message: String)?
}

extension Translator {
    /// The spec's addresses (type IPAddress; other types were refused as UnsupportedAddress before
    /// this runs) and the ones the AddressPools granted become sockets of the Gateway's own. An address
    /// inside a pool is the pool's to grant (refused when another object holds it); one outside every
    /// pool must be on an interface of this host. An entry without a value, or a Gateway with no
    /// addresses, takes one from a pool that admits it, else shares the default address. An address
    /// that cannot be served is left out and said so (AddressNotUsable, AddressNotAssigned) while the
    /// others serve: a Gateway that lists one bad address among good ones keeps serving on the good.
    func addressing(of gateway: Gateway, snapshot: ResourceSnapshot, allocation: AddressAllocation) -> GatewayAddressing {
        let requests = gateway.spec.addresses ?? []
        let holding = allocation.holders[ObjectRef(kind: "Gateway", namespace: gateway.metadata.namespacedName.namespace, name: gateway.metadata.name)]
        let granted = (holding?.addresses ?? []).map(\.address.description)
        var addressing = GatewayAddressing()
        var unusable: [String] = []
        func serve(_ address: String) {
            let socket: String? = address == options.bindAddress ? nil : address
            guard !addressing.sockets.contains(socket) else { return }
            addressing.sockets.append(socket)
            addressing.served.append(Gateway.Address(type: "IPAddress", value: address))
        }
        var wantsAssigned = requests.isEmpty
        for request in requests {
            guard let value = request.value, !value.isEmpty else {
                wantsAssigned = true
                continue
            }
            guard let address = IPAddress(value)?.description else {
                unusable.append("\"\(value)\" is not an IP address")
                continue
            }
            // In a pool: granted below, or refused with the pool's reason among the problems.
            guard holding == nil || holding!.unmanaged.contains(where: { IPAddress($0)?.description == address }) else { continue }
            if !options.announcesAddresses, let problem = options.addressCheck?(address) {
                unusable.append("\(address): \(problem)")
                continue
            }
            serve(address)
        }
        for address in granted {
            if !options.announcesAddresses, let problem = options.addressCheck?(address) {
                unusable.append("\(address) (from an AddressPool): \(problem); turn on layer-2 announcement (--announce) to make it reachable")
                continue
            }
            serve(address)
        }
        let notAssigned = (holding?.problems ?? []).map(\.description)
        // No pool admits it and it asked for an assigned address: the default one, shared.
        if wantsAssigned, granted.isEmpty, notAssigned.isEmpty, !addressing.sockets.contains(nil) {
            addressing.sockets.append(nil)
            for address in defaultAddresses(snapshot) where !addressing.served.contains(address) {
                addressing.served.append(address)
            }
        }
        let serving = addressing.served.isEmpty ? "it serves on none" : "it serves on \(addressing.served.map(\.value).joined(separator: ", ")) only"
        if !unusable.isEmpty {
            addressing.problem = ("AddressNotUsable", "spec.addresses cannot be used: \((unusable + notAssigned).joined(separator: "; ")); \(serving)")
        } else if !notAssigned.isEmpty {
            addressing.problem = ("AddressNotAssigned", "addresses could not be assigned: \(notAssigned.joined(separator: "; ")); \(serving)")
        }
        return addressing
    }

    /// What a Gateway that asks for no address of its own reports: the address archway binds by
    /// default, or in a cluster its Service's load-balancer addresses (or, before it has any, its
    /// cluster IP).
    func defaultAddresses(_ snapshot: ResourceSnapshot) -> [Gateway.Address] {
        guard let name = options.gatewayService else { return [Gateway.Address(type: "IPAddress", value: options.defaultAddress)] }
        guard let service = snapshot.services[name] else { return [] }
        let ingress = service.status?.loadBalancer?.ingress ?? []
        if !ingress.isEmpty {
            return ingress.compactMap { entry in
                entry.ip.map { Gateway.Address(type: "IPAddress", value: $0) }
                    ?? entry.hostname.map { Gateway.Address(type: "Hostname", value: $0) }
            }
        }
        guard let clusterIP = service.spec?.clusterIP, !clusterIP.isEmpty, clusterIP != "None" else { return [] }
        return [Gateway.Address(type: "IPAddress", value: clusterIP)]
    }
}
