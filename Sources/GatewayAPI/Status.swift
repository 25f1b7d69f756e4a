/// `.status` shapes as the Gateway API defines them, written by the translator.

public struct GatewayClassStatus: Codable, Sendable, Equatable {
    public var conditions: [Condition]
    public init(conditions: [Condition]) { self.conditions = conditions }
}

public struct ListenerStatus: Codable, Sendable, Equatable {
    public var name: String
    public var supportedKinds: [RouteGroupKind]
    public var attachedRoutes: Int
    public var conditions: [Condition]
    public init(name: String, supportedKinds: [RouteGroupKind], attachedRoutes: Int, conditions: [Condition]) {
        self.name = name
        self.supportedKinds = supportedKinds
        self.attachedRoutes = attachedRoutes
        self.conditions = conditions
    }
}

public struct GatewayStatus: Codable, Sendable, Equatable {
    public var addresses: [Gateway.Address]
    public var conditions: [Condition]
    public var listeners: [ListenerStatus]
    /// How many ListenerSets joined the Gateway (allowed, and Accepted); nil when it allows none.
    public var attachedListenerSets: Int?
    public init(addresses: [Gateway.Address], conditions: [Condition], listeners: [ListenerStatus], attachedListenerSets: Int? = nil) {
        self.addresses = addresses
        self.conditions = conditions
        self.listeners = listeners
        self.attachedListenerSets = attachedListenerSets
    }
}

public struct RouteParentStatus: Codable, Sendable, Equatable {
    public var parentRef: ParentReference
    public var controllerName: String
    public var conditions: [Condition]
    public init(parentRef: ParentReference, controllerName: String, conditions: [Condition]) {
        self.parentRef = parentRef
        self.controllerName = controllerName
        self.conditions = conditions
    }
}

public struct RouteStatus: Codable, Sendable, Equatable {
    public var parents: [RouteParentStatus]
    public init(parents: [RouteParentStatus]) { self.parents = parents }
}

/// Every status the translator computed, keyed by object. Holds no timestamps: the translator has no clock.
public struct StatusSet: Sendable, Equatable {
    public var gatewayClasses: [String: GatewayClassStatus] = [:]
    public var gateways: [NamespacedName: GatewayStatus] = [:]
    /// Only ListenerSets whose parent is a Gateway of ours.
    public var listenerSets: [NamespacedName: ListenerSetStatus] = [:]
    public var httpRoutes: [NamespacedName: RouteStatus] = [:]
    /// TCPRoute, UDPRoute and TLSRoute statuses, by kind.
    public var streamRoutes: [StreamRoute.Kind: [NamespacedName: RouteStatus]] = [:]
    public var grpcRoutes: [NamespacedName: RouteStatus] = [:]
    public var backendTLSPolicies: [NamespacedName: PolicyStatus] = [:]
    public var backendTrafficPolicies: [NamespacedName: PolicyStatus] = [:]
    /// BasicAuth, RateLimit and the other archway.dev edge policies, by kind.
    public var edgePolicies: [EdgePolicy.Kind: [NamespacedName: PolicyStatus]] = [:]
    /// Accepted (the target exists) or not, per ServiceLevelObjective.
    public var serviceLevelObjectives: [NamespacedName: [Condition]] = [:]
    /// Whether each Ingress is served side by side, and why (not).
    public var ingresses: [NamespacedName: IngressServingStatus] = [:]
    /// archway.dev AddressPools (cluster-scoped), by name.
    public var addressPools: [String: AddressPoolStatus] = [:]
    /// archway.dev ACMEIssuers (cluster-scoped), by name.
    public var acmeIssuers: [String: ACMEIssuerStatus] = [:]
    /// archway.dev Rollouts: accepted or not, and (added by the runtime) where each stands.
    public var rollouts: [NamespacedName: RolloutStatus] = [:]
    /// LoadBalancer Services of archway's load-balancer class: the addresses the pools gave them.
    public var loadBalancers: [NamespacedName: LoadBalancerStatus] = [:]
    public init() {}
}

