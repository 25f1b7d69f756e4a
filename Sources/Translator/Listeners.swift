import GatewayAPI
import RoutingTable

/// A Gateway of ours with its listeners validated, before routes attach.
struct GatewayState {
    var gateway: Gateway
    var listeners: [ListenerState]
    var generation: Int64 { gateway.metadata.generation ?? 1 }
    var addresses: [Gateway.Address]
    /// Why the Gateway as a whole is not accepted (UnsupportedAddress, InvalidParameters); it then
    /// serves nothing.
    var rejection: (reason: String, message: String)?
    /// What `spec.tls` resolved to (the backend client certificate, or why it cannot be used).
    var gatewayTLS = GatewayTLSState()
}

struct ListenerState {
    var spec: Gateway.Listener
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
}

struct ListenerIndex {
    var gateways: [NamespacedName: GatewayState] = [:]
}

extension Translator {
    static let servedProtocols: Set<String> = ["HTTP", "HTTPS", "TLS", "TCP", "UDP"]
    static let knownProtocols: Set<String> = ["HTTP", "HTTPS", "TLS", "TCP", "UDP"]

    func buildListeners(_ snapshot: ResourceSnapshot, classes: Set<String>) -> ListenerIndex {
        var index = ListenerIndex()
        for gateway in snapshot.gateways where classes.contains(gateway.spec.gatewayClassName) {
            var listeners = gateway.spec.listeners.map { validateListener($0, of: gateway, snapshot: snapshot) }
            let rejection = Self.rejection(of: gateway)
            var addresses = (gateway.spec.addresses ?? []).isEmpty
                ? defaultAddresses(snapshot)
                : gateway.spec.addresses!.map { Gateway.Address(type: $0.type ?? "IPAddress", value: $0.value) }
            if let rejection {
                // A Gateway that is not accepted is served nowhere, so it reports no address either.
                addresses = []
                for i in listeners.indices where listeners[i].unservable == nil {
                    listeners[i].unservable = "the Gateway is not accepted: \(rejection.message)"
                }
            }
            index.gateways[gateway.metadata.namespacedName] = GatewayState(
                gateway: gateway, listeners: markConflicts(listeners), addresses: addresses, rejection: rejection,
                gatewayTLS: resolveGatewayTLS(gateway, snapshot: snapshot))
        }
        return index
    }

    /// Address types archway can report and serve on; any other (NamedAddress, a domain-prefixed
    /// implementation type) is refused as the spec asks, rather than silently ignored.
    static let supportedAddressTypes: Set<String> = ["IPAddress", "Hostname"]

    /// Problems of the Gateway as a whole, which the spec reports as Accepted=False on the Gateway.
    static func rejection(of gateway: Gateway) -> (reason: String, message: String)? {
        if let type = gateway.spec.addresses?.compactMap({ $0.type }).first(where: { !supportedAddressTypes.contains($0) }) {
            return ("UnsupportedAddress", "address type \"\(type)\" is not supported (IPAddress and Hostname are)")
        }
        // The spec: a parametersRef that cannot be found or names an unsupported kind rejects the
        // Gateway. archway defines no parameters kind, so every reference is one it cannot honour.
        if let ref = gateway.spec.infrastructure?.parametersRef {
            return ("InvalidParameters",
                    "infrastructure.parametersRef \(ref.group)/\(ref.kind) \(ref.name) cannot be used: archway has no parameters kind for Gateways")
        }
        return nil
    }

    private func defaultAddresses(_ snapshot: ResourceSnapshot) -> [Gateway.Address] {
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

    private func validateListener(_ listener: Gateway.Listener, of gateway: Gateway, snapshot: ResourceSnapshot) -> ListenerState {
        var state = ListenerState(spec: listener, supportedKinds: [])
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
        let resolution = resolveTLS(listener, of: gateway, snapshot: snapshot)
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
    /// must be unique. Both sides of a conflict are marked, as the spec asks.
    private func markConflicts(_ listeners: [ListenerState]) -> [ListenerState] {
        var result = listeners
        for i in result.indices {
            for j in result.indices where j != i && result[j].spec.port == result[i].spec.port {
                let (a, b) = (result[i].spec, result[j].spec)
                if PortTable.family(of: a.protocol) != PortTable.family(of: b.protocol) {
                    result[i].conflict = ("ProtocolConflict", "port \(a.port) is also used by listener \"\(b.name)\" with protocol \(b.protocol)")
                } else if a.protocol == b.protocol && (a.hostname ?? "") == (b.hostname ?? "") && result[i].conflict == nil {
                    result[i].conflict = ("HostnameConflict", "listener \"\(b.name)\" has the same port, protocol and hostname")
                }
            }
        }
        return result
    }

    func gatewayStatus(_ state: GatewayState) -> GatewayStatus {
        let generation = state.generation
        let listeners = state.listeners.map { listener -> ListenerStatus in
            var conditions: [Condition] = []
            if let problem = listener.acceptedProblem {
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
                conditions.append(Condition(type: "Programmed", status: false, reason: "Invalid", message: why, observedGeneration: generation))
            }
            return ListenerStatus(name: listener.spec.name, supportedKinds: listener.supportedKinds,
                                  attachedRoutes: listener.attachedRoutes, conditions: conditions)
        }
        let usable = state.listeners.filter(\.isUsable).count
        let accepted: Condition
        let programmed: Condition
        if let rejection = state.rejection {
            accepted = Condition(type: "Accepted", status: false, reason: rejection.reason, message: rejection.message, observedGeneration: generation)
            programmed = Condition(type: "Programmed", status: false, reason: "Invalid",
                                   message: "the Gateway is not accepted", observedGeneration: generation)
        } else if usable == state.listeners.count {
            accepted = Condition(type: "Accepted", status: true, reason: "Accepted", message: "Gateway is accepted", observedGeneration: generation)
            programmed = Condition(type: "Programmed", status: true, reason: "Programmed", message: "Gateway is serving", observedGeneration: generation)
        } else if usable > 0 {
            let bad = state.listeners.filter { !$0.isUsable }.map(\.spec.name).joined(separator: ", ")
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
        return GatewayStatus(addresses: state.addresses, conditions: [accepted, programmed] + gatewayTLSConditions(state), listeners: listeners)
    }
}
