import GatewayAPI
import Testing
import Translator

/// Which Gateway or Service gets which address from the AddressPools, and what each is told when it
/// gets none.
struct AddressPoolAllocationTests {
    static func pool(_ name: String, _ addresses: [String], autoAssign: Bool? = nil, namespaces: [String]? = nil,
                     selector: LabelSelector? = nil, kinds: [AddressPool.Consumer]? = nil, created: String? = nil) -> AddressPool {
        AddressPool(metadata: ObjectMeta(name: name, creationTimestamp: created),
                    spec: .init(addresses: addresses, autoAssign: autoAssign, allowedNamespaces: namespaces,
                                namespaceSelector: selector, allowedKinds: kinds))
    }

    static func gateway(_ name: String, namespace: String = "infra", created: String? = nil, pool: String? = nil,
                        requested: [String] = [], wants: Int = 1, families: [IPAddress.Family] = [.IPv4],
                        previous: [String] = [], labels: [String: String] = [:]) -> AddressClaim {
        AddressClaim(holder: ObjectRef(kind: "Gateway", namespace: namespace, name: name), namespaceLabels: labels,
                     creationTimestamp: created, pool: pool, requested: requested, unspecifiedCount: wants,
                     families: families, previous: previous)
    }

    static func addresses(_ allocation: AddressAllocation, _ name: String, kind: String = "Gateway", namespace: String = "infra") -> [String] {
        allocation.holders[ObjectRef(kind: kind, namespace: namespace, name: name)]?.addresses.map(\.address.description) ?? []
    }

    static func problems(_ allocation: AddressAllocation, _ name: String, namespace: String = "infra") -> [String] {
        allocation.holders[ObjectRef(kind: "Gateway", namespace: namespace, name: name)]?.problems.map(\.description) ?? []
    }

    let edge = Self.pool("edge", ["172.21.5.240/28"])

    @Test func theSameInputGivesTheSameAddressesWhateverTheClaimOrder() {
        let claims = (1...8).map { Self.gateway("gw-\($0)") }
        let first = AddressAllocator.allocate(pools: [edge], claims: claims)
        let again = AddressAllocator.allocate(pools: [edge], claims: claims.reversed())
        #expect(first == again)
        let all = claims.flatMap { Self.addresses(first, $0.holder.name) }
        #expect(all.count == 8 && Set(all).count == 8)
        // Never the /28's network (.240) or broadcast (.255) address.
        #expect(!all.contains("172.21.5.240") && !all.contains("172.21.5.255"))
    }

