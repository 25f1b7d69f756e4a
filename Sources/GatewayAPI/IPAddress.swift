/// IPv4 and IPv6 addresses as numbers, for address pools: parsed strictly, printed in the one
/// canonical form (RFC 5952 for IPv6), ordered, and offset. Hand-written rather than inet_pton so that
/// parsing and printing are the same on every platform and need no Foundation.
public struct IPAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    public enum Family: String, Sendable, Codable, CaseIterable { case IPv4, IPv6 }

    public let family: Family
    /// The address as a 128-bit number; an IPv4 address uses the low 32 bits.
    public let number: IPNumber

    public init(family: Family, number: IPNumber) {
        self.family = family
        self.number = number
    }

    /// "192.0.2.1" or "2001:db8::1" (an IPv4 tail such as "::ffff:192.0.2.1" is accepted). Leading
    /// zeros in an IPv4 octet are refused: "010" is octal to some parsers and decimal to others.
    public init?(_ text: String) {
        if text.contains(":") {
            guard let number = Self.parseIPv6(Substring(text)) else { return nil }
            self.init(family: .IPv6, number: number)
        } else {
            guard let value = Self.parseIPv4(Substring(text)) else { return nil }
            self.init(family: .IPv4, number: IPNumber(high: 0, low: UInt64(value)))
        }
    }

    /// How many bits the family's addresses have.
    public var bits: Int { family == .IPv4 ? 32 : 128 }

    public var description: String {
        switch family {
        case .IPv4:
            let value = UInt32(truncatingIfNeeded: number.low)
            return (0..<4).map { String((value >> (24 - 8 * $0)) & 0xFF) }.joined(separator: ".")
        case .IPv6:
            return Self.formatIPv6(number)
        }
    }

    /// The address `offset` further on, or nil past the family's last address.
    public func advanced(by offset: IPNumber) -> IPAddress? {
        guard let sum = number.adding(offset), sum <= IPNumber.maximum(bits: bits) else { return nil }
        return IPAddress(family: family, number: sum)
    }

    /// IPv4 sorts before IPv6; within a family, by number.
    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        a.family != b.family ? a.family == .IPv4 : a.number < b.number
    }

    static func parseIPv4(_ text: Substring) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ $0.isASCII && $0.isNumber }),
                  part.count == 1 || part.first != "0", let octet = UInt32(part), octet <= 255 else { return nil }
            value = value << 8 | octet
        }
        return value
    }

    static func parseIPv6(_ text: Substring) -> IPNumber? {
        // At most one "::"; each side is a list of 16-bit groups, the last of which may be an IPv4 address.
        var halves = [String(text)]
        if let gap = text.firstRange(of: "::") {
            halves = [String(text[..<gap.lowerBound]), String(text[gap.upperBound...])]
            guard !halves[1].contains("::") else { return nil }
        }
        func groups(_ side: String, allowIPv4Tail: Bool) -> [UInt16]? {
            guard !side.isEmpty else { return [] }
            var result: [UInt16] = []
            let parts = side.split(separator: ":", omittingEmptySubsequences: false)
            for (index, part) in parts.enumerated() {
                if index == parts.count - 1, allowIPv4Tail, part.contains(".") {
                    guard let v4 = parseIPv4(part) else { return nil }
                    result += [UInt16(v4 >> 16), UInt16(v4 & 0xFFFF)]
                } else {
                    guard (1...4).contains(part.count), part.allSatisfy(\.isHexDigit), let group = UInt16(part, radix: 16) else { return nil }
                    result.append(group)
                }
            }
            return result
        }
        var all: [UInt16]
        if halves.count == 2 {
            guard let head = groups(halves[0], allowIPv4Tail: false), let tail = groups(halves[1], allowIPv4Tail: true),
                  head.count + tail.count <= 7 else { return nil }
            all = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            guard let groups = groups(halves[0], allowIPv4Tail: true), groups.count == 8 else { return nil }
            all = groups
        }
        let high = all[0..<4].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        let low = all[4..<8].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        return IPNumber(high: high, low: low)
    }

    /// RFC 5952: lower-case hex without leading zeros, the longest run of two or more zero groups
    /// (the first when tied) written as "::", and an IPv4-mapped address as "::ffff:192.0.2.1" (§5).
    static func formatIPv6(_ number: IPNumber) -> String {
        if number.high == 0, number.low >> 32 == 0xFFFF {
            return "::ffff:" + IPAddress(family: .IPv4, number: IPNumber(low: number.low & 0xFFFF_FFFF)).description
        }
        let groups = (0..<8).map { index -> UInt16 in
            let word = index < 4 ? number.high : number.low
            return UInt16(truncatingIfNeeded: word >> (48 - 16 * UInt64(index % 4)))
        }
        var best: Range<Int>?
        var start: Int?
        for index in 0...8 {
            if index < 8, groups[index] == 0 {
                if start == nil { start = index }
            } else if let from = start {
                if index - from >= 2, index - from > (best?.count ?? 0) { best = from..<index }
                start = nil
            }
        }
        let hex = groups.map { String($0, radix: 16) }
        guard let best else { return hex.joined(separator: ":") }
        return hex[..<best.lowerBound].joined(separator: ":") + "::" + hex[best.upperBound...].joined(separator: ":")
    }
}

