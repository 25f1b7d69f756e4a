import GatewayAPI
/// IPv6 neighbour discovery (RFC 4861) over Ethernet: the neighbour solicitations archway reads and
/// the neighbour advertisements it writes, checksum included.
public enum NeighborDiscovery {
    static let etherType: UInt16 = 0x86dd
    static let icmpv6: UInt8 = 58
    static let solicitation: UInt8 = 135
    static let advertisement: UInt8 = 136
    /// RFC 4861 §7.1: NDP messages are only valid with hop limit 255, proof that no router forwarded them.
    static let hopLimit: UInt8 = 255
    public static let allNodes = IPAddress("ff02::1")!

    /// Who has `target`? asked by `senderIP` (:: during duplicate address detection), whose link-layer
    /// address is in the source link-layer option or, without one, the frame's source.
    public struct Solicitation: Equatable, Sendable {
        public var frameSource: MACAddress
        public var senderIP: IPAddress
        public var target: IPAddress
        public var senderLinkLayer: MACAddress?
    }

    /// ff02::1:ffXX:XXXX, the group a solicitation for `address` is sent to (RFC 4291 §2.7.1).
    public static func solicitedNodeGroup(of address: IPAddress) -> IPAddress {
        IPAddress(bytes: [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff] + address.bytes.suffix(3))!
    }

    /// The solicitation in `frame`, or nil for any other frame. The ICMPv6 header must follow the IPv6
    /// header directly (solicitations carry no extension headers); the checksum is not checked, as
    /// answering a damaged one only repeats what a good one would get.
    public static func parseSolicitation(_ frame: [UInt8]) -> Solicitation? {
        guard frame.count >= 78, frame.be16(12) == etherType, frame[14] >> 4 == 6, frame[20] == icmpv6, frame[21] == hopLimit,
              frame[54] == solicitation, frame[55] == 0 else { return nil }
        let payloadEnd = min(frame.count, 54 + Int(frame.be16(18)))
        var linkLayer: MACAddress?
        var option = 78
        while option + 8 <= payloadEnd, frame[option + 1] > 0 {
            let length = Int(frame[option + 1]) * 8
            if frame[option] == 1, length >= 8 { linkLayer = MACAddress(bytes: Array(frame[(option + 2)..<(option + 8)])) }
            option += length
        }
        return Solicitation(frameSource: MACAddress(bytes: Array(frame[6..<12]))!, senderIP: IPAddress(bytes: Array(frame[22..<38]))!,
                            target: IPAddress(bytes: Array(frame[62..<78]))!, senderLinkLayer: linkLayer)
    }

    /// The advertisement answering `solicitation`: Solicited and Override set, our MAC in the target
    /// link-layer option. A solicitation from :: (duplicate address detection) is answered to all nodes
    /// without the Solicited flag (RFC 4861 §7.2.4). `source` is the IPv6 source (archway sends from
    /// the target, as Linux does for its own addresses).
    public static func advertisement(answering solicitation: Solicitation, from mac: MACAddress, source: IPAddress) -> [UInt8] {
        let unspecified = solicitation.senderIP.bytes.allSatisfy { $0 == 0 }
        return unspecified
            ? advertisement(of: solicitation.target, from: mac, source: source, to: allNodes, at: .multicast(for: allNodes), solicited: false)
            : advertisement(of: solicitation.target, from: mac, source: source, to: solicitation.senderIP,
                            at: solicitation.senderLinkLayer ?? solicitation.frameSource, solicited: true)
    }

    /// An unsolicited advertisement to all nodes (Override set), sent when this replica starts
    /// announcing `address`: neighbours that had another MAC for it switch at once (RFC 4861 §7.2.6).
    public static func unsolicited(_ address: IPAddress, from mac: MACAddress, source: IPAddress) -> [UInt8] {
        advertisement(of: address, from: mac, source: source, to: allNodes, at: .multicast(for: allNodes), solicited: false)
    }

    static func advertisement(of target: IPAddress, from mac: MACAddress, source: IPAddress, to destination: IPAddress,
                              at destinationMAC: MACAddress, solicited: Bool) -> [UInt8] {
        var icmp: [UInt8] = [advertisement, 0, 0, 0, (solicited ? 0x40 : 0) | 0x20, 0, 0, 0]  // flags: S, O (never R)
        icmp += target.bytes
        icmp += [2, 1] + mac.bytes  // target link-layer address option, 8 bytes
        let sum = checksum(source: source, destination: destination, icmp: icmp)
        icmp[2] = UInt8(sum >> 8)
        icmp[3] = UInt8(sum & 0xff)
        var frame = destinationMAC.bytes + mac.bytes
        frame.appendBE16(etherType)
        frame += [0x60, 0, 0, 0]  // version 6, traffic class and flow label 0
        frame.appendBE16(UInt16(icmp.count))
        frame += [icmpv6, hopLimit]
        return frame + source.bytes + destination.bytes + icmp
    }

    /// The ICMPv6 checksum (RFC 4443 §2.3): one's complement sum over the pseudo-header (source,
    /// destination, upper-layer length, next header) and the message with its checksum field zero.
    static func checksum(source: IPAddress, destination: IPAddress, icmp: [UInt8]) -> UInt16 {
        let length = UInt32(icmp.count)
        let pseudo = source.bytes + destination.bytes
            + [UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff), 0, 0, 0, icmpv6]
        var sum: UInt32 = 0
        let bytes = pseudo + icmp + (icmp.count % 2 == 1 ? [0] : [])
        for index in stride(from: 0, to: bytes.count, by: 2) { sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1]) }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }
}