    /// An IPv6 CIDR never hands out its first address, the Subnet-Router anycast address every
    /// router on the subnet answers: a /126 has three to give, and asking for the first is refused.
    @Test func anIPv6CIDRKeepsItsSubnetRouterAnycastAddress() {
        let small6 = Self.pool("small6", ["fd00:21::/126"])
        let claims = ["a", "b", "c", "d"].map { Self.gateway($0, families: [.IPv6]) }
        let allocation = AddressAllocator.allocate(pools: [small6], claims: claims)
        let given = claims.flatMap { Self.addresses(allocation, $0.holder.name) }
        #expect(Set(given) == ["fd00:21::1", "fd00:21::2", "fd00:21::3"])
        #expect(claims.map { Self.problems(allocation, $0.holder.name) }.filter { !$0.isEmpty }
            == [["AddressPoolExhausted: no free IPv6 address left in AddressPool small6 (3 IPv6 addresses)"]])
        let named = AddressAllocator.allocate(pools: [small6], claims: [Self.gateway("e", requested: ["fd00:21::"], wants: 0)])
        #expect(Self.problems(named, "e") == ["AddressNotUsable: fd00:21:: is the Subnet-Router anycast address of fd00:21::/126 in AddressPool small6"])
    }

    @Test func aRestartReproducesEveryAssignmentFromWhatWasHeld() {
        let claims = (1...5).map { Self.gateway("gw-\($0)") }
        let before = AddressAllocator.allocate(pools: [edge], claims: claims)
        let restarted = claims.map { claim in
            var claim = claim
            claim.previous = Self.addresses(before, claim.holder.name)
            return claim
        }
        let after = AddressAllocator.allocate(pools: [edge], claims: restarted)
        for claim in claims { #expect(Self.addresses(after, claim.holder.name) == Self.addresses(before, claim.holder.name)) }
    }

    @Test func aNewcomerWhoseHashLandsOnAHeldAddressTakesAnotherOne() throws {
        let holder = Self.gateway("first", created: "2026-01-01T00:00:00Z", previous: ["172.21.5.245"])
        // A newcomer that, alone, would be placed on .245.
        let newcomer = try #require((0..<2000).lazy.map { Self.gateway("new-\($0)", created: "2026-06-01T00:00:00Z") }.first {
            Self.addresses(AddressAllocator.allocate(pools: [edge], claims: [$0]), $0.holder.name) == ["172.21.5.245"]
        })
        let allocation = AddressAllocator.allocate(pools: [edge], claims: [holder, newcomer])
        #expect(Self.addresses(allocation, "first") == ["172.21.5.245"])
        #expect(Self.addresses(allocation, newcomer.holder.name) == ["172.21.5.246"], "the next free address after its place")
    }

    @Test func addingAGatewayMovesNoOther() {
        let claims = (1...6).map { Self.gateway("gw-\($0)") }
        let before = AddressAllocator.allocate(pools: [edge], claims: claims)
        let after = AddressAllocator.allocate(pools: [edge], claims: claims + [Self.gateway("gw-7")])
        for claim in claims { #expect(Self.addresses(after, claim.holder.name) == Self.addresses(before, claim.holder.name)) }
    }

    @Test func aSpecificAddressInAPoolIsGrantedAndOneOutsideEveryPoolIsLeftToTheCaller() {
        let allocation = AddressAllocator.allocate(pools: [edge], claims: [
            Self.gateway("inside", requested: ["172.21.5.250"], wants: 0),
            Self.gateway("outside", requested: ["192.0.2.7"], wants: 0),
        ])
        #expect(Self.addresses(allocation, "inside") == ["172.21.5.250"])
        #expect(allocation.holders[ObjectRef(kind: "Gateway", namespace: "infra", name: "outside")]?.unmanaged == ["192.0.2.7"])
        #expect(Self.problems(allocation, "outside").isEmpty)
        #expect(allocation.pools["edge"]?.assignments.map(\.address.description) == ["172.21.5.250"])
    }

    @Test func theOlderOfTwoClaimsForOneAddressGetsItAndTheOtherIsToldWho() {
        let allocation = AddressAllocator.allocate(pools: [edge], claims: [
            Self.gateway("late", created: "2026-02-01T00:00:00Z", requested: ["172.21.5.250"], wants: 0),
            Self.gateway("early", created: "2026-01-01T00:00:00Z", requested: ["172.21.5.250"], wants: 0),
        ])
        #expect(Self.addresses(allocation, "early") == ["172.21.5.250"])
        #expect(Self.addresses(allocation, "late").isEmpty)
        #expect(Self.problems(allocation, "late") == ["AddressInUse: 172.21.5.250 is held by Gateway infra/early"])
    }

    @Test func anAddressHeldBeforeIsKeptAgainstANewerRequestButYieldsToAnOlderOne() {
        let held = Self.gateway("held", created: "2026-03-01T00:00:00Z", previous: ["172.21.5.250"])
        let newer = Self.gateway("newer", created: "2026-04-01T00:00:00Z", requested: ["172.21.5.250"], wants: 0)
        let kept = AddressAllocator.allocate(pools: [edge], claims: [held, newer])
        #expect(Self.addresses(kept, "held") == ["172.21.5.250"])
        #expect(Self.problems(kept, "newer") == ["AddressInUse: 172.21.5.250 is held by Gateway infra/held, which had it first"])

        let older = Self.gateway("older", created: "2026-01-01T00:00:00Z", requested: ["172.21.5.250"], wants: 0)
        let yielded = AddressAllocator.allocate(pools: [edge], claims: [held, older])
        #expect(Self.addresses(yielded, "older") == ["172.21.5.250"])
        #expect(Self.addresses(yielded, "held").count == 1 && Self.addresses(yielded, "held") != ["172.21.5.250"])
    }

    @Test func aFullPoolTellsTheNewestClaimItsSize() {
        let small = Self.pool("small", ["10.9.0.0/30"])  // .1 and .2: the /30's ends are never handed out
        let allocation = AddressAllocator.allocate(pools: [small], claims: [
            Self.gateway("a", created: "2026-01-01T00:00:00Z"), Self.gateway("b", created: "2026-01-02T00:00:00Z"),
            Self.gateway("c", created: "2026-01-03T00:00:00Z"),
        ])
        #expect(Set(Self.addresses(allocation, "a") + Self.addresses(allocation, "b")) == ["10.9.0.1", "10.9.0.2"])
        #expect(Self.problems(allocation, "c") == ["AddressPoolExhausted: no free IPv4 address left in AddressPool small (2 IPv4 addresses)"])
        let status = allocation.poolStatuses(for: [small])["small"]
        #expect(status?.used == 2 && status?.free == "0" && status?.total == "2")
    }

    @Test func aDeletedHolderFreesItsAddress() {
        let small = Self.pool("small", ["10.9.0.1-10.9.0.1"])
        let both = AddressAllocator.allocate(pools: [small], claims: [
            Self.gateway("gone", created: "2026-01-01T00:00:00Z"), Self.gateway("waiting", created: "2026-01-02T00:00:00Z"),
        ])
        #expect(Self.addresses(both, "gone") == ["10.9.0.1"])
        #expect(Self.addresses(both, "waiting").isEmpty)
        let after = AddressAllocator.allocate(pools: [small], claims: [
            Self.gateway("waiting", created: "2026-01-02T00:00:00Z", previous: []),
        ])
        #expect(Self.addresses(after, "waiting") == ["10.9.0.1"])
        #expect(after.pools["small"]?.assignments.map(\.holder.name) == ["waiting"])
    }

    @Test func poolsAreTriedInNameOrderAndAFullOneHandsOverToTheNext() {
        let first = Self.pool("a-first", ["10.1.0.1-10.1.0.1"])
        let second = Self.pool("b-second", ["10.2.0.0/24"])
        let allocation = AddressAllocator.allocate(pools: [second, first], claims: [
            Self.gateway("one", created: "2026-01-01T00:00:00Z"), Self.gateway("two", created: "2026-01-02T00:00:00Z"),
        ])
        #expect(Self.addresses(allocation, "one") == ["10.1.0.1"])
        #expect(allocation.holders[ObjectRef(kind: "Gateway", namespace: "infra", name: "two")]?.addresses.map(\.pool) == ["b-second"])
    }

    @Test func aPoolWithoutAutoAssignServesOnlyThoseWhoNameIt() {
        let reserved = Self.pool("reserved", ["10.3.0.0/24"], autoAssign: false)
        let allocation = AddressAllocator.allocate(pools: [reserved], claims: [
            Self.gateway("unnamed"), Self.gateway("named", pool: "reserved"),
        ])
        #expect(Self.addresses(allocation, "unnamed").isEmpty)
        #expect(Self.problems(allocation, "unnamed").isEmpty, "with no pool for it, its address is not the pools' business")
        #expect(Self.addresses(allocation, "named").count == 1)
    }

    @Test func aNamedPoolIsTheOnlyOneUsedAndAMissingOneIsReported() {
        let allocation = AddressAllocator.allocate(pools: [edge, Self.pool("other", ["10.4.0.0/24"])], claims: [
            Self.gateway("named", pool: "other"), Self.gateway("typo", pool: "otehr"),
            Self.gateway("wrong-pool", pool: "other", requested: ["172.21.5.250"], wants: 0),
        ])
        #expect(allocation.holders[ObjectRef(kind: "Gateway", namespace: "infra", name: "named")]?.addresses.map(\.pool) == ["other"])
        #expect(Self.addresses(allocation, "typo").isEmpty)
        #expect(Self.problems(allocation, "typo") == ["AddressPoolNotFound: AddressPool otehr, named by its archway.dev/address-pool annotation, does not exist"])
        #expect(Self.problems(allocation, "wrong-pool") == [
            "AddressNotInPool: 172.21.5.250 is in AddressPool edge, not in AddressPool other, which its archway.dev/address-pool annotation names",
        ])
    }

    @Test func aPoolRefusesNamespacesItsSelectorDoesNotMatch() {
        let team = Self.pool("team", ["10.5.0.0/24"], selector: LabelSelector(matchLabels: ["team": "edge"]))
        let allocation = AddressAllocator.allocate(pools: [team], claims: [
            Self.gateway("member", namespace: "edge-team", labels: ["team": "edge"]),
            Self.gateway("stranger", namespace: "payments", labels: ["team": "payments"]),
            Self.gateway("insistent", namespace: "payments", pool: "team", labels: ["team": "payments"]),
        ])
        #expect(Self.addresses(allocation, "member", namespace: "edge-team").count == 1)
        #expect(Self.addresses(allocation, "stranger", namespace: "payments").isEmpty)
        #expect(Self.problems(allocation, "stranger", namespace: "payments").isEmpty)
        #expect(Self.problems(allocation, "insistent", namespace: "payments") == [
            "NotAllowedByAddressPool: AddressPool team admits only namespaces matching its spec.namespaceSelector, which namespace payments does not",
        ])
    }

    @Test func aPoolForServicesOnlyRefusesAGatewayThatNamesIt() {
        let services = Self.pool("services", ["10.6.0.0/24"], namespaces: ["infra"], kinds: [.Service])
        let service = AddressClaim(holder: ObjectRef(kind: "Service", namespace: "infra", name: "web"), unspecifiedCount: 1)
        let allocation = AddressAllocator.allocate(pools: [services], claims: [service, Self.gateway("gw", pool: "services")])
        #expect(Self.addresses(allocation, "web", kind: "Service").count == 1)
        #expect(Self.problems(allocation, "gw") == ["NotAllowedByAddressPool: AddressPool services admits only Services (spec.allowedKinds)"])
    }

    @Test func aDualStackClaimGetsOneAddressOfEachFamily() throws {
        let mixed = Self.pool("mixed", ["10.7.0.0/24", "fd00:7::/120"])
        let allocation = AddressAllocator.allocate(pools: [mixed], claims: [Self.gateway("dual", families: [.IPv4, .IPv6])])
        let held = Self.addresses(allocation, "dual")
        #expect(held.count == 2)
        #expect(held.first?.hasPrefix("10.7.0.") == true)
        #expect(held.last?.hasPrefix("fd00:7::") == true)
        let v4only = AddressAllocator.allocate(pools: [edge], claims: [Self.gateway("six", pool: "edge", families: [.IPv6])])
        #expect(Self.problems(v4only, "six") == ["AddressFamilyNotInPool: AddressPool edge has no IPv6 addresses"])
    }

    @Test func theNewerOfTwoOverlappingPoolsIsRefusedAndHandsOutNothing() {
        let old = Self.pool("zz-old", ["10.8.0.0/24"], created: "2026-01-01T00:00:00Z")
        let new = Self.pool("aa-new", ["10.8.0.128/25"], created: "2026-02-01T00:00:00Z")
        let allocation = AddressAllocator.allocate(pools: [old, new], claims: [Self.gateway("gw"), Self.gateway("asks", pool: "aa-new")])
        #expect(allocation.holders[ObjectRef(kind: "Gateway", namespace: "infra", name: "gw")]?.addresses.map(\.pool) == ["zz-old"])
        #expect(Self.problems(allocation, "asks").first?.hasPrefix("AddressPoolNotAccepted: AddressPool aa-new") == true)
        let statuses = allocation.poolStatuses(for: [old, new])
        #expect(statuses["zz-old"]?.conditions.map(\.status) == ["True"])
        #expect(statuses["aa-new"]?.conditions.first?.reason == "OverlappingAddresses")
        #expect(statuses["aa-new"]?.conditions.first?.message
                == "10.8.0.128/25 overlaps 10.8.0.0/24 of AddressPool zz-old, which is older and keeps those addresses; this pool hands out nothing until they no longer overlap")
    }

    @Test func aPoolStatusListsWhoHoldsWhat() {
        let allocation = AddressAllocator.allocate(pools: [edge], claims: [Self.gateway("gw", requested: ["172.21.5.241"], wants: 0)])
        let status = allocation.poolStatuses(for: [edge])["edge"]
        #expect(status?.assignments == [AddressPoolStatus.Assignment(address: "172.21.5.241", holder: ObjectRef(kind: "Gateway", namespace: "infra", name: "gw"))])
        #expect(status?.conditions.first?.message == "14 addresses, 1 held, 13 free")
    }

    @Test func aLargeIPv6PoolPlacesClaimsWithoutEnumeratingIt() throws {
        let huge = Self.pool("huge", ["fd00:99::/48"])
        let allocation = AddressAllocator.allocate(pools: [huge], claims: (1...50).map { Self.gateway("v6-\($0)", families: [.IPv6]) })
        let held = (1...50).flatMap { Self.addresses(allocation, "v6-\($0)") }
        #expect(Set(held).count == 50)
        let range = try IPRange.parse("fd00:99::/48").get()
        #expect(held.allSatisfy { range.contains(IPAddress($0)!) })
    }
}
