#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 network. An IPv4 client seen as an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, as a
/// dual-stack socket reports it) matches IPv4 networks.
public struct CIDR: Sendable, Codable, Equatable, Hashable, CustomStringConvertible {
    public let address: [UInt8]
    public let prefixLength: Int

    /// `10.0.0.0/8`, `2001:db8::/32`, or a single address.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = CIDR.parseAddress(String(parts[0])) else { return nil }
        let maximum = address.count * 8
        if parts.count == 2 {
            guard let length = Int(parts[1]), (0...maximum).contains(length) else { return nil }
            prefixLength = length
        } else {
            prefixLength = maximum
        }
        self.address = address
    }

    public var description: String {
        let text = address.count == 4 ? address.map(String.init).joined(separator: ".") : CIDR.formatIPv6(address)
        return prefixLength == address.count * 8 ? text : "\(text)/\(prefixLength)"
    }

    public func contains(_ candidate: [UInt8]) -> Bool {
        var bytes = candidate
        if address.count == 4, bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff {
            bytes = Array(bytes[12...])
        }
        guard bytes.count == address.count else { return false }
        var remaining = prefixLength
        for index in 0..<address.count where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xff << (8 - bits))
            if bytes[index] & mask != address[index] & mask { return false }
            remaining -= bits
        }
        return true
    }

    /// 4 bytes for IPv4, 16 for IPv6; nil for anything else (host names included).
    public static func parseAddress(_ text: String) -> [UInt8]? {
        let trimmed = String(Substring(text).trimmingSpaces())
        if trimmed.contains(":") {
            var storage = in6_addr()
            guard inet_pton(AF_INET6, trimmed, &storage) == 1 else { return nil }
            return withUnsafeBytes(of: &storage) { Array($0) }
        }
        var storage = in_addr()
        guard inet_pton(AF_INET, trimmed, &storage) == 1 else { return nil }
        return withUnsafeBytes(of: &storage) { Array($0) }
    }

    private static func formatIPv6(_ bytes: [UInt8]) -> String {
        stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }.joined(separator: ":")
    }
}
