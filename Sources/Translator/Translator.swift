import GatewayAPI
import RoutingTable

/// Resources in, routing table and statuses out. Pure and deterministic: no clock, no I/O, sorted output,
/// so the same snapshot always yields the same result and golden files can pin it down.
public struct Translator: Sendable {
    public struct Options: Sendable {
        public var controllerName: String
        /// The address a Gateway reports in `status.addresses` when its spec asks for none.
        public var defaultAddress: String
        /// Parses a certificate chain and key and says what is wrong with them, if anything. The data
        /// plane passes its TLS library's parser here so a Secret it could not load is reported in status
        /// (InvalidCertificateRef) instead of failing later at handshake time.
        public var certificateCheck: (@Sendable (_ chainPEM: String, _ keyPEM: String) -> String?)?
        /// The same for a CA bundle (BackendTLSPolicy, frontend client validation): one that does not
        /// parse is reported on the object that names it instead of failing at the first handshake.
        public var caBundleCheck: (@Sendable (_ pem: String) -> String?)?
        /// Serve Ingresses of archway's class next to the Gateways (nil: Ingresses are ignored).
        public var ingress: IngressServing?
        /// In a cluster, the Service that carries traffic to archway's pods: Gateways that ask for no
        /// address report its load-balancer addresses (or, before it has any, its cluster IP).
        public var gatewayService: NamespacedName?
        /// Says why this host cannot serve on an address a Gateway asks for (nil: it can). The data
        /// plane passes its own check (the kernel accepts a bind there); without one every address is
        /// taken as usable, as `archway status` on another machine must.
        public var addressCheck: (@Sendable (_ address: String) -> String?)?
        /// The specific address the default sockets are bound on, when not a wildcard: a Gateway that
        /// asks for it shares those sockets instead of binding a second one beside them.
        public var bindAddress: String?
        /// Which LoadBalancer Services archway assigns addresses to from its AddressPools (nil: none).
        public var loadBalancers: LoadBalancerServing?
        /// Layer-2 announcement is on: an address a pool grants is usable though no interface has it
        /// yet, since announcing it makes it local. (Only pool addresses are announced.)
        public var announcesAddresses = false

        public init(controllerName: String = Translator.defaultControllerName, defaultAddress: String = "127.0.0.1",
                    certificateCheck: (@Sendable (_ chainPEM: String, _ keyPEM: String) -> String?)? = nil) {
            self.controllerName = controllerName
            self.defaultAddress = defaultAddress
            self.certificateCheck = certificateCheck
        }
    }

    public static let defaultControllerName = "archway.dev/gateway-controller"

    public struct Result: Sendable {
        public var table: RoutingTable
        public var statuses: StatusSet
        /// The certificates Gateways ask archway to obtain (`archway.dev/acme-issuer`).
        public var certificates: [ManagedCertificate] = []
        /// The routes as served: the snapshot with each Rollout's current step lowered onto its rule
        /// (what the dashboard draws; the statuses are about the routes as written).
        public var served: ResourceSnapshot
        /// What the table's clusters are made from: an EndpointSlice change is applied with it alone.
        public var clusters: ClusterSources
        /// How routes attached and which policies reach them (what `archway describe` explains).
        public var attachments = RouteAttachments()
        /// Each HTTPRoute's and GRPCRoute's part of this translation, for the next one to reuse.
        public var memo = TranslationMemo.empty
        /// HTTPRoutes and GRPCRoutes translated, not taken from the memo given.
        public var routesTranslated = 0
    }

    public var options: Options

    public init(options: Options = Options()) { self.options = options }

    /// `translate(_:)`, taking each HTTPRoute's and GRPCRoute's part from `memo` (an earlier result's)
    /// where neither the route nor anything else it is translated with changed since: the result is
    /// the same as without it, at the cost of the routes that changed.
    public func translate(_ snapshot: ResourceSnapshot, reusing memo: TranslationMemo) -> Result {
        translate(snapshot, memo: memo)
    }

    public func translate(_ snapshot: ResourceSnapshot) -> Result {
        translate(snapshot, memo: .empty)
    }

