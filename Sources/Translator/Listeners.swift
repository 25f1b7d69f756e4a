import GatewayAPI
import RoutingTable

/// A Gateway of ours with its listeners validated, before routes attach.
struct GatewayState {
    var gateway: Gateway
    var listeners: [ListenerState]
    var generation: Int64 { gateway.metadata.generation ?? 1 }
    /// Its addresses: what status reports, the sockets it binds, and any it cannot serve on.
    var addressing: GatewayAddressing
    var addresses: [Gateway.Address] { addressing.served }
    /// Why the Gateway as a whole is not accepted (UnsupportedAddress, InvalidParameters); it then
    /// serves nothing.
    var rejection: (reason: String, message: String)?
    /// What `spec.tls` resolved to (the backend client certificate, or why it cannot be used).
    var gatewayTLS = GatewayTLSState()
}

struct ListenerState {
    var spec: Gateway.Listener
    /// The Gateway itself or the ListenerSet that declared the listener.
    var origin: ListenerOrigin
    var supportedKinds: [RouteGroupKind]
    /// Problems in the order the spec's conditions are written; empty means the listener is served.
    var acceptedProblem: (reason: String, message: String)?
    var refsProblem: (reason: String, message: String)?
    var conflict: (reason: String, message: String)?
    var tls: ListenerTLS?
    /// Set when references failed so badly that nothing can be served (no usable certificate).
    var unservable: String?
    var attachedRoutes = 0

    /// Routes may attach (and traffic flows) only through a listener that is accepted, not conflicted
    /// and has what it needs to serve.
    var isUsable: Bool { acceptsRoutes && unservable == nil }

    /// Routes attach to (and are counted in attachedRoutes by) an accepted, unconflicted listener even
    /// when it cannot be served, e.g. its certificate Secret is missing: the spec says listener status
    /// does not decide attachment, and the count shows the blast radius of the broken reference.
    var acceptsRoutes: Bool { acceptedProblem == nil && conflict == nil }

    /// The listener as the routing table knows it. Names are unique only within their Gateway or
    /// ListenerSet, so a ListenerSet's listener is named after its set there.
    var served: Gateway.Listener {
        guard let set = origin.listenerSet else { return spec }
        var listener = spec
        listener.name = "\(set.namespace)/\(set.name)/\(spec.name)"
        return listener
    }
}

struct ListenerIndex {
    var gateways: [NamespacedName: GatewayState] = [:]
    /// ListenerSets whose parent is one of those Gateways, accepted or not.
    var listenerSets: [NamespacedName: ListenerSetState] = [:]

    /// A listener a route attached to: its Gateway, and its index among the Gateway's listeners.
    struct Taken: Equatable {
        var gateway: NamespacedName
        var listener: Int
    }

    /// Counts routes in the listeners' attachedRoutes, once per parentRef that took the listener.
    mutating func count(_ taken: [Taken]) {
        for each in taken { gateways[each.gateway]?.listeners[each.listener].attachedRoutes += 1 }
    }
}

extension Translator {
    static let servedProtocols: Set<String> = ["HTTP", "HTTPS", "TLS", "TCP", "UDP"]
    static let knownProtocols: Set<String> = ["HTTP", "HTTPS", "TLS", "TCP", "UDP"]

