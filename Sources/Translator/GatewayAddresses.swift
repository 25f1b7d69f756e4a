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
    /// this runs) become sockets of the Gateway's own. An address without a value asks archway to
    /// assign one, as does a Gateway with no addresses: it then shares the default address. An
    /// address this host cannot serve on is left out, and said so (AddressNotUsable), while the
    /// others serve: a Gateway that lists one bad address among good ones keeps serving on the good.
    func addressing(of gateway: Gateway, snapshot: ResourceSnapshot) -> GatewayAddressing {
        let requests = gateway.spec.addresses ?? []
        var addressing = GatewayAddressing()
        var unusable: [String] = []
        var wantsAssigned = requests.isEmpty
        for request in requests {
            guard let value = request.value, !value.isEmpty else {
                wantsAssigned = true
                continue
            }
            guard let address = IPAddressText.canonical(value) else {
                unusable.append("\"\(value)\" is not an IP address")
                continue
            }
            if let problem = options.addressCheck?(address) {
                unusable.append("\(address): \(problem)")
                continue
            }
            let socket: String? = address == options.bindAddress ? nil : address
            guard !addressing.sockets.contains(socket) else { continue }
            addressing.sockets.append(socket)
            addressing.served.append(Gateway.Address(type: "IPAddress", value: address))
        }
        if wantsAssigned, !addressing.sockets.contains(nil) {
            addressing.sockets.append(nil)
            for address in defaultAddresses(snapshot) where !addressing.served.contains(address) {
                addressing.served.append(address)
            }
        }
        if !unusable.isEmpty {
            let serving = addressing.served.isEmpty ? "it serves on none" : "it serves on \(addressing.served.map(\.value).joined(separator: ", ")) only"
            addressing.problem = ("AddressNotUsable",
                                  "spec.addresses cannot be used: \(unusable.joined(separator: "; ")); \(serving)")
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
