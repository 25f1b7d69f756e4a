import GatewayAPI

/// What one Gateway or LoadBalancer Service asks of the address pools. Built by whoever reads the
/// object (its spec, its `archway.dev/address-pool` annotation, its namespace's labels, the addresses
/// it held last time); the allocator reads nothing else.
public struct AddressClaim: Sendable, Equatable {
    /// Kind "Gateway" or "Service", with its namespace and name.
    public var holder: ObjectRef
    /// The labels of the holder's namespace, for pools with a `namespaceSelector`.
    public var namespaceLabels: [String: String]
    /// RFC 3339, as the API server writes it: older holders are served first. nil (file mode) sorts
    /// after every timestamp, then by kind, namespace and name.
    public var creationTimestamp: String?
    /// The pool named by the `archway.dev/address-pool` annotation: every address must come from it.
    public var pool: String?
    /// Specific addresses, as written: a Gateway's `spec.addresses` IPAddress values, a Service's
    /// `spec.loadBalancerIP` or `archway.dev/load-balancer-ips`. One inside no pool is returned as
    /// unmanaged for the caller to check.
    public var requested: [String]
    /// How many addresses of each family in `families` it wants chosen for it: 1 for a Gateway without
    /// `spec.addresses` or a Service without a requested address, one per `{type: IPAddress}` entry
    /// without a value.
    public var unspecifiedCount: Int
    /// `[.IPv4]` (the default), `[.IPv6]`, or both for dual stack: `unspecifiedCount` of each.
    public var families: [IPAddress.Family]
    /// The addresses it held after the previous translation (its status in a cluster): kept while
    /// still in a pool it may take from, so that no other change renumbers it.
    public var previous: [String]

    public init(holder: ObjectRef, namespaceLabels: [String: String] = [:], creationTimestamp: String? = nil, pool: String? = nil,
                requested: [String] = [], unspecifiedCount: Int = 0, families: [IPAddress.Family] = [.IPv4], previous: [String] = []) {
        self.holder = holder
        self.namespaceLabels = namespaceLabels
        self.creationTimestamp = creationTimestamp
        self.pool = pool
        self.requested = requested
        self.unspecifiedCount = unspecifiedCount
        self.families = families
        self.previous = previous
    }

    /// Oldest first; then, as Kubernetes does for equal ages, by kind, namespace and name.
    static func isServedBefore(_ a: AddressClaim, _ b: AddressClaim) -> Bool {
        olderFirst(a.creationTimestamp, b.creationTimestamp) ?? (a.holder < b.holder)
    }

    /// The one age order of claims and pools: by creationTimestamp (RFC 3339 sorts as text), an object
    /// without one (file mode) after every dated one; nil when age does not decide.
    static func olderFirst(_ a: String?, _ b: String?) -> Bool? {
        switch (a, b) {
        case let (x?, y?) where x != y: x < y
        case (.some, nil): true
        case (nil, .some): false
        default: nil
        }
    }
}

extension AddressClaim {
    /// A Gateway's claim: its `spec.addresses` IPAddress values as requested addresses, one chosen
    /// address per IPAddress entry without a value, or one when it lists no address at all; the pool
    /// its `archway.dev/address-pool` annotation names. Hostname addresses are not the pools' business.
    public static func gateway(_ gateway: Gateway, in snapshot: ResourceSnapshot, families: [IPAddress.Family] = [.IPv4],
                               previous: [String] = []) -> AddressClaim {
        let metadata = gateway.metadata
        let listed = gateway.spec.addresses ?? []
        let ipAddresses = listed.filter { ($0.type ?? "IPAddress") == "IPAddress" }
        let requested = ipAddresses.compactMap(\.value).filter { !$0.isEmpty }
        return AddressClaim(holder: ObjectRef(kind: "Gateway", namespace: metadata.namespacedName.namespace, name: metadata.name),
                            namespaceLabels: snapshot.labels(ofNamespace: metadata.namespacedName.namespace),
                            creationTimestamp: metadata.creationTimestamp, pool: metadata.annotations?[AddressPool.poolAnnotation],
                            requested: requested, unspecifiedCount: listed.isEmpty ? 1 : ipAddresses.count - requested.count,
                            families: families, previous: previous)
    }

    /// A LoadBalancer Service's claim: `loadBalancerIP` (its `spec.loadBalancerIP`, passed in) and the
    /// addresses of its `archway.dev/load-balancer-ips` annotation as requested addresses; with none,
    /// one chosen address of each family.
    public static func service(_ service: Service, in snapshot: ResourceSnapshot, loadBalancerIP: String? = nil,
                               families: [IPAddress.Family] = [.IPv4], previous: [String] = []) -> AddressClaim {
        let metadata = service.metadata
        let annotated = (metadata.annotations?[AddressPool.loadBalancerIPsAnnotation] ?? "")
            .split(separator: ",").map { String($0.filter { $0 != " " }) }.filter { !$0.isEmpty }
        var requested: [String] = []
        for address in [loadBalancerIP].compactMap({ $0 }) + annotated where !address.isEmpty && !requested.contains(address) {
            requested.append(address)
        }
        return AddressClaim(holder: ObjectRef(kind: "Service", namespace: metadata.namespacedName.namespace, name: metadata.name),
                            namespaceLabels: snapshot.labels(ofNamespace: metadata.namespacedName.namespace),
                            creationTimestamp: metadata.creationTimestamp, pool: metadata.annotations?[AddressPool.poolAnnotation],
                            requested: requested, unspecifiedCount: requested.isEmpty ? 1 : 0, families: families, previous: previous)
    }
}
