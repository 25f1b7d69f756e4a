/// An immutable, indexed set of resources: the translator's only input.
public struct ResourceSnapshot: Sendable, Equatable {
    public private(set) var gatewayClasses: [GatewayClass] = []
    public private(set) var gateways: [Gateway] = []
    /// In the spec's listener precedence: oldest first, then by namespace/name.
    public private(set) var listenerSets: [ListenerSet] = []
    /// Sorted by namespace/name, as GRPCRoutes are.
    public private(set) var httpRoutes: [HTTPRoute] = []
    /// TCPRoutes, UDPRoutes and TLSRoutes, sorted by kind then name.
    public private(set) var streamRoutes: [StreamRoute] = []
    public private(set) var grpcRoutes: [GRPCRoute] = []
    public private(set) var backendTLSPolicies: [BackendTLSPolicy] = []
    public private(set) var backendTrafficPolicies: [BackendTrafficPolicy] = []
    public private(set) var serviceLevelObjectives: [ServiceLevelObjective] = []
    /// Cluster-scoped, sorted by name: the order pools are tried in.
    public private(set) var addressPools: [AddressPool] = []
    public private(set) var acmeIssuers: [ACMEIssuer] = []
    public private(set) var rollouts: [Rollout] = []
    /// Where each Rollout stands, by namespace/name: set by the runtime (from the state directory in
    /// file mode, from the Rollouts' status in a cluster), never read from a manifest.
    public var rolloutProgress: [NamespacedName: RolloutProgress] = [:]
    /// HTTP-01 answers for archway's own ACME orders in progress: set by the runtime, never read from manifests.
    public var acmeChallengeAnswers: [ACMEChallengeAnswer] = []
    /// TLS-ALPN-01 certificates for archway's own ACME orders in progress: set by the runtime, never read from manifests.
    public var acmeTLSChallenges: [ACMETLSChallenge] = []
    /// archway.dev edge policies (BasicAuth, RateLimit, ...), sorted by kind then namespace/name.
    public private(set) var edgePolicies: [EdgePolicy] = []
    public private(set) var configMaps: [NamespacedName: ConfigMap] = [:]
    public private(set) var referenceGrants: [String: [ReferenceGrant]] = [:]
    public private(set) var services: [NamespacedName: Service] = [:]
    /// EndpointSlices by the Service they belong to (label `kubernetes.io/service-name`).
    public private(set) var endpointSlices: [NamespacedName: [EndpointSlice]] = [:]
    public private(set) var secrets: [NamespacedName: Secret] = [:]
    public private(set) var ingresses: [Ingress] = []
    public private(set) var ingressClasses: [IngressClass] = []
    /// GKE's FrontendConfigs and BackendConfigs, which GCE Ingresses and their Services name.
    public private(set) var frontendConfigs: [NamespacedName: FrontendConfig] = [:]
    public private(set) var backendConfigs: [NamespacedName: BackendConfig] = [:]
    /// KongPlugins, Traefik Middlewares…, by kind, then namespace/name (cluster-scoped ones under namespace "").
    public private(set) var ingressExtensions: [String: [NamespacedName: IngressExtension]] = [:]
    private var namespaceLabels: [String: [String: String]] = [:]

    /// The HTTPRoute as served, edited: a Rollout's step lowered onto its rule by the translator.
    public mutating func editHTTPRoute(_ name: NamespacedName, _ edit: (inout HTTPRoute) -> Void) {
        guard let index = httpRoutes.firstIndex(where: { $0.metadata.namespacedName == name }) else { return }
        edit(&httpRoutes[index])
    }

    public mutating func editGRPCRoute(_ name: NamespacedName, _ edit: (inout GRPCRoute) -> Void) {
        guard let index = grpcRoutes.firstIndex(where: { $0.metadata.namespacedName == name }) else { return }
        edit(&grpcRoutes[index])
    }

