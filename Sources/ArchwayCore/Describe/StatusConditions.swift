import GatewayAPI

extension StatusReport.Item {
    /// The object's identity, as events and `describe` name it.
    public var ref: ObjectRef { ObjectRef(kind: kind, namespace: metadata.namespace ?? "", name: metadata.name) }

    /// Every condition of the status, grouped by what it is about: the object itself (""), one of its
    /// listeners, or one parent or ancestor. What `describe` prints and the rejection events compare.
    public typealias ConditionGroup = (scope: String, conditions: [Condition])

    public var conditionGroups: [ConditionGroup] {
        func own(_ conditions: [Condition]) -> [ConditionGroup] { [(scope: "", conditions: conditions)] }
        func listeners(_ listeners: [ListenerStatus]) -> [ConditionGroup] { listeners.map { (scope: "listener \($0.name)", conditions: $0.conditions) } }
        switch status {
        case .gatewayClass(let status): return own(status.conditions)
        case .gateway(let status): return own(status.conditions) + listeners(status.listeners)
        case .listenerSet(let status): return own(status.conditions) + listeners(status.listeners)
        case .route(let status): return status.parents.map { (scope: "parent \(Self.describe($0.parentRef))", conditions: $0.conditions) }
        case .policy(let status): return status.ancestors.map { (scope: "ancestor \(Self.describe($0.ancestorRef))", conditions: $0.conditions) }
        case .conditions(let conditions): return own(conditions)
        case .addressPool(let status): return own(status.conditions)
        case .acmeIssuer(let status): return own(status.conditions)
        case .rollout(let status): return own(status.conditions)
        case .loadBalancer(let status): return own(status.conditions)
        case .ingress, .none: return []
        }
    }

    /// "Gateway infra/web listener https", as a parentRef reads.
    static func describe(_ ref: ParentReference) -> String {
        "\(ref.kind ?? "Gateway") \(ref.namespace.map { "\($0)/" } ?? "")\(ref.name)" + (ref.sectionName.map { " listener \($0)" } ?? "")
    }
}

/// Turns each applied configuration's statuses into the events of objects newly rejected (Accepted,
/// ResolvedRefs or Programmed turning False) and recovered (back to True). The first configuration's
/// rejections are events too: for that replica they are new.
public struct RejectionTracker: Sendable {
    static let watched: Set<String> = ["Accepted", "ResolvedRefs", "Programmed"]
    /// The watched conditions that were False, by object ("scope\0type"): only those are kept, so the
    /// memory follows what is broken, not the size of the configuration.
    private var rejected: [ObjectRef: Set<String>] = [:]
    /// The statuses the last events were found from.
    private var seen: StatusSet?

    public init() {}

    /// The events of an applied configuration's statuses. The same statuses as last time can neither
    /// reject nor recover anything, so `items` is not even made: most applies (a route's filter edited,
    /// a certificate renewed) change no status, and at 10,000 routes the items cost tens of
    /// milliseconds and about 10 MB of resident memory each time.
    public mutating func events(for statuses: StatusSet, items: () -> [StatusReport.Item]) -> [ArchwayEvent] {
        guard statuses != seen else { return [] }
        seen = statuses
        return events(for: items())
    }

    public mutating func events(for items: [StatusReport.Item]) -> [ArchwayEvent] {
        var events: [ArchwayEvent] = []
        var now: [ObjectRef: Set<String>] = [:]
        for item in items {
            let ref = item.ref
            let before = rejected[ref] ?? []
            for (scope, conditions) in item.conditionGroups {
                for condition in conditions where Self.watched.contains(condition.type) {
                    let key = scope + "\u{0}" + condition.type
                    let subject = scope.isEmpty ? "" : scope + ": "
                    if condition.status == "False" {
                        now[ref, default: []].insert(key)
                        if !before.contains(key) {
                            events.append(ArchwayEvent(type: .Warning, reason: condition.reason, regarding: ref,
                                                       note: "\(subject)\(condition.type)=False: \(condition.message)"))
                        }
                    } else if before.contains(key) {
                        events.append(ArchwayEvent(type: .Normal, reason: "Recovered", regarding: ref,
                                                   note: "\(subject)\(condition.type)=\(condition.status) again: \(condition.message)"))
                    }
                }
            }
        }
        rejected = now
        return events
    }
}
