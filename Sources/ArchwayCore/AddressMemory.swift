import GatewayAPI

/// File mode has no API server to remember which address a pool gave each Gateway and LoadBalancer
/// Service; the last applied configuration does. Its statuses are put back on the objects that carry
/// none, as a cluster's objects carry theirs, so the pools see what each held and a reload never
/// renumbers anyone. (In a cluster the objects come with the status the leader wrote, kept as is.)
enum AddressMemory {
    static func carryOver(_ resources: [Resource], from statuses: StatusSet?) -> [Resource] {
        guard let statuses else { return resources }
        return resources.map { resource in
            switch resource {
            case .gateway(var gateway) where gateway.status?.addresses == nil:
                guard let held = statuses.gateways[gateway.metadata.namespacedName]?.addresses, !held.isEmpty else { return resource }
                gateway.status = Gateway.ObservedStatus(addresses: held)
                return .gateway(gateway)
            case .service(var service) where service.status?.loadBalancer?.ingress == nil:
                guard let held = statuses.loadBalancers[service.metadata.namespacedName]?.loadBalancer, !(held.ingress ?? []).isEmpty else { return resource }
                service.status = Service.Status(loadBalancer: held)
                return .service(service)
            default:
                return resource
            }
        }
    }
}