/// An unsigned 128-bit number: IPv6 addresses, and counts of them (a /64 holds 2^64, one more than
/// UInt64 can). The standard library's UInt128 needs macOS 15, newer than archway's floor.
public struct IPNumber: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64 = 0, low: UInt64) {
        self.high = high
        self.low = low
    }

    public static let zero = IPNumber(low: 0)
    public static let one = IPNumber(low: 1)

    /// 2^bits − 1: the last address of a family.
    static func maximum(bits: Int) -> IPNumber {
        bits >= 128 ? IPNumber(high: .max, low: .max) : bits >= 64 ? IPNumber(high: (1 << UInt64(bits - 64)) - 1, low: .max)
            : IPNumber(low: bits == 0 ? 0 : .max >> UInt64(64 - bits))
    }

    /// nil on overflow past 2^128 − 1.
    public func adding(_ other: IPNumber) -> IPNumber? {
        let (low, carry) = low.addingReportingOverflow(other.low)
        let (high1, overflow1) = high.addingReportingOverflow(other.high)
        let (high2, overflow2) = high1.addingReportingOverflow(carry ? 1 : 0)
        return overflow1 || overflow2 ? nil : IPNumber(high: high2, low: low)
    }

    /// Wraps modulo 2^128 (callers subtract a smaller number from a larger one).
    public func subtracting(_ other: IPNumber) -> IPNumber {
        let (low, borrow) = low.subtractingReportingOverflow(other.low)
        return IPNumber(high: high &- other.high &- (borrow ? 1 : 0), low: low)
    }

    /// The remainder of dividing by `divisor` (not zero): where a hash lands in a range of that size.
    public func remainder(dividingBy divisor: IPNumber) -> IPNumber {
        if divisor.high == 0 && high == 0 { return IPNumber(low: low % divisor.low) }
        // Shift-and-subtract long division; only reached for ranges of 2^64 addresses or more.
        var remainder = IPNumber.zero
        for bit in (0..<128).reversed() {
            let carried = remainder.high >> 63
            remainder = IPNumber(high: remainder.high << 1 | remainder.low >> 63, low: remainder.low << 1 | bitAt(bit))
            if carried == 1 || remainder >= divisor { remainder = remainder.subtracting(divisor) }
        }
        return remainder
    }

    private func bitAt(_ bit: Int) -> UInt64 { bit >= 64 ? (high >> UInt64(bit - 64)) & 1 : (low >> UInt64(bit)) & 1 }

    public static func < (a: IPNumber, b: IPNumber) -> Bool { (a.high, a.low) < (b.high, b.low) }

    /// Decimal, exact: "18446744073709551616" for a /64.
    public var description: String {
        guard high != 0 else { return String(low) }
        var digits: [Character] = []
        var (high, low) = (self.high, self.low)
        while high != 0 || low != 0 {
            // Divide the 128-bit value by 10, one 64-bit half at a time.
            let (quotientHigh, remainderHigh) = high.quotientAndRemainder(dividingBy: 10)
            let (quotientLow, remainder) = UInt64(10).dividingFullWidth((remainderHigh, low))
            digits.append(Character(String(remainder)))
            (high, low) = (quotientHigh, quotientLow)
        }
        return String(digits.reversed())
    }
}

