import GatewayAPI
import RoutingTable

extension Translator {
    /// TCPRoute, UDPRoute and TLSRoute: every rule's backendRefs form one weighted set (the spec's
    /// extended support for several rules is not offered: their backends are merged), attached like
    /// any route. TLSRoute hostnames are SNI names and intersect with the listener's hostname.
    func attach(_ route: StreamRoute, snapshot: ResourceSnapshot, listeners: inout ListenerIndex,
                builder: inout TableBuilder) -> RouteStatus? {
        var compiled = CompiledRoute()
        let refs = (route.spec.rules ?? []).flatMap { $0.backendRefs ?? [] }
        let action = resolveBackends(refs, routeKind: route.kind.rawValue, routeNamespace: route.metadata.namespace ?? "default",
                                     snapshot: snapshot, into: &compiled)
        builder.addClusters(compiled.clusters)
        var backends: [WeightedBackend] = []
        var dropped: [(rule: Int, message: String)] = []
        switch action {
        case .forward(let weighted): backends = weighted
        case .direct(_, let reason): dropped.append((0, reason))
        case .redirect: break
        }
        let identity = RouteIdentity(kind: route.kind.rawValue, metadata: route.metadata, parentRefs: route.spec.parentRefs ?? [],
                                     hostnames: route.kind == .tls ? route.spec.hostnames ?? [] : [])
        let outcome = RuleOutcome(acceptedRules: backends.isEmpty ? 0 : 1, dropped: dropped, refsProblem: compiled.refsProblem)
        var taken: [ListenerIndex.Taken] = []
        defer { listeners.count(taken) }
        return attachParents(identity, outcome: outcome, snapshot: snapshot, listeners: listeners, taken: &taken) { gateway, listener, hostnames in
            let origin = RouteOrigin(namespace: route.metadata.namespace ?? "default", name: route.metadata.name, rule: 0, match: 0,
                                     gatewayNamespace: gateway.gateway.metadata.namespace ?? "default",
                                     gatewayName: gateway.gateway.metadata.name)
            builder.add(StreamRouteEntry(origin: origin, hostnames: hostnames, backends: backends),
                        created: route.metadata.creationTimestamp, listener: listener, on: gateway.addressing.sockets)
            builder.attachments.noteAttached(kind: route.kind.rawValue, route: route.metadata.namespacedName,
                                             gateway: gateway.gateway.metadata.namespacedName, listener: listener.name)
        }
    }
}
