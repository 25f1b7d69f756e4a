/// archway.dev/v1alpha1 AddressPool (cluster-scoped): addresses archway may hand out to Gateways and
/// LoadBalancer Services that ask for one, as MetalLB's IPAddressPool and Cilium's
/// CiliumLoadBalancerIPPool do. A Gateway or Service names a pool with the annotation
/// `archway.dev/address-pool`; one that names none takes from any pool with `autoAssign`.
public struct AddressPool: Codable, Sendable, Equatable {
    /// Names the pool a Gateway or Service takes its addresses from; `autoAssign` then does not matter.
    public static let poolAnnotation = "archway.dev/address-pool"
    /// On a Service: the specific addresses it asks for, comma-separated (one per IP family), as
    /// `spec.loadBalancerIP` would say for one.
    public static let loadBalancerIPsAnnotation = "archway.dev/load-balancer-ips"
    /// On a Gateway: the families of the addresses it takes from a pool ("IPv6", "IPv4,IPv6" for dual
    /// stack; IPv4 without it). Services say the same with spec.ipFamilies.
    public static let ipFamiliesAnnotation = "archway.dev/ip-families"

    /// Which kinds of object may take addresses from the pool.
    public enum Consumer: String, Codable, Sendable, CaseIterable {
        case Gateway
        /// A Service of type LoadBalancer.
        case Service
    }

    public struct Spec: Codable, Sendable, Equatable {
        /// Each a CIDR ("172.21.5.240/28", "fd00:10::/120"), a range ("172.21.5.240-172.21.5.250",
        /// "fd00:10::10-fd00:10::20") or a single address. IPv4 and IPv6 may be mixed.
        public var addresses: [String]
        /// true (the default): objects that name no pool may take from this one. false: only objects
        /// that name it do.
        public var autoAssign: Bool?
        /// The namespaces whose objects may take from the pool. With `namespaceSelector` as well, a
        /// namespace must be in both. Neither: every namespace.
        public var allowedNamespaces: [String]?
        public var namespaceSelector: LabelSelector?
        /// Gateway, Service or both (the default).
        public var allowedKinds: [Consumer]?

        public init(addresses: [String], autoAssign: Bool? = nil, allowedNamespaces: [String]? = nil,
                    namespaceSelector: LabelSelector? = nil, allowedKinds: [Consumer]? = nil) {
            self.addresses = addresses
            self.autoAssign = autoAssign
            self.allowedNamespaces = allowedNamespaces
            self.namespaceSelector = namespaceSelector
            self.allowedKinds = allowedKinds
        }
    }

    public var metadata: ObjectMeta
    public var spec: Spec

    public init(metadata: ObjectMeta, spec: Spec) {
        self.metadata = metadata
        self.spec = spec
    }

    public var autoAssigns: Bool { spec.autoAssign ?? true }

    /// `spec.addresses` read as ranges, and what is wrong with the entries that cannot be: an entry
    /// that is no CIDR or range, or one that overlaps an earlier entry.
    public func parsedAddresses() -> (ranges: [IPRange], problems: [FieldProblem]) {
        var ranges: [(index: Int, range: IPRange)] = []
        var problems: [FieldProblem] = []
        for (index, text) in spec.addresses.enumerated() {
            let field = "spec.addresses[\(index)]"
            switch IPRange.parse(text) {
            case .failure(let problem):
                problems.append(FieldProblem(field: field, message: "\"\(text)\" " + Self.describe(problem)))
            case .success(let range):
                if let earlier = ranges.first(where: { $0.range.overlaps(range) }) {
                    problems.append(FieldProblem(field: field, message: "\"\(text)\" overlaps spec.addresses[\(earlier.index)] (\(earlier.range))"))
                }
                ranges.append((index, range))
            }
        }
        return (ranges.map(\.range), problems)
    }

    static func describe(_ problem: IPRange.RangeProblem) -> String {
        switch problem {
        case .malformed: "is not an IPv4 or IPv6 CIDR or range"
        case .hostBitsSet(let network): "has bits set after the prefix length; did you mean \(network)?"
        case .mixedFamilies: "mixes an IPv4 and an IPv6 address"
        case .backwards: "ends before it starts"
        }
    }

    func validate(into problems: inout Problems) {
        problems.require(!spec.addresses.isEmpty, "spec.addresses", "must list at least one CIDR or range")
        problems.items += parsedAddresses().problems
        if let kinds = spec.allowedKinds {
            problems.require(!kinds.isEmpty, "spec.allowedKinds", "must name Gateway, Service or both (omit it for both)")
        }
        for (index, namespace) in (spec.allowedNamespaces ?? []).enumerated() {
            problems.require(!namespace.isEmpty, "spec.allowedNamespaces[\(index)]", "must not be empty")
        }
    }
}
