import GatewayAPI

/// Hands out addresses from AddressPools to the Gateways and LoadBalancer Services that claim them.
/// Pure and deterministic, like the translator: the same pools and claims always give the same answer,
/// so a restart reproduces every assignment.
///
/// In order: (1) specific requests, oldest claim first; (2) each claim keeps what it held before while
/// that is still in a pool it may take from and no older claim asks for it by name; (3) what is still
/// wanted is chosen, oldest claim first, at a place in the pool fixed by a hash of the holder's identity
/// and probing forward to the first free address, so a new Gateway does not move the others.
public enum AddressAllocator {
    public static func allocate(pools: [AddressPool], claims: [AddressClaim]) -> AddressAllocation {
        var run = AllocationRun(plans: PoolPlan.plans(pools), claims: claims.sorted(by: AddressClaim.isServedBefore))
        run.checkNamedPools()
        run.grantRequested()
        run.keepPrevious()
        run.chooseNew()
        return run.result()
    }

    /// 64-bit FNV-1a of "Kind/namespace/name": stable across runs and platforms, unlike `Hasher`,
    /// which is seeded per process.
    static func placement(of holder: ObjectRef) -> IPNumber {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "\(holder.kind)/\(holder.namespace)/\(holder.name)".utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return IPNumber(low: hash)
    }
}

/// The allocator's working state. Claims are indexed oldest first, so a lower index is an older claim.
private struct AllocationRun {
    typealias Reason = AddressAllocation.Reason
    struct Owner {
        var claim: Int
        var pool: Int
        /// Asked for by address (step 1), rather than kept or chosen.
        var requested: Bool
    }

    let plans: [PoolPlan]
    let claims: [AddressClaim]
    var holdings: [AddressAllocation.Holding]
    var owners: [IPAddress: Owner] = [:]
    /// How many addresses of each pool are held: bounds the probing for a free one.
    var heldPerPool: [Int: Int] = [:]
    /// Claims whose named pool is missing, refused, or refuses them: they take nothing from any pool.
    var blocked: Set<Int> = []
    /// Addresses kept in step 2, per claim and family: chosen ones only make up the rest.
    var kept: [Int: [IPAddress.Family: Int]] = [:]

    init(plans: [PoolPlan], claims: [AddressClaim]) {
        self.plans = plans
        self.claims = claims
        holdings = Array(repeating: AddressAllocation.Holding(), count: claims.count)
    }

    private func poolIndex(named name: String) -> Int? { plans.firstIndex { $0.name == name } }

    private mutating func report(_ claim: Int, _ reason: String, _ message: String) {
        holdings[claim].problems.append(.init(reason: reason, message: message))
    }

    private mutating func grant(_ address: IPAddress, pool: Int, to claim: Int, requested: Bool) {
        if let previous = owners[address] { heldPerPool[previous.pool, default: 0] -= 1 }
        owners[address] = Owner(claim: claim, pool: pool, requested: requested)
        heldPerPool[pool, default: 0] += 1
        holdings[claim].addresses.append(.init(address: address, pool: plans[pool].name))
    }

    mutating func checkNamedPools() {
        for (index, claim) in claims.enumerated() {
            guard let name = claim.pool else { continue }
            let annotation = "named by its \(AddressPool.poolAnnotation) annotation"
            guard let pool = poolIndex(named: name) else {
                report(index, Reason.poolNotFound, "AddressPool \(name), \(annotation), does not exist")
                blocked.insert(index)
                continue
            }
            if let refusal = plans[pool].refusal {
                report(index, Reason.poolNotAccepted, "AddressPool \(name), \(annotation), is not Accepted (\(refusal.reason)): \(refusal.message)")
                blocked.insert(index)
            } else if let why = plans[pool].refusal(of: claim) {
                report(index, Reason.notAllowedByPool, why)
                blocked.insert(index)
            }
        }
    }

    /// Step 1. An address inside no Accepted pool is not the pools' to give: it is returned as unmanaged.
    mutating func grantRequested() {
        for (index, claim) in claims.enumerated() {
            var seen = Set<IPAddress>()
            for text in claim.requested {
                guard let address = IPAddress(text) else { holdings[index].unmanaged.append(text); continue }
                guard seen.insert(address).inserted else { continue }
                guard let pool = plans.firstIndex(where: { $0.refusal == nil && $0.contains(address) }) else {
                    if let refused = plans.first(where: { $0.contains(address) }), let refusal = refused.refusal {
                        report(index, Reason.poolNotAccepted, "\(address) is in AddressPool \(refused.name), which is not Accepted (\(refusal.reason)): \(refusal.message)")
                    } else {
                        holdings[index].unmanaged.append(text)
                    }
                    continue
                }
                guard !blocked.contains(index) else { continue }
                let plan = plans[pool]
                if let named = claim.pool, named != plan.name {
                    report(index, Reason.addressNotInPool, "\(address) is in AddressPool \(plan.name), not in AddressPool \(named), which its \(AddressPool.poolAnnotation) annotation names")
                } else if let why = plan.refusal(of: claim) {
                    report(index, Reason.notAllowedByPool, "\(address): \(why)")
                } else if !plan.canHandOut(address) {
                    let range = plan.ranges.first { $0.contains(address) }.map(\.description) ?? "its range"
                    let what = address.family == .IPv4 ? "the network or broadcast address" : "the Subnet-Router anycast address"
                    report(index, Reason.addressNotUsable, "\(address) is \(what) of \(range) in AddressPool \(plan.name)")
                } else if let owner = owners[address] {
                    report(index, Reason.addressInUse, "\(address) is held by \(claims[owner.claim].holder)")
                } else {
                    grant(address, pool: pool, to: index, requested: true)
                }
            }
        }
    }

