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
            guard let parsed = IPAddress(value) else {
                unusable.append("\"\(value)\" is not an IP address")
                continue
            }
            let address = parsed.description
            if let problem = Self.notAHostAddress(parsed) {
                unusable.append("\(address): \(problem)")
                continue
            }
            // In a pool: granted below, or refused with the pool's reason among the problems.
            guard holding == nil || holding!.unmanaged.contains(where: { IPAddress($0)?.description == address }) else { continue }
            if let problem = options.addressCheck?(address) {
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
        // It asked for an assigned address and has none it can serve on (no pool admits it, the pool
        // is full, its address is not reachable yet): the default one, shared, rather than nothing;
        // the condition says what went wrong.
        if wantsAssigned, addressing.sockets.isEmpty {
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

    /// Addresses a Gateway cannot have as its own: a socket there would join the default socket's
    /// wildcard (and share its connections), reach a group, or alias an IPv4 address past the pools.
    static func notAHostAddress(_ address: IPAddress) -> String? {
        let number = address.number
        switch address.family {
        case .IPv4:
            let value = UInt32(truncatingIfNeeded: number.low)
            if value == 0 { return "the unspecified address is every address, not one" }
            if value >> 28 == 0xE || value == .max { return "a multicast or broadcast address is no host's" }
        case .IPv6:
            if number == .zero { return "the unspecified address is every address, not one" }
            if number.high >> 56 == 0xFF { return "a multicast address is no host's" }
            if number.high == 0, number.low >> 32 == 0xFFFF { return "an IPv4-mapped address: write the IPv4 address" }
        }
        return nil
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
