import GatewayAPI
/// Which replica announces an address: rendezvous (highest random weight) hashing of (address,
/// replica) over the replicas alive. Every replica computes the same answer from the same member
/// list with no further coordination, each address has exactly one owner, and when a replica leaves
/// only its own addresses move (each to the replica with the next highest weight for it).
public enum Rendezvous {
    public static func owner(of address: IPAddress, among members: some Collection<String>) -> String? {
        members.max { lhs, rhs in
            let (left, right) = (weight(address, lhs), weight(address, rhs))
            return left != right ? left < right : lhs < rhs
        }
    }

    /// The addresses of `addresses` that `member` owns.
    public static func owned(by member: String, of addresses: Set<IPAddress>, among members: Set<String>) -> Set<IPAddress> {
        addresses.filter { owner(of: $0, among: members) == member }
    }

    /// FNV-1a over the address bytes, a separator and the name, then a 64-bit finaliser (splitmix64's)
    /// so that names differing in one character still spread evenly. Stable across processes and
    /// versions, unlike Swift's seeded Hasher.
    static func weight(_ address: IPAddress, _ member: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in address.bytes + [0] + Array(member.utf8) {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        hash = (hash ^ (hash >> 30)) &* 0xbf58_476d_1ce4_e5b9
        hash = (hash ^ (hash >> 27)) &* 0x94d0_49bb_1331_11eb
        return hash ^ (hash >> 31)
    }
}
