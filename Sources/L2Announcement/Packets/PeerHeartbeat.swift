/// The frame each announcing replica broadcasts on its LAN interfaces every few hundred milliseconds
/// (EtherType 0x88B5, IEEE 802's "local experimental" type: never routed, never seen by iptables):
/// "AWL2", a version, a flags byte (1: leaving) and the replica's identity. It carries the one fact
/// the membership Leases learn too slowly: this replica is still alive on this LAN. A replica
/// heard here once and then silent for a few intervals is gone, and the others take its addresses
/// without waiting for its Lease to expire; one that says it is leaving is gone at once. Sent where
/// the ARP answers go, so a peer whose heartbeats arrive is a peer whose answers reach the clients.
public enum PeerHeartbeat {
    static let etherType: UInt16 = 0x88b5
    static let magic: [UInt8] = Array("AWL2".utf8)
    static let version: UInt8 = 1

    public struct Beat: Equatable, Sendable {
        public var identity: String
        public var leaving: Bool
    }

    /// A broadcast heartbeat from `mac` for `identity` (at most 255 bytes of it).
    public static func frame(identity: String, leaving: Bool, from mac: MACAddress) -> [UInt8] {
        let name = Array(identity.utf8.prefix(255))
        var frame = MACAddress.broadcast.bytes + mac.bytes + [UInt8(etherType >> 8), UInt8(etherType & 0xff)]
        frame += magic + [version, leaving ? 1 : 0, UInt8(name.count)] + name
        return frame + [UInt8](repeating: 0, count: max(0, ARPPacket.minimumFrame - frame.count))
    }

    /// The heartbeat in `frame`, or nil for any other frame or a later version's.
    public static func parse(_ frame: [UInt8]) -> Beat? {
        guard frame.count >= 21, frame.be16(12) == etherType, Array(frame[14..<18]) == magic, frame[18] == version else { return nil }
        let length = Int(frame[20])
        guard frame.count >= 21 + length, length > 0 else { return nil }
        return Beat(identity: String(decoding: frame[21..<(21 + length)], as: UTF8.self), leaving: frame[19] & 1 != 0)
    }
}
