import GatewayAPI

extension StatusReport.Item {
    /// The object's identity, as events and `describe` name it.
    public var ref: ObjectRef { ObjectRef(kind: kind, namespace: metadata.namespace ?? "", name: metadata.name) }

    /// Every condition of the status, grouped by what it is about: the object itself (""), one of its
    /// listeners, or one parent or ancestor. What `describe` prints and the rejection events compare.
    public typealias ConditionGroup = (scope: String, conditions: [Condition])

    public var conditionGroups: [ConditionGroup] {
        var groups: [ConditionGroup] = []
        forEachConditionGroup { scope, conditions in groups.append((scope: scope(), conditions: conditions)) }
        return groups
    }

    /// `conditionGroups` one at a time, each scope named only when asked for: the rejection events
    /// look at every object's conditions on every apply, and at 10,000 healthy routes naming each
    /// parent was most of what that cost.
    func forEachConditionGroup(_ body: (_ scope: () -> String, _ conditions: [Condition]) -> Void) {
        func own(_ conditions: [Condition]) { body({ "" }, conditions) }
        func listeners(_ listeners: [ListenerStatus]) { for listener in listeners { body({ "listener \(listener.name)" }, listener.conditions) } }
        switch status {
        case .gatewayClass(let status): own(status.conditions)
        case .gateway(let status): own(status.conditions); listeners(status.listeners)
        case .listenerSet(let status): own(status.conditions); listeners(status.listeners)
        case .route(let status): for parent in status.parents { body({ "parent \(Self.describe(parent.parentRef))" }, parent.conditions) }
        case .policy(let status): for ancestor in status.ancestors { body({ "ancestor \(Self.describe(ancestor.ancestorRef))" }, ancestor.conditions) }
        case .conditions(let conditions): own(conditions)
        case .addressPool(let status): own(status.conditions)
        case .acmeIssuer(let status): own(status.conditions)
        case .rollout(let status): own(status.conditions)
        case .loadBalancer(let status): own(status.conditions)
        case .ingress, .none: break
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
            // Nil for the healthy majority: then only a False condition costs a name.
            let before = rejected[ref]
            item.forEachConditionGroup { scope, conditions in
                for condition in conditions where Self.watched.contains(condition.type) {
                    guard condition.status == "False" || before != nil else { continue }
                    let scope = scope()
                    let key = scope + "\u{0}" + condition.type
                    let subject = scope.isEmpty ? "" : scope + ": "
                    if condition.status == "False" {
                        now[ref, default: []].insert(key)
                        if before?.contains(key) != true {
                            events.append(ArchwayEvent(type: .Warning, reason: condition.reason, regarding: ref,
                                                       note: "\(subject)\(condition.type)=False: \(condition.message)"))
                        }
                    } else if before?.contains(key) == true {
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