    func buildListeners(_ snapshot: ResourceSnapshot, classes: Set<String>, addresses: AddressAllocation) -> ListenerIndex {
        var index = ListenerIndex()
        for gateway in snapshot.gateways where classes.contains(gateway.spec.gatewayClassName) {
            let rejection = Self.rejection(of: gateway)
            let origin = ListenerOrigin(kind: "Gateway", namespace: gateway.metadata.namespace ?? "default", name: gateway.metadata.name)
            var listeners = gateway.spec.listeners.map { validateListener($0, origin: origin, on: gateway, snapshot: snapshot) }
            // The spec's precedence: the Gateway's own listeners, then those of its ListenerSets in order.
            var sets = joiningListenerSets(of: gateway, parentRejected: rejection != nil, snapshot: snapshot)
            for set in sets where set.rejection == nil { listeners += set.listeners }
            var addressing = GatewayAddressing()
            if let rejection {
                // A Gateway that is not accepted is served nowhere, so it reports no address either.
                for i in listeners.indices where listeners[i].unservable == nil {
                    listeners[i].unservable = "the Gateway is not accepted: \(rejection.message)"
                }
            } else {
                addressing = self.addressing(of: gateway, snapshot: snapshot, allocation: addresses)
                if addressing.sockets.isEmpty {
                    for i in listeners.indices where listeners[i].unservable == nil {
                        listeners[i].unservable = "the Gateway has no address it can be served on"
                    }
                }
            }
            listeners = markConflicts(listeners)
            for i in sets.indices {
                sets[i].judge(listeners.filter { $0.origin.listenerSet == sets[i].listenerSet.metadata.namespacedName })
                index.listenerSets[sets[i].listenerSet.metadata.namespacedName] = sets[i]
            }
            index.gateways[gateway.metadata.namespacedName] = GatewayState(
                gateway: gateway, listeners: listeners, addressing: addressing, rejection: rejection,
                gatewayTLS: resolveGatewayTLS(gateway, snapshot: snapshot))
        }
        return index
    }

    /// Problems of the Gateway as a whole, which the spec reports as Accepted=False on the Gateway.
    /// archway binds its own sockets on a Gateway's addresses, so only IP addresses can be served:
    /// Hostname, NamedAddress and implementation types are refused as the spec asks, not ignored.
    static func rejection(of gateway: Gateway) -> (reason: String, message: String)? {
        if let type = gateway.spec.addresses?.compactMap({ $0.type }).first(where: { $0 != "IPAddress" }) {
            return ("UnsupportedAddress", "address type \"\(type)\" is not supported: archway binds the Gateway's listeners on IP addresses (type IPAddress)")
        }
        // The spec: a parametersRef that cannot be found or names an unsupported kind rejects the
        // Gateway. archway defines no parameters kind, so every reference is one it cannot honour.
        if let ref = gateway.spec.infrastructure?.parametersRef {
            return ("InvalidParameters",
                    "infrastructure.parametersRef \(ref.group)/\(ref.kind) \(ref.name) cannot be used: archway has no parameters kind for Gateways")
        }
        return nil
    }

    /// `gateway` is the Gateway the listener serves on, whose own listener or ListenerSet's it is: its
    /// frontend client-certificate validation applies to every HTTPS listener on its ports.
    func validateListener(_ listener: Gateway.Listener, origin: ListenerOrigin, on gateway: Gateway, snapshot: ResourceSnapshot) -> ListenerState {
        var state = ListenerState(spec: listener, origin: origin, supportedKinds: [])
        let allowed = Self.routeKinds(forProtocol: listener.protocol)
        if let kinds = listener.allowedRoutes?.kinds, !kinds.isEmpty {
            let valid = kinds.filter { kind in allowed.contains { $0.kind == kind.kind && $0.group == (kind.group ?? GatewayAPIGroup.name) } }
            state.supportedKinds = valid.map { RouteGroupKind(group: $0.group ?? GatewayAPIGroup.name, kind: $0.kind) }
            if valid.count != kinds.count {
                let invalid = kinds.filter { kind in !valid.contains(kind) }.map { "\($0.group ?? GatewayAPIGroup.name)/\($0.kind)" }
                state.refsProblem = ("InvalidRouteKinds",
                                     "route kinds \(invalid.joined(separator: ", ")) are not supported on a \(listener.protocol) listener")
            }
        } else {
            state.supportedKinds = allowed
        }
        if !Self.knownProtocols.contains(listener.protocol) {
            state.acceptedProblem = ("UnsupportedProtocol", "protocol \"\(listener.protocol)\" is not a Gateway API core protocol")
        } else if !Self.servedProtocols.contains(listener.protocol) {
            state.acceptedProblem = ("UnsupportedProtocol", "archway does not serve \(listener.protocol) listeners yet")
        } else if listener.protocol == "HTTPS", listener.tls?.mode == "Passthrough" {
            state.acceptedProblem = ("UnsupportedValue", "an HTTPS listener terminates TLS; use a TLS listener with TLSRoutes for Passthrough")
        } else if listener.protocol == "HTTP" || listener.protocol == "TCP" || listener.protocol == "UDP", listener.tls != nil {
            state.acceptedProblem = ("UnsupportedValue", "tls is only allowed on HTTPS and TLS listeners")
        }
        let resolution = resolveTLS(listener, origin: origin, snapshot: snapshot)
        state.tls = resolution.tls
        if let problem = resolution.problem, state.refsProblem == nil { state.refsProblem = problem }
        if resolution.unservable { state.unservable = resolution.problem?.message ?? "no usable certificate" }
        applyFrontendValidation(to: &state, of: gateway, snapshot: snapshot)
        return state
    }

