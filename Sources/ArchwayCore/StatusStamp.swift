import Foundation
import GatewayAPI

extension StatusReport.Item {
    /// How a stamp's time is written into `lastTransitionTime`.
    static func time(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

    /// The item as written at `time`: the translator has no clock, so every condition gets `time` as
    /// its `lastTransitionTime`, and the object's generation as its `observedGeneration` where the
    /// translator left that empty. The one stamping rule: `StatusReport` stamps every item with it,
    /// and a replica publishing to the API server stamps only the items whose status changed.
    func stamped(at time: String) -> Self {
        let generation = metadata.generation
        func stamp(_ conditions: [Condition]) -> [Condition] {
            conditions.map { var c = $0; c.lastTransitionTime = time; c.observedGeneration = c.observedGeneration ?? generation; return c }
        }
        var item = self
        switch status {
        case .gatewayClass(var status):
            status.conditions = stamp(status.conditions)
            item.status = .gatewayClass(status)
        case .gateway(var status):
            status.conditions = stamp(status.conditions)
            for index in status.listeners.indices { status.listeners[index].conditions = stamp(status.listeners[index].conditions) }
            item.status = .gateway(status)
        case .listenerSet(var status):
            status.conditions = stamp(status.conditions)
            for index in status.listeners.indices { status.listeners[index].conditions = stamp(status.listeners[index].conditions) }
            item.status = .listenerSet(status)
        case .route(var status):
            for index in status.parents.indices { status.parents[index].conditions = stamp(status.parents[index].conditions) }
            item.status = .route(status)
        case .policy(var status):
            for index in status.ancestors.indices { status.ancestors[index].conditions = stamp(status.ancestors[index].conditions) }
            item.status = .policy(status)
        case .conditions(let conditions):
            item.status = .conditions(stamp(conditions))
        case .addressPool(var status):
            status.conditions = stamp(status.conditions)
            item.status = .addressPool(status)
        case .acmeIssuer(var status):
            status.conditions = stamp(status.conditions)
            item.status = .acmeIssuer(status)
        case .rollout(var status):
            status.conditions = stamp(status.conditions)
            item.status = .rollout(status)
        case .loadBalancer(var status):
            status.conditions = stamp(status.conditions)
            item.status = .loadBalancer(status)
        case .ingress, .none:
            break
        }
        return item
    }
}