    /// The pools a claim may take chosen addresses from: the one it names, or every Accepted
    /// auto-assigning pool that admits it; by name.
    private func applicablePools(_ index: Int) -> [Int] {
        let claim = claims[index]
        if blocked.contains(index) { return [] }
        if let name = claim.pool { return poolIndex(named: name).map { [$0] } ?? [] }
        return plans.indices.filter { plans[$0].refusal == nil && plans[$0].pool.autoAssigns && plans[$0].refusal(of: claim) == nil }
    }

    private func families(of claim: AddressClaim) -> [IPAddress.Family] {
        var seen = Set<IPAddress.Family>()
        return claim.families.filter { seen.insert($0).inserted }
    }

    /// Step 2. A previous address another claim asked for by name goes to the older of the two.
    mutating func keepPrevious() {
        for (index, claim) in claims.enumerated() where claim.unspecifiedCount > 0 {
            let pools = applicablePools(index)
            for family in families(of: claim) {
                var count = 0
                for text in claim.previous where count < claim.unspecifiedCount {
                    guard let address = IPAddress(text), address.family == family,
                          let pool = pools.first(where: { plans[$0].canHandOut(address) }) else { continue }
                    if let owner = owners[address] {
                        // Its own request, an older claim's request or an older claim's previous address.
                        guard owner.requested, owner.claim > index else { continue }
                        holdings[owner.claim].addresses.removeAll { $0.address == address }
                        report(owner.claim, Reason.addressInUse, "\(address) is held by \(claim.holder), which had it first")
                    }
                    grant(address, pool: pool, to: index, requested: false)
                    count += 1
                }
                kept[index, default: [:]][family] = count
            }
        }
    }

    /// Step 3.
    mutating func chooseNew() {
        for (index, claim) in claims.enumerated() where claim.unspecifiedCount > 0 {
            let pools = applicablePools(index)
            for family in families(of: claim) {
                var wanted = claim.unspecifiedCount - (kept[index]?[family] ?? 0)
                guard wanted > 0 else { continue }
                let candidates = pools.filter { plans[$0].size(of: family) > .zero }
                guard !candidates.isEmpty else {
                    // With no pool named and none applicable, the address is not the pools' business.
                    if let name = claim.pool, !blocked.contains(index) {
                        report(index, Reason.familyNotInPool, "AddressPool \(name) has no \(family) addresses")
                    }
                    continue
                }
                while wanted > 0 {
                    var found: (address: IPAddress, pool: Int)?
                    for pool in candidates {
                        if let address = freeAddress(in: pool, family: family, for: claim.holder) { found = (address, pool); break }
                    }
                    guard let found else {
                        let sizes = candidates.map { "AddressPool \(plans[$0].name) (\(plans[$0].size(of: family)) \(family) addresses)" }
                        report(index, Reason.poolExhausted, "no free \(family) address left in \(sizes.joined(separator: " or "))")
                        break
                    }
                    grant(found.address, pool: found.pool, to: index, requested: false)
                    wanted -= 1
                }
            }
        }
    }

    /// The first free address at or after the holder's place in the pool, wrapping around. Every
    /// probe that fails lands on a distinct held address, so at most held + 1 probes are needed.
    private func freeAddress(in pool: Int, family: IPAddress.Family, for holder: ObjectRef) -> IPAddress? {
        let plan = plans[pool]
        let size = plan.size(of: family)
        let held = heldPerPool[pool] ?? 0
        let probes = size.high == 0 && size.low <= UInt64(held) ? Int(size.low) : held + 1
        var offset = AddressAllocator.placement(of: holder).remainder(dividingBy: size)
        for _ in 0..<probes {
            let address = plan.address(at: offset, family: family)
            if owners[address] == nil { return address }
            offset = offset.adding(.one)!
            if offset == size { offset = .zero }
        }
        return nil
    }

    func result() -> AddressAllocation {
        var holders: [ObjectRef: AddressAllocation.Holding] = [:]
        for (index, claim) in claims.enumerated() where holders[claim.holder] == nil {
            holders[claim.holder] = holdings[index]
        }
        var pools: [String: AddressAllocation.PoolUsage] = [:]
        for (index, plan) in plans.enumerated() {
            let assignments = owners.filter { $0.value.pool == index }
                .map { AddressAllocation.Assignment(address: $0.key, holder: claims[$0.value.claim].holder) }
                .sorted { $0.address < $1.address }
            pools[plan.name] = .init(name: plan.name, refusal: plan.refusal, total: plan.total, assignments: assignments)
        }
        return AddressAllocation(holders: holders, pools: pools)
    }
}
