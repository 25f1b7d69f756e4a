import GatewayAPI
import RoutingTable

/// Gateway `spec.tls.backend.clientCertificateRef`: the certificate the Gateway presents to backends a
/// BackendTLSPolicy makes it reach over TLS. Checked like a listener's certificateRef (one rule for a
/// Secret holding a pair), reported on the Gateway's own ResolvedRefs with the Gateway-level reasons.
struct GatewayTLSState {
    var backendClientCertificate: CertificatePair?
    var backendProblem: (reason: String, message: String)?
}

extension Translator {
    func resolveGatewayTLS(_ gateway: Gateway, snapshot: ResourceSnapshot) -> GatewayTLSState {
        guard let ref = gateway.spec.tls?.backend?.clientCertificateRef else { return GatewayTLSState() }
        switch certificate(ref, origin: ListenerOrigin(kind: "Gateway", namespace: gateway.metadata.namespace ?? "default", name: gateway.metadata.name),
                                 snapshot: snapshot) {
        case .success(let pair):
            return GatewayTLSState(backendClientCertificate: pair)
        case .failure(let failure):
            let reason = failure.reason == "RefNotPermitted" ? "RefNotPermitted" : "InvalidClientCertificateRef"
            return GatewayTLSState(backendProblem: (reason, "tls.backend.clientCertificateRef: \(failure.message)"))
        }
    }

    /// The Gateway-level conditions `spec.tls` adds: ResolvedRefs (the backend client certificate, then
    /// the spec's summary of the listeners' ResolvedRefs) and, while set, InsecureFrontendValidationMode.
    func gatewayTLSConditions(_ state: GatewayState) -> [Condition] {
        let generation = state.generation
        let resolved: Condition
        if let problem = state.gatewayTLS.backendProblem {
            resolved = Condition(type: "ResolvedRefs", status: false, reason: problem.reason, message: problem.message, observedGeneration: generation)
        } else if let broken = state.listeners.first(where: { $0.refsProblem != nil }) {
            resolved = Condition(type: "ResolvedRefs", status: false, reason: "ListenersNotResolved",
                                 message: "listener \"\(broken.spec.name)\": \(broken.refsProblem!.message)", observedGeneration: generation)
        } else {
            resolved = Condition(type: "ResolvedRefs", status: true, reason: "ResolvedRefs", message: "All references are resolved", observedGeneration: generation)
        }
        return [resolved] + [Self.insecureFrontendCondition(state.gateway, generation: generation)].compactMap { $0 }
    }
}

/// A cluster as one Gateway reaches it: `base` presenting that Gateway's client certificate.
struct ClientCertificateCopy {
    var base: String
    var certificate: CertificatePair
}

extension RoutingTable {
    /// Clusters are shared by every Gateway whose routes reach a Service port, but the client
    /// certificate belongs to one Gateway. So a TLS cluster reached through a Gateway with a client
    /// certificate gets its own copy ("<cluster>@<gateway>") carrying that certificate: its pooled
    /// connections, health checks and breakers are then never mixed with another Gateway's.
    /// Returns the copies made, by copy id.
    mutating func presentClientCertificates(_ byGateway: [NamespacedName: CertificatePair]) -> [String: ClientCertificateCopy] {
        guard !byGateway.isEmpty else { return [:] }
        var copies: [String: ClientCertificateCopy] = [:]
        var copied = Set<String>()
        var clusters = self.clusters
        Self.retargetClusters(in: &ports) { target, origin in
            guard case .cluster(let id) = target,
                  let certificate = byGateway[NamespacedName(origin.gatewayNamespace, origin.gatewayName)],
                  let cluster = clusters[id], cluster.tls != nil else { return target }
            let copyID = "\(id)@\(origin.gatewayNamespace)/\(origin.gatewayName)"
            if clusters[copyID] == nil {
                clusters[copyID] = Self.clientCertificateCopy(of: cluster, id: copyID, presenting: certificate)
                copies[copyID] = ClientCertificateCopy(base: id, certificate: certificate)
            }
            copied.insert(id)
            return .cluster(copyID)
        }
        // A cluster every route now reaches through its copies would only be health-checked in vain.
        var stillUsed = Set<String>()
        Self.retargetClusters(in: &ports) { target, _ in
            if case .cluster(let id) = target { stillUsed.insert(id) }
            return target
        }
        for id in copied.subtracting(stillUsed) { clusters[id] = nil }
        self.clusters = clusters
        return copies
    }

    /// A TLS cluster as one Gateway reaches it: presenting that Gateway's client certificate.
    static func clientCertificateCopy(of cluster: Cluster, id: String, presenting certificate: CertificatePair) -> Cluster {
        var copy = cluster
        copy.name = id
        copy.tls?.clientCertificate = certificate
        return copy
    }

    /// Every backend target of every route (forwarded, mirrored, streamed), with the route it is in.
    private static func retargetClusters(in ports: inout [PortTable], _ change: (WeightedBackend.Target, RouteOrigin) -> WeightedBackend.Target) {
        for p in ports.indices {
            for l in ports[p].listeners.indices {
                for v in ports[p].listeners[l].virtualHosts.indices {
                    for r in ports[p].listeners[l].virtualHosts[v].routes.indices {
                        var entry = ports[p].listeners[l].virtualHosts[v].routes[r]
                        if case .forward(var backends) = entry.action {
                            for b in backends.indices { backends[b].target = change(backends[b].target, entry.origin) }
                            entry.action = .forward(backends)
                        }
                        entry.filters = entry.filters.map { filter in
                            guard case .requestMirror(var mirror) = filter else { return filter }
                            mirror.target = change(mirror.target, entry.origin)
                            return .requestMirror(mirror)
                        }
                        ports[p].listeners[l].virtualHosts[v].routes[r] = entry
                    }
                }
                for s in (ports[p].listeners[l].streamRoutes ?? []).indices {
                    let origin = ports[p].listeners[l].streamRoutes![s].origin
                    for b in ports[p].listeners[l].streamRoutes![s].backends.indices {
                        let target = ports[p].listeners[l].streamRoutes![s].backends[b].target
                        ports[p].listeners[l].streamRoutes![s].backends[b].target = change(target, origin)
                    }
                }
            }
        }
    }
}
