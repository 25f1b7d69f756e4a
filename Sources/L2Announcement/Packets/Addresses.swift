import Glibc

/// An IPv4 or IPv6 address as the bytes that go on the wire (4 or 16, network order).
public struct IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// Dotted IPv4 or any IPv6 text form inet_pton reads; nil for anything else (host names included).
    public init?(_ text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
            return
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        bytes = withUnsafeBytes(of: &v6) { Array($0) }
    }

    public var isV4: Bool { bytes.count == 4 }

    /// Addresses that must never be announced on a LAN: loopback, unspecified, multicast, link-local
    /// and broadcast. A Gateway reports 127.0.0.1 when it asks for no address; that stays local.
    public var isAnnounceable: Bool {
        if isV4 {
            return !(bytes[0] == 127 || bytes[0] == 0 || bytes[0] >= 224 || (bytes[0] == 169 && bytes[1] == 254))
        }
        let unspecifiedOrLoopback = bytes.dropLast().allSatisfy { $0 == 0 } && bytes[15] <= 1
        return !(unspecifiedOrLoopback || bytes[0] == 0xff || (bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80))
    }

    /// Whether it lies in `network`/`prefixLength` (same family only).
    public func isIn(network: IPAddress, prefixLength: Int) -> Bool {
        guard network.bytes.count == bytes.count, prefixLength <= bytes.count * 8 else { return false }
        for bit in 0..<prefixLength where (bytes[bit / 8] ^ network.bytes[bit / 8]) & (0x80 >> UInt8(bit % 8)) != 0 { return false }
        return true
    }

    public var description: String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        _ = bytes.withUnsafeBytes { inet_ntop(isV4 ? AF_INET : AF_INET6, $0.baseAddress, &text, socklen_t(text.count)) }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// IPv4 first, then IPv6, each in numeric order: the order status and logs list them in.
    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        lhs.bytes.count != rhs.bytes.count ? lhs.bytes.count < rhs.bytes.count : lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }
}

/// An Ethernet (EUI-48) address.
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 6 else { return nil }
        self.bytes = bytes
    }

    /// "aa:bb:cc:dd:ee:ff", as `ip link` prints it.
    public init?(_ text: String) {
        let parts = text.split(separator: ":").compactMap { UInt8($0, radix: 16) }
        self.init(bytes: parts.count == 6 && text.split(separator: ":").count == 6 ? parts : [])
    }

    public static let broadcast = MACAddress(bytes: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff])!
    public static let zero = MACAddress(bytes: [0, 0, 0, 0, 0, 0])!

    /// The Ethernet group an IPv6 multicast address maps to (RFC 2464 §7): 33:33 and its last 4 bytes.
    public static func multicast(for group: IPAddress) -> MACAddress {
        MACAddress(bytes: [0x33, 0x33] + group.bytes.suffix(4))!
    }

    public var description: String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":")
    }
}
