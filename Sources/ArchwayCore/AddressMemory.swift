import GatewayAPI

/// File mode has no API server to remember which address a pool gave each Gateway and LoadBalancer
/// Service; archway remembers it itself: across reloads from the last applied configuration, across
/// restarts from `addresses.json` in the state directory. What was held is put back as the status of
/// the objects that carry none, as a cluster's objects carry theirs, so the pools see what each held
/// and neither a reload nor a restart renumbers anyone. (In a cluster the objects come with the
/// status the leader wrote, kept as is.)
struct AddressMemory: Codable, Equatable, Sendable {
    struct GatewayAddresses: Codable, Equatable, Sendable {
        var namespace: String
        var name: String
        var addresses: [Gateway.Address]
    }

    struct ServiceAddresses: Codable, Equatable, Sendable {
        var namespace: String
        var name: String
        var ingress: [Service.Status.LoadBalancer.Ingress]
    }

    var gateways: [GatewayAddresses] = []
    var services: [ServiceAddresses] = []

    static let fileName = "addresses.json"

    init() {}

    /// What the objects of an applied configuration hold.
    init(_ statuses: StatusSet) {
        gateways = statuses.gateways.filter { !$0.value.addresses.isEmpty }.sorted { $0.key < $1.key }
            .map { GatewayAddresses(namespace: $0.key.namespace, name: $0.key.name, addresses: $0.value.addresses) }
        services = statuses.loadBalancers.compactMap { key, status in
            guard let ingress = status.loadBalancer.ingress, !ingress.isEmpty else { return nil }
            return ServiceAddresses(namespace: key.namespace, name: key.name, ingress: ingress)
        }.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
    }

    func carryOver(_ resources: inout [Resource]) {
        // Nothing held (no pools, or none granted yet): nothing to look at among thousands of routes.
        guard !gateways.isEmpty || !services.isEmpty else { return }
        let heldByGateway = Dictionary(gateways.map { (NamespacedName($0.namespace, $0.name), $0.addresses) }, uniquingKeysWith: { first, _ in first })
        let heldByService = Dictionary(services.map { (NamespacedName($0.namespace, $0.name), $0.ingress) }, uniquingKeysWith: { first, _ in first })
        for index in resources.indices {
            switch resources[index] {
            case .gateway(var gateway) where gateway.status?.addresses == nil:
                guard let held = heldByGateway[gateway.metadata.namespacedName] else { continue }
                gateway.status = Gateway.ObservedStatus(addresses: held)
                resources[index] = .gateway(gateway)
            case .service(var service) where service.status?.loadBalancer?.ingress == nil:
                guard let held = heldByService[service.metadata.namespacedName] else { continue }
                service.status = Service.Status(loadBalancer: .init(ingress: held))
                resources[index] = .service(service)
            default:
                continue
            }
        }
    }
}