    public init(_ resources: [Resource]) {
        for resource in resources {
            switch resource {
            case .gatewayClass(let r): gatewayClasses.append(r)
            case .gateway(let r): gateways.append(r)
            case .listenerSet(let r): listenerSets.append(r)
            case .httpRoute(let r): httpRoutes.append(r)
            case .streamRoute(let r): streamRoutes.append(r)
            case .grpcRoute(let r): grpcRoutes.append(r)
            case .backendTLSPolicy(let r): backendTLSPolicies.append(r)
            case .backendTrafficPolicy(let r): backendTrafficPolicies.append(r)
            case .serviceLevelObjective(let r): serviceLevelObjectives.append(r)
            case .addressPool(let r): addressPools.append(r)
            case .acmeIssuer(let r): acmeIssuers.append(r)
            case .rollout(let r): rollouts.append(r)
            case .edgePolicy(let r): edgePolicies.append(r)
            case .configMap(let r): configMaps[r.metadata.namespacedName] = r
            case .referenceGrant(let r): referenceGrants[r.metadata.namespace ?? "default", default: []].append(r)
            case .service(let r): services[r.metadata.namespacedName] = r
            case .endpointSlice(let r):
                if let service = r.serviceName {
                    endpointSlices[NamespacedName(r.metadata.namespace ?? "default", service), default: []].append(r)
                }
            case .secret(let r): secrets[r.metadata.namespacedName] = r
            case .namespace(let r): namespaceLabels[r.metadata.name] = r.metadata.labels ?? [:]
            case .ingress(let r): ingresses.append(r)
            case .ingressClass(let r): ingressClasses.append(r)
            case .frontendConfig(let r): frontendConfigs[r.metadata.namespacedName] = r
            case .backendConfig(let r): backendConfigs[r.metadata.namespacedName] = r
            case .ingressExtension(let r): ingressExtensions[r.kind, default: [:]][NamespacedName(r.metadata.namespace ?? "", r.metadata.name)] = r
            case .other: break
            }
        }
        gatewayClasses.sort { $0.metadata.name < $1.metadata.name }
        gateways.sort { $0.metadata.namespacedName < $1.metadata.namespacedName }
        listenerSets.sort(by: ListenerSet.precedes)
        Self.sortByName(&httpRoutes) { $0.metadata.namespacedName }
        backendTLSPolicies.sort { $0.metadata.namespacedName < $1.metadata.namespacedName }
        backendTrafficPolicies.sort { $0.metadata.namespacedName < $1.metadata.namespacedName }
        serviceLevelObjectives.sort { $0.metadata.namespacedName < $1.metadata.namespacedName }
        addressPools.sort { $0.metadata.name < $1.metadata.name }
        rollouts.sort { $0.metadata.namespacedName < $1.metadata.namespacedName }
        acmeIssuers.sort { $0.metadata.name < $1.metadata.name }
        edgePolicies.sort { ($0.kind.rawValue, $0.metadata.namespacedName) < ($1.kind.rawValue, $1.metadata.namespacedName) }
        Self.sortByName(&grpcRoutes) { $0.metadata.namespacedName }
        streamRoutes.sort { ($0.kind.rawValue, $0.metadata.namespacedName) < ($1.kind.rawValue, $1.metadata.namespacedName) }
        ingresses.sort { $0.metadata.namespacedName < $1.metadata.namespacedName }
        ingressClasses.sort { $0.metadata.name < $1.metadata.name }
        for key in endpointSlices.keys { endpointSlices[key]?.sort { $0.metadata.name < $1.metadata.name } }
    }

    /// Sorts by namespace/name, making each object's name once rather than at every comparison (routes
    /// number in the thousands); a list that comes sorted (the API server's) is left as it is.
    /// A closure, not a key path: reading through a generic key path copied each whole object.
    private static func sortByName<Object>(_ objects: inout [Object], _ name: (Object) -> NamespacedName) {
        let names = objects.map(name)
        guard zip(names, names.dropFirst()).contains(where: { !($0 < $1) }) else { return }
        let order = names.indices.sorted { names[$0] < names[$1] }
        objects = order.map { objects[$0] }
    }

    /// The snapshot with no HTTPRoutes, GRPCRoutes and EndpointSlices: what a route's translation
    /// reads besides the route (EndpointSlices feed only the clusters, never a route or a status:
    /// `endpointChanges`).
    public func withoutRoutesAndEndpoints() -> ResourceSnapshot {
        var rest = self
        rest.httpRoutes = []
        rest.grpcRoutes = []
        rest.endpointSlices = [:]
        return rest
    }

    /// The snapshot with the Gateways' observed `.status` left out (see `Gateway.withoutObservedStatus`).
    public func withoutObservedGatewayStatus() -> ResourceSnapshot {
        var rest = self
        for index in rest.gateways.indices { rest.gateways[index] = rest.gateways[index].withoutObservedStatus }
        return rest
    }

    /// The Services whose EndpointSlices differ from `earlier`'s, when nothing else differs at all
    /// (nil when anything else does): such a change alters those Services' endpoints and nothing
    /// else a translation gives. One comparison of every other resource, no re-encoding.
    public func endpointChanges(since earlier: ResourceSnapshot) -> Set<NamespacedName>? {
        var others = earlier
        others.endpointSlices = endpointSlices
        guard others == self else { return nil }
        return Set(Set(endpointSlices.keys).union(earlier.endpointSlices.keys).filter { endpointSlices[$0] != earlier.endpointSlices[$0] })
    }

    /// Labels of a namespace, with the `kubernetes.io/metadata.name` label the API server always sets,
    /// so that selectors behave as in a cluster even when no Namespace manifest is given.
    public func labels(ofNamespace name: String) -> [String: String] {
        var labels = namespaceLabels[name] ?? [:]
        labels["kubernetes.io/metadata.name"] = name
        return labels
    }
}

extension ObjectMeta {
    @inlinable public var namespacedName: NamespacedName { NamespacedName(namespace ?? "default", name) }
}
