import GatewayAPI

/// The allocator's answer: what each claim holds, and how each pool is used.
public struct AddressAllocation: Sendable, Equatable {
    /// The reasons a claim or a pool reports; written into Gateway and AddressPool conditions.
    public enum Reason {
        /// A requested address is held by another (older) object.
        public static let addressInUse = "AddressInUse"
        public static let poolExhausted = "AddressPoolExhausted"
        public static let poolNotFound = "AddressPoolNotFound"
        /// The named pool is not Accepted (its addresses are invalid or overlap an older pool's).
        public static let poolNotAccepted = "AddressPoolNotAccepted"
        /// The pool does not admit the holder's namespace or kind.
        public static let notAllowedByPool = "NotAllowedByAddressPool"
        /// A requested address is outside the pool the object names.
        public static let addressNotInPool = "AddressNotInPool"
        /// A requested address is an IPv4 CIDR's network or broadcast address.
        public static let addressNotUsable = "AddressNotUsable"
        /// The named pool has no address of a family the object wants.
        public static let familyNotInPool = "AddressFamilyNotInPool"
        /// Pool conditions.
        public static let accepted = "Accepted"
        public static let invalidAddresses = "InvalidAddresses"
        public static let overlappingAddresses = "OverlappingAddresses"
    }

    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public var reason: String
        public var message: String
        public var description: String { "\(reason): \(message)" }
    }

    public struct Granted: Sendable, Equatable {
        public var address: IPAddress
        public var pool: String
    }

    /// One claim's outcome. A claim keeps what could be granted even when something else it asked
    /// for could not be: its problems say what is missing.
    public struct Holding: Sendable, Equatable {
        /// Requested addresses first (in the claim's order), then chosen ones (by family).
        public var addresses: [Granted] = []
        /// Requested addresses inside no pool, as written: the caller decides whether it can use them.
        public var unmanaged: [String] = []
        public var problems: [Problem] = []
    }

    public struct Assignment: Sendable, Equatable {
        public var address: IPAddress
        public var holder: ObjectRef
    }

    public struct PoolUsage: Sendable, Equatable {
        public var name: String
        /// nil when the pool is Accepted and hands out addresses.
        public var refusal: Problem?
        /// Addresses it can hand out, both families together.
        public var total: IPNumber
        /// Who holds what, by address.
        public var assignments: [Assignment]
        public var used: Int { assignments.count }
        public var free: IPNumber { refusal == nil ? total.subtracting(IPNumber(low: UInt64(used))) : .zero }
    }

    /// Every claim, by holder, even one that got nothing.
    public var holders: [ObjectRef: Holding]
    /// Every pool, by name.
    public var pools: [String: PoolUsage]

    /// The `.status` of each pool, by name; `pools` supplies the generations.
    public func poolStatuses(for pools: [AddressPool]) -> [String: AddressPoolStatus] {
        var statuses: [String: AddressPoolStatus] = [:]
        for pool in pools {
            guard let usage = self.pools[pool.metadata.name] else { continue }
            let generation = pool.metadata.generation ?? 1
            let condition = if let refusal = usage.refusal {
                Condition(type: "Accepted", status: false, reason: refusal.reason, message: refusal.message, observedGeneration: generation)
            } else {
                Condition(type: "Accepted", status: true, reason: Reason.accepted,
                          message: "\(usage.total) addresses, \(usage.used) held, \(usage.free) free", observedGeneration: generation)
            }
            statuses[pool.metadata.name] = AddressPoolStatus(
                conditions: [condition], total: usage.total.description, used: usage.used, free: usage.free.description,
                assignments: usage.assignments.prefix(AddressPoolStatus.maxAssignments).map {
                    AddressPoolStatus.Assignment(address: $0.address.description, holder: $0.holder)
                })
        }
        return statuses
    }
}
