import GatewayAPI
import Glibc

/// Addresses as the bytes that go on the wire (4 or 16, network order): the one address type of
/// archway (GatewayAPI's, which the pools use), seen from the packet side.
extension IPAddress {
    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        func number(_ slice: ArraySlice<UInt8>) -> UInt64 { slice.reduce(0) { $0 << 8 | UInt64($1) } }
        if bytes.count == 4 {
            self.init(family: .IPv4, number: IPNumber(high: 0, low: number(bytes[0..<4])))
        } else {
            self.init(family: .IPv6, number: IPNumber(high: number(bytes[0..<8]), low: number(bytes[8..<16])))
        }
    }

    public var bytes: [UInt8] {
        func octets(_ value: UInt64, count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: value >> (8 * (count - 1 - $0))) } }
        return isV4 ? octets(number.low, count: 4) : octets(number.high, count: 8) + octets(number.low, count: 8)
    }

    public var isV4: Bool { family == .IPv4 }

    /// Addresses that must never be announced on a LAN: loopback, unspecified, multicast, link-local
    /// and broadcast. A Gateway reports 127.0.0.1 when it asks for no address; that stays local.
    public var isAnnounceable: Bool {
        let bytes = self.bytes
        if isV4 {
            return !(bytes[0] == 127 || bytes[0] == 0 || bytes[0] >= 224 || (bytes[0] == 169 && bytes[1] == 254))
        }
        let unspecifiedOrLoopback = bytes.dropLast().allSatisfy { $0 == 0 } && bytes[15] <= 1
        return !(unspecifiedOrLoopback || bytes[0] == 0xff || (bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80))
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