    static func routeKinds(forProtocol proto: String) -> [RouteGroupKind] {
        switch proto {
        case "HTTP", "HTTPS": [RouteGroupKind(kind: "HTTPRoute"), RouteGroupKind(kind: "GRPCRoute")]
        case "TLS": [RouteGroupKind(kind: "TLSRoute")]
        case "TCP": [RouteGroupKind(kind: "TCPRoute")]
        case "UDP": [RouteGroupKind(kind: "UDPRoute")]
        default: []
        }
    }

    /// Within one Gateway: listeners on one port must agree on protocol, and (protocol, port, hostname)
    /// must be unique. The merged list is taken in the spec's precedence (the Gateway's own listeners,
    /// then each ListenerSet's): a listener that conflicts with one of a higher-precedence origin loses
    /// and is set aside, so it conflicts with nothing itself; within one origin both sides of a
    /// conflict are marked, as the spec asks.
    private func markConflicts(_ listeners: [ListenerState]) -> [ListenerState] {
        var result = listeners
        var kept: [Int] = []
        var start = 0
        while start < result.count {
            let origin = result[start].origin
            let group = Array(start..<(result[start...].firstIndex { $0.origin != origin } ?? result.count))
            for i in group {
                for j in kept where result[j].spec.port == result[i].spec.port && result[i].conflict == nil {
                    result[i].conflict = Self.conflict(result[i].spec, with: result[j].spec, of: result[j].origin)
                }
            }
            let survivors = group.filter { result[$0].conflict == nil }
            for i in survivors {
                for j in survivors where j != i && result[j].spec.port == result[i].spec.port {
                    if let conflict = Self.conflict(result[i].spec, with: result[j].spec),
                       result[i].conflict == nil || conflict.reason == "ProtocolConflict" {
                        result[i].conflict = conflict
                    }
                }
            }
            kept += survivors
            start = group.last! + 1
        }
        return result
    }

    /// Why two listeners on one port cannot both be served, if they cannot. `origin`, when the other
    /// listener was declared elsewhere (names are unique only within a Gateway or a ListenerSet).
    private static func conflict(_ a: Gateway.Listener, with b: Gateway.Listener,
                                 of origin: ListenerOrigin? = nil) -> (reason: String, message: String)? {
        let other = "listener \"\(b.name)\"" + (origin.map { " of \($0.kind) \($0.namespace)/\($0.name)" } ?? "")
        if PortTable.family(of: a.protocol) != PortTable.family(of: b.protocol) {
            return ("ProtocolConflict", "port \(a.port) is also used by \(other) with protocol \(b.protocol)")
        }
        if a.protocol == b.protocol && (a.hostname ?? "") == (b.hostname ?? "") {
            return ("HostnameConflict", "\(other) has the same port, protocol and hostname")
        }
        return nil
    }