    private func translate(_ snapshot: ResourceSnapshot, memo earlier: TranslationMemo) -> Result {
        var statuses = StatusSet()
        let classes = acceptClasses(snapshot, into: &statuses)
        let addresses = AddressAllocator.allocate(pools: snapshot.addressPools, claims: addressClaims(snapshot, classes: classes))
        statuses.addressPools = addresses.poolStatuses(for: snapshot.addressPools)
        statuses.loadBalancers = loadBalancerStatuses(snapshot, allocation: addresses)
        var listeners = buildListeners(snapshot, classes: classes, addresses: addresses)
        var builder = TableBuilder()
        for gateway in listeners.gateways.values.sorted(by: { $0.gateway.metadata.namespacedName < $1.gateway.metadata.namespacedName }) {
            for listener in gateway.listeners where listener.isUsable {
                builder.addListener(listener.served, of: gateway.gateway, on: gateway.addressing.sockets, tls: listener.tls)
            }
        }
        resolveServiceLevels(snapshot, into: &statuses, builder: &builder)
        // From here on the routes are read as the Rollouts' current steps serve them.
        let snapshot = lowerRollouts(snapshot, into: &statuses, builder: &builder)
        let ourGateways = listeners.gateways.values.map(\.gateway).sorted { $0.metadata.namespacedName < $1.metadata.namespacedName }
        builder.attachments.edge = resolveEdgePolicies(snapshot, gateways: ourGateways, into: &statuses)
        let conflicts = routeKindConflicts(snapshot, listeners: listeners)
        let (memo, routesTranslated) = translateRoutes(snapshot, conflicts: conflicts, earlier: earlier, listeners: &listeners,
                                                       builder: &builder, statuses: &statuses)
        noteRollouts(builder.rolloutNotes, in: &statuses)
        addChallengeAnswers(snapshot, listeners: listeners, builder: &builder)
        addTLSChallenges(snapshot, listeners: listeners, builder: &builder)
        let certificates = managedCertificates(snapshot, listeners: listeners, into: &statuses)
        markUnenforceable(builder.unenforceable, in: &statuses)
        for route in snapshot.streamRoutes {
            if let status = attach(route, snapshot: snapshot, listeners: &listeners, builder: &builder) {
                statuses.streamRoutes[route.kind, default: [:]][route.metadata.namespacedName] = status
            }
        }
        for (key, gateway) in listeners.gateways {
            statuses.gateways[key] = gatewayStatus(gateway, attachedListenerSets: attachedListenerSets(listeners, gateway: gateway))
        }
        for (key, set) in listeners.listenerSets {
            statuses.listenerSets[key] = listenerSetStatus(set, index: listeners)
        }
        if let serving = options.ingress {
            let served = servedIngresses(snapshot, serving: serving, into: &statuses)
            let taken = builder.gatewayPorts.intersection([serving.httpPort, serving.httpsPort])
            if taken.isEmpty {
                lowerIngresses(served, serving: serving, snapshot: snapshot, builder: &builder)
                for ingress in served {
                    let intent = IngressIntent.reading(ingress, in: snapshot)
                    var caveats: [String] = []
                    if let value = intent.unservedBackendProtocol {
                        caveats.append("backend-protocol \(value) is not spoken by the side-by-side serving (it sends cleartext HTTP/1.1): "
                                       + "convert it with `archway migrate`, which writes a BackendTLSPolicy for HTTPS/GRPCS")
                    }
                    if !intent.traefikMiddlewares.isEmpty, !Self.traefikRewritesServedAsWritten(intent.traefikMiddlewares) {
                        caveats.append("its Middlewares rewrite the path in a chain (or by an unanchored regex) that is served as its last rewrite only, not as Traefik chains them: convert it with `archway migrate`, which says what to write instead")
                    }
                    if !intent.accessControl.isEmpty {
                        caveats.append("its requests are refused with 500: " + intent.accessControl.joined(separator: ", ")
                                       + " not enforced when archway serves Ingresses (convert it with `archway migrate`)")
                    }
                    guard !caveats.isEmpty else { continue }
                    statuses.ingresses[ingress.metadata.namespacedName]?.degraded = true
                    statuses.ingresses[ingress.metadata.namespacedName]?.message += caveats.map { "; " + $0 }.joined()
                }
            } else {
                for ingress in served {
                    statuses.ingresses[ingress.metadata.namespacedName]?.served = false
                    statuses.ingresses[ingress.metadata.namespacedName]?.degraded = true
                    statuses.ingresses[ingress.metadata.namespacedName]?.message =
                        "not served: port(s) \(taken.sorted().map(String.init).joined(separator: ", ")) belong to Gateway listeners; choose other Ingress ports"
                }
            }
        }
        let backendTLS = resolveBackendTLS(snapshot, gateways: ourGateways, into: &statuses)
        let backendTraffic = resolveBackendTraffic(snapshot, gateways: ourGateways, into: &statuses)
        var clusters = builder.sources(backendTLS: backendTLS, backendTraffic: backendTraffic)
        let built = builder.build(snapshot: snapshot, clusters: clusters)
        var table = built
        clusters.clientCertificateCopies = table.presentClientCertificates(listeners.gateways.compactMapValues(\.gatewayTLS.backendClientCertificate))
        return Result(table: table, statuses: statuses, certificates: certificates, served: snapshot, clusters: clusters,
                      attachments: builder.attachments, memo: memo.remembering(built), routesTranslated: routesTranslated)
    }

    /// GatewayClasses naming our controller get `Accepted`; the others are not ours to touch.
    private func acceptClasses(_ snapshot: ResourceSnapshot, into statuses: inout StatusSet) -> Set<String> {
        var ours = Set<String>()
        for gatewayClass in snapshot.gatewayClasses where gatewayClass.spec.controllerName == options.controllerName {
            ours.insert(gatewayClass.metadata.name)
            let generation = gatewayClass.metadata.generation ?? 1
            statuses.gatewayClasses[gatewayClass.metadata.name] = GatewayClassStatus(conditions: [
                Condition(type: "Accepted", status: true, reason: "Accepted",
                          message: "GatewayClass is accepted by \(options.controllerName)", observedGeneration: generation),
                Condition(type: "SupportedVersion", status: true, reason: "SupportedVersion",
                          message: "Gateway API v1.6 is supported", observedGeneration: generation),
            ])
        }
        return ours
    }
}

/// Archway as the load balancer of LoadBalancer Services: those of class `className`, and with
/// `isDefault` those that name no class.
public struct LoadBalancerServing: Sendable {
    public var className: String
    public var isDefault: Bool
    public static let defaultClassName = "archway.dev/load-balancer"
    public init(className: String = LoadBalancerServing.defaultClassName, isDefault: Bool = false) {
        self.className = className
        self.isDefault = isDefault
    }
}