/// A contiguous block of addresses of one family, first to last inclusive: what a CIDR
/// ("172.21.5.240/28") or a range ("172.21.5.240-172.21.5.250") denotes.
public struct IPRange: Hashable, Sendable, CustomStringConvertible {
    public let first: IPAddress
    public let last: IPAddress
    /// The prefix length when written as a CIDR; nil for a first-last range.
    public let prefixLength: Int?

    public var family: IPAddress.Family { first.family }

    /// How many addresses it holds, up to 2^128.
    public var count: IPNumber { last.number.subtracting(first.number).adding(.one) ?? IPNumber(high: .max, low: .max) }

    public func contains(_ address: IPAddress) -> Bool {
        address.family == family && first.number <= address.number && address.number <= last.number
    }

    public func overlaps(_ other: IPRange) -> Bool {
        family == other.family && first.number <= other.last.number && other.first.number <= last.number
    }

    public var description: String {
        if let prefixLength { return "\(first)/\(prefixLength)" }
        return first == last ? first.description : "\(first)-\(last)"
    }

    /// The network and broadcast addresses of an IPv4 CIDR shorter than /31 are not handed out: many
    /// clients and routers treat them specially. Nor is the first address of an IPv6 CIDR shorter
    /// than /127: it is the Subnet-Router anycast address (RFC 4291, 2.6.1), which every router on
    /// the subnet answers. Nil when nothing in the range may be handed out.
    public var assignable: (first: IPAddress, last: IPAddress)? {
        guard let prefixLength else { return (first, last) }
        switch family {
        case .IPv4 where prefixLength < 31:
            return (IPAddress(family: .IPv4, number: first.number.adding(.one)!),
                    IPAddress(family: .IPv4, number: last.number.subtracting(.one)))
        case .IPv6 where prefixLength < 127:
            return (IPAddress(family: .IPv6, number: first.number.adding(.one)!), last)
        default:
            return (first, last)
        }
    }

    /// "10.0.0.0/24", "fd00:10::/120", "10.0.0.10-10.0.0.20" or a single address, or why it is none of those.
    public static func parse(_ text: String) -> Result<IPRange, RangeProblem> {
        let trimmed = withoutSpaces(text)
        if let slash = trimmed.firstIndex(of: "/") {
            guard let address = IPAddress(String(trimmed[..<slash])),
                  let length = Int(trimmed[trimmed.index(after: slash)...]), (0...address.bits).contains(length),
                  trimmed[trimmed.index(after: slash)...].allSatisfy(\.isNumber) else { return .failure(.malformed) }
            let range = IPRange(network: address, prefixLength: length)
            guard range.first == address else { return .failure(.hostBitsSet(network: range.description)) }
            return .success(range)
        }
        if let dash = trimmed.firstIndex(of: "-") {
            guard let first = IPAddress(withoutSpaces(trimmed[..<dash])),
                  let last = IPAddress(withoutSpaces(trimmed[trimmed.index(after: dash)...])) else { return .failure(.malformed) }
            guard first.family == last.family else { return .failure(.mixedFamilies) }
            guard first <= last else { return .failure(.backwards) }
            return .success(IPRange(first: first, last: last, prefixLength: nil))
        }
        guard let single = IPAddress(trimmed) else { return .failure(.malformed) }
        return .success(IPRange(first: single, last: single, prefixLength: nil))
    }

    public enum RangeProblem: Error, Equatable, Sendable {
        case malformed, hostBitsSet(network: String), mixedFamilies, backwards
    }
}

/// Without the spaces around it: "10.0.0.1 - 10.0.0.9" reads as a range too.
private func withoutSpaces(_ text: some StringProtocol) -> String {
    String(text.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
}

extension IPRange {
    /// The network of `prefixLength` bits that holds `address` (its host bits cleared), as a CIDR.
    public init(network address: IPAddress, prefixLength: Int) {
        let hostBits = IPNumber.maximum(bits: address.bits - prefixLength)
        let network = IPNumber(high: address.number.high & ~hostBits.high, low: address.number.low & ~hostBits.low)
        self.init(first: IPAddress(family: address.family, number: network),
                  last: IPAddress(family: address.family, number: network.adding(hostBits)!), prefixLength: prefixLength)
    }
}