    /// One listener's status, the same for a Gateway's listener and a ListenerSet's. A conflicted
    /// listener is not accepted, with the conflict as the reason (as the upstream tests expect).
    func listenerStatus(_ listener: ListenerState, generation: Int64) -> ListenerStatus {
        var conditions: [Condition] = []
        if let problem = listener.acceptedProblem ?? listener.conflict {
            conditions.append(Condition(type: "Accepted", status: false, reason: problem.reason, message: problem.message, observedGeneration: generation))
        } else {
            conditions.append(Condition(type: "Accepted", status: true, reason: "Accepted", message: "Listener is accepted", observedGeneration: generation))
        }
        if let conflict = listener.conflict {
            conditions.append(Condition(type: "Conflicted", status: true, reason: conflict.reason, message: conflict.message, observedGeneration: generation))
        } else {
            conditions.append(Condition(type: "Conflicted", status: false, reason: "NoConflicts", message: "No conflicts", observedGeneration: generation))
        }
        if let problem = listener.refsProblem {
            conditions.append(Condition(type: "ResolvedRefs", status: false, reason: problem.reason, message: problem.message, observedGeneration: generation))
        } else {
            conditions.append(Condition(type: "ResolvedRefs", status: true, reason: "ResolvedRefs", message: "All references are resolved", observedGeneration: generation))
        }
        if listener.isUsable {
            conditions.append(Condition(type: "Programmed", status: true, reason: "Programmed", message: "Listener is serving", observedGeneration: generation))
        } else {
            let why = listener.acceptedProblem?.message ?? listener.conflict?.message ?? listener.unservable ?? "listener is invalid"
            let reason = listener.acceptedProblem == nil ? listener.conflict?.reason ?? "Invalid" : "Invalid"
            conditions.append(Condition(type: "Programmed", status: false, reason: reason, message: why, observedGeneration: generation))
        }
        return ListenerStatus(name: listener.spec.name, supportedKinds: listener.supportedKinds,
                              attachedRoutes: listener.attachedRoutes, conditions: conditions)
    }

    func gatewayStatus(_ state: GatewayState, attachedListenerSets: Int?) -> GatewayStatus {
        let generation = state.generation
        let own = state.listeners.filter { $0.origin.listenerSet == nil }
        let listeners = own.map { listenerStatus($0, generation: generation) }
        let usable = own.filter(\.isUsable).count
        let accepted: Condition
        let programmed: Condition
        if let rejection = state.rejection {
            accepted = Condition(type: "Accepted", status: false, reason: rejection.reason, message: rejection.message, observedGeneration: generation)
            programmed = Condition(type: "Programmed", status: false, reason: "Invalid",
                                   message: "the Gateway is not accepted", observedGeneration: generation)
        } else if let problem = state.addressing.problem {
            accepted = Condition(type: "Accepted", status: true, reason: "Accepted", message: "Gateway is accepted", observedGeneration: generation)
            programmed = Condition(type: "Programmed", status: false, reason: problem.reason, message: problem.message, observedGeneration: generation)
        } else if usable == own.count {
            accepted = Condition(type: "Accepted", status: true, reason: "Accepted", message: "Gateway is accepted", observedGeneration: generation)
            programmed = Condition(type: "Programmed", status: true, reason: "Programmed", message: "Gateway is serving", observedGeneration: generation)
        } else if usable > 0 {
            let bad = own.filter { !$0.isUsable }.map(\.spec.name).joined(separator: ", ")
            accepted = Condition(type: "Accepted", status: true, reason: "ListenersNotValid",
                                 message: "Listeners not valid: \(bad)", observedGeneration: generation)
            programmed = Condition(type: "Programmed", status: true, reason: "Programmed",
                                   message: "Gateway is serving its valid listeners", observedGeneration: generation)
        } else {
            accepted = Condition(type: "Accepted", status: false, reason: "ListenersNotValid",
                                 message: "No listener is valid", observedGeneration: generation)
            programmed = Condition(type: "Programmed", status: false, reason: "Invalid",
                                   message: "No listener can be served", observedGeneration: generation)
        }
        return GatewayStatus(addresses: state.addresses, conditions: [accepted, programmed] + gatewayTLSConditions(state), listeners: listeners,
                             attachedListenerSets: attachedListenerSets)
    }
}
