import GatewayAPI

/// Who declared a listener: the Gateway itself or a ListenerSet that joined it. Route namespaces
/// ("Same"), certificate references and ReferenceGrants are all relative to it.
struct ListenerOrigin: Equatable {
    var kind: String
    var namespace: String
    var name: String

    /// The ListenerSet that declared the listener, or nil for the Gateway's own.
    var listenerSet: NamespacedName? { kind == "ListenerSet" ? NamespacedName(namespace, name) : nil }
}

/// A ListenerSet that names a Gateway of ours, with its listeners validated and why it was refused.
struct ListenerSetState {
    var listenerSet: ListenerSet
    var gateway: NamespacedName
    var listeners: [ListenerState]
    /// NotAllowed, ParentNotAccepted or ListenersNotValid; nil when the ListenerSet joined its Gateway.
    var rejection: (reason: String, message: String)?
    /// Accepted with some listeners invalid (conflicted, unresolvable): Accepted=True/ListenersNotValid.
    var invalidListeners: [String] = []

    var generation: Int64 { listenerSet.metadata.generation ?? 1 }

    /// Once conflicts are known: a ListenerSet none of whose listeners can serve is not accepted.
    mutating func judge(_ merged: [ListenerState]) {
        guard rejection == nil else { return }
        listeners = merged
        invalidListeners = merged.filter { !$0.isUsable }.map(\.spec.name)
        if !merged.contains(where: \.isUsable) {
            rejection = ("ListenersNotValid", "no listener is valid: \(invalidListeners.joined(separator: ", "))")
        }
    }
}

extension Translator {
    /// The ListenerSets naming `gateway` as their parent, in the spec's precedence order, each allowed
    /// by the Gateway's `allowedListeners` (or refused) and with its listeners validated.
    func joiningListenerSets(of gateway: Gateway, parentRejected: Bool, snapshot: ResourceSnapshot) -> [ListenerSetState] {
        let key = gateway.metadata.namespacedName
        return snapshot.listenerSets.filter { $0.parentGateway == key }.map { set in
            let namespace = set.metadata.namespace ?? "default"
            let origin = ListenerOrigin(kind: "ListenerSet", namespace: namespace, name: set.metadata.name)
            var state = ListenerSetState(listenerSet: set, gateway: key,
                                         listeners: set.spec.listeners.map { validateListener($0, origin: origin, on: gateway, snapshot: snapshot) })
            if !Self.allows(gateway, listenersFrom: namespace, snapshot: snapshot) {
                let from = gateway.listenerSetsFrom
                state.rejection = ("NotAllowed", "Gateway \(key) does not allow ListenerSets from namespace \(namespace) (allowedListeners.namespaces.from: \(from.rawValue))")
            } else if parentRejected {
                state.rejection = ("ParentNotAccepted", "Gateway \(key) is not accepted")
            }
            // Listeners of a refused set never join the Gateway, so none of them is programmed.
            if let rejection = state.rejection {
                for i in state.listeners.indices where state.listeners[i].unservable == nil {
                    state.listeners[i].unservable = "the ListenerSet is not accepted: \(rejection.message)"
                }
            }
            return state
        }
    }

    /// `allowedListeners.namespaces.from`, None by default: a Gateway takes no ListenerSet unless it says so.
    static func allows(_ gateway: Gateway, listenersFrom namespace: String, snapshot: ResourceSnapshot) -> Bool {
        let namespaces = gateway.spec.allowedListeners?.namespaces
        switch gateway.listenerSetsFrom {
        case .None: return false
        case .All: return true
        case .Same: return namespace == (gateway.metadata.namespace ?? "default")
        case .Selector: return namespaces?.selector?.matches(snapshot.labels(ofNamespace: namespace)) ?? false
        }
    }

    /// How many ListenerSets joined each Gateway; nil for a Gateway that allows none, so that the
    /// status of Gateways that never heard of ListenerSets stays as it was.
    func attachedListenerSets(_ index: ListenerIndex, gateway: GatewayState) -> Int? {
        let key = gateway.gateway.metadata.namespacedName
        let joined = index.listenerSets.values.filter { $0.gateway == key && $0.rejection == nil }.count
        let allowsAny = gateway.gateway.listenerSetsFrom != AllowedListeners.Namespaces.From.None
        return allowsAny || joined > 0 ? joined : nil
    }

    /// The ListenerSet's conditions (Programmed follows Accepted: a refused set programs nothing) and
    /// its listeners' statuses, with the routes counted on the Gateway's merged listeners.
    func listenerSetStatus(_ state: ListenerSetState, index: ListenerIndex) -> ListenerSetStatus {
        let generation = state.generation
        let key = state.listenerSet.metadata.namespacedName
        let merged = index.gateways[state.gateway]?.listeners.filter { $0.origin.listenerSet == key } ?? []
        let listeners = (state.rejection == nil ? merged : state.listeners).map { listenerStatus($0, generation: generation) }
        let conditions: [Condition]
        if let rejection = state.rejection {
            conditions = [
                Condition(type: "Accepted", status: false, reason: rejection.reason, message: rejection.message, observedGeneration: generation),
                Condition(type: "Programmed", status: false, reason: rejection.reason, message: rejection.message, observedGeneration: generation),
            ]
        } else if !state.invalidListeners.isEmpty {
            conditions = [
                Condition(type: "Accepted", status: true, reason: "ListenersNotValid",
                          message: "Listeners not valid: \(state.invalidListeners.joined(separator: ", "))", observedGeneration: generation),
                Condition(type: "Programmed", status: true, reason: "Programmed", message: "ListenerSet is serving its valid listeners",
                          observedGeneration: generation),
            ]
        } else {
            conditions = [
                Condition(type: "Accepted", status: true, reason: "Accepted", message: "ListenerSet is accepted", observedGeneration: generation),
                Condition(type: "Programmed", status: true, reason: "Programmed", message: "ListenerSet is serving", observedGeneration: generation),
            ]
        }
        return ListenerSetStatus(conditions: conditions, listeners: listeners)
    }
}