public struct IngressServingStatus: Sendable, Equatable {
    public var served: Bool
    public var className: String?
    public var message: String
    /// archway's Ingress, not served as its owner expects (a port taken by a Gateway, a canary with no
    /// main Ingress, access control refused with 500): `serve` logs it.
    public var degraded = false
    public init(served: Bool, className: String?, message: String) {
        self.served = served
        self.className = className
        self.message = message
    }
}

/// Any route kind with its status, for the places that report on routes without caring which kind.
public struct RouteReport: Sendable {
    public var kind: String
    public var metadata: ObjectMeta
    public var parentRefs: [ParentReference]
    /// nil when no parent is a Gateway of ours.
    public var status: RouteStatus?
}

extension StatusSet {
    /// HTTPRoutes, GRPCRoutes, then TCP/UDP/TLS routes, each in name order.
    public func routeReports(_ snapshot: ResourceSnapshot) -> [RouteReport] {
        var reports: [RouteReport] = []
        reports.reserveCapacity(snapshot.httpRoutes.count + snapshot.grpcRoutes.count + snapshot.streamRoutes.count)
        for route in snapshot.httpRoutes {
            reports.append(RouteReport(kind: "HTTPRoute", metadata: route.metadata, parentRefs: route.spec.parentRefs ?? [],
                                       status: httpRoutes[route.metadata.namespacedName]))
        }
        for route in snapshot.grpcRoutes {
            reports.append(RouteReport(kind: "GRPCRoute", metadata: route.metadata, parentRefs: route.spec.parentRefs ?? [],
                                       status: grpcRoutes[route.metadata.namespacedName]))
        }
        for route in snapshot.streamRoutes {
            reports.append(RouteReport(kind: route.kind.rawValue, metadata: route.metadata, parentRefs: route.spec.parentRefs ?? [],
                                       status: streamRoutes[route.kind]?[route.metadata.namespacedName]))
        }
        return reports
    }
}

/// Gateway API PolicyStatus: one entry per Gateway the policy takes effect through.
public struct PolicyStatus: Codable, Sendable, Equatable {
    public struct Ancestor: Codable, Sendable, Equatable {
        public var ancestorRef: ParentReference
        public var controllerName: String
        public var conditions: [Condition]
        public init(ancestorRef: ParentReference, controllerName: String, conditions: [Condition]) {
            self.ancestorRef = ancestorRef
            self.controllerName = controllerName
            self.conditions = conditions
        }
    }
    public var ancestors: [Ancestor]
    public init(ancestors: [Ancestor]) { self.ancestors = ancestors }
}

/// An AddressPool's `.status`: whether archway hands out its addresses, how many are left, and who
/// holds which.
public struct AddressPoolStatus: Codable, Sendable, Equatable {
    public struct Assignment: Codable, Sendable, Equatable {
        public var address: String
        /// A Gateway or a Service.
        public var holder: ObjectRef
        public init(address: String, holder: ObjectRef) {
            self.address = address
            self.holder = holder
        }
    }
    public var conditions: [Condition]
    /// Addresses the pool can hand out (an IPv4 CIDR's network and broadcast addresses excluded), in
    /// decimal. Strings, as the API server's integers are 64-bit and an IPv6 /64 alone holds 2^64.
    public var total: String
    public var used: Int
    public var free: String
    /// Who holds which address, by address; at most `maxAssignments` entries (`used` counts them all),
    /// so that a busy pool's status stays far below the API server's object size limit.
    public var assignments: [Assignment]
    public static let maxAssignments = 256

    public init(conditions: [Condition], total: String, used: Int, free: String, assignments: [Assignment]) {
        self.conditions = conditions
        self.total = total
        self.used = used
        self.free = free
        self.assignments = assignments
    }
}

/// A LoadBalancer Service's status as archway, its load balancer, writes it: `loadBalancer.ingress`
/// (the EXTERNAL-IP of `kubectl get svc`) and a condition saying whether the pools could give it what
/// it asked for, and if not why (exhausted, taken by another object, not in any pool).
public struct LoadBalancerStatus: Codable, Sendable, Equatable {
    public var loadBalancer: Service.Status.LoadBalancer
    public var conditions: [Condition]
    public init(loadBalancer: Service.Status.LoadBalancer, conditions: [Condition]) {
        self.loadBalancer = loadBalancer
        self.conditions = conditions
    }
}
