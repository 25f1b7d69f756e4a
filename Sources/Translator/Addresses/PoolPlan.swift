import GatewayAPI

/// One AddressPool as the allocator reads it: its ranges in address order (so reordering
/// `spec.addresses` moves nobody), whether it hands out anything, and whom it admits.
struct PoolPlan {
    let pool: AddressPool
    /// Sorted by family, then first address; never overlapping once the pool is accepted.
    let ranges: [IPRange]
    var refusal: AddressAllocation.Problem?

    var name: String { pool.metadata.name }

    /// Every pool, by name. Of two overlapping pools the older (then the one first by name) keeps its
    /// addresses and the other is refused whole: handing out an address from both could give it twice.
    static func plans(_ pools: [AddressPool]) -> [PoolPlan] {
        var plans = pools.sorted { $0.metadata.name < $1.metadata.name }.map { pool in
            let parsed = pool.parsedAddresses()
            var plan = PoolPlan(pool: pool, ranges: parsed.ranges.sorted { ($0.first, $0.last) < ($1.first, $1.last) }, refusal: nil)
            if pool.spec.addresses.isEmpty {
                plan.refusal = .init(reason: AddressAllocation.Reason.invalidAddresses, message: "spec.addresses lists no CIDR or range")
            } else if !parsed.problems.isEmpty {
                // Fail closed: part of a pool may be a typo of an address that belongs to someone else.
                plan.refusal = .init(reason: AddressAllocation.Reason.invalidAddresses,
                                     message: parsed.problems.map { "\($0.field): \($0.message)" }.joined(separator: "; "))
            }
            return plan
        }
        let byAge = plans.indices.sorted { a, b in
            AddressClaim.olderFirst(plans[a].pool.metadata.creationTimestamp, plans[b].pool.metadata.creationTimestamp)
                ?? (plans[a].name < plans[b].name)
        }
        var accepted: [Int] = []
        for index in byAge where plans[index].refusal == nil {
            if let overlap = firstOverlap(of: plans[index], among: accepted.map { plans[$0] }) {
                plans[index].refusal = .init(
                    reason: AddressAllocation.Reason.overlappingAddresses,
                    message: "\(overlap.mine) overlaps \(overlap.theirs) of AddressPool \(overlap.pool), which is older and keeps "
                        + "those addresses; this pool hands out nothing until they no longer overlap")
            } else {
                accepted.append(index)
            }
        }
        return plans
    }

    private static func firstOverlap(of plan: PoolPlan, among others: [PoolPlan]) -> (mine: IPRange, theirs: IPRange, pool: String)? {
        for other in others {
            for mine in plan.ranges {
                if let theirs = other.ranges.first(where: mine.overlaps) { return (mine, theirs, other.name) }
            }
        }
        return nil
    }

    /// Why the pool does not admit the claim's holder, or nil when it does.
    func refusal(of claim: AddressClaim) -> String? {
        let holder = claim.holder
        if let kinds = pool.spec.allowedKinds, !kinds.map(\.rawValue).contains(holder.kind) {
            return "AddressPool \(name) admits only \(kinds.map { $0.rawValue + "s" }.joined(separator: " and ")) (spec.allowedKinds)"
        }
        if let namespaces = pool.spec.allowedNamespaces, !namespaces.contains(holder.namespace) {
            return "AddressPool \(name) admits only namespaces \(namespaces.joined(separator: ", ")) (spec.allowedNamespaces), not \(holder.namespace)"
        }
        if let selector = pool.spec.namespaceSelector, !selector.matches(claim.namespaceLabels) {
            return "AddressPool \(name) admits only namespaces matching its spec.namespaceSelector, which namespace \(holder.namespace) does not"
        }
        return nil
    }

    /// The ranges of a family, as the addresses that may be handed out.
    private func assignable(_ family: IPAddress.Family) -> [(first: IPAddress, last: IPAddress)] {
        ranges.filter { $0.family == family }.compactMap(\.assignable)
    }

    /// How many addresses of the family it can hand out (saturating at 2^128 − 1).
    func size(of family: IPAddress.Family) -> IPNumber {
        assignable(family).reduce(IPNumber.zero) { sum, range in
            sum.adding(range.last.number.subtracting(range.first.number)).flatMap { $0.adding(.one) } ?? IPNumber(high: .max, low: .max)
        }
    }

    var total: IPNumber {
        size(of: .IPv4).adding(size(of: .IPv6)) ?? IPNumber(high: .max, low: .max)
    }

    /// The address `offset` places into the family's assignable addresses (offset < size(of:)).
    func address(at offset: IPNumber, family: IPAddress.Family) -> IPAddress {
        var remaining = offset
        for range in assignable(family) {
            let count = range.last.number.subtracting(range.first.number)
            if remaining <= count { return range.first.advanced(by: remaining)! }
            remaining = remaining.subtracting(count).subtracting(.one)
        }
        preconditionFailure("offset \(offset) is past the \(family) addresses of AddressPool \(name)")
    }

    func contains(_ address: IPAddress) -> Bool {
        ranges.contains { $0.contains(address) }
    }

    /// Inside the pool and not an IPv4 CIDR's network or broadcast address, nor an IPv6 CIDR's
    /// Subnet-Router anycast address.
    func canHandOut(_ address: IPAddress) -> Bool {
        assignable(address.family).contains { $0.first <= address && address <= $0.last }
    }
}
