import GatewayAPI
/// ARP over Ethernet for IPv4 (RFC 826): the requests archway reads and the replies and gratuitous
/// announcements it writes. Frames are whole Ethernet frames without the FCS, as an AF_PACKET
/// SOCK_RAW socket reads and writes them.
public enum ARPPacket {
    static let etherType: UInt16 = 0x0806
    /// Ethernet's 60-byte minimum without the FCS; shorter frames are padded, as NICs do.
    static let minimumFrame = 60

    /// An ARP request: who has `target`? tell `senderIP` at `senderMAC`.
    public struct Request: Equatable, Sendable {
        public var senderMAC: MACAddress
        public var senderIP: IPAddress
        public var target: IPAddress
    }

    /// The request in `frame`, or nil for any other frame (replies included).
    public static func parseRequest(_ frame: [UInt8]) -> Request? {
        guard frame.count >= 42, frame.be16(12) == etherType,
              frame.be16(14) == 1, frame.be16(16) == 0x0800, frame[18] == 6, frame[19] == 4, frame.be16(20) == 1 else { return nil }
        return Request(senderMAC: MACAddress(bytes: Array(frame[22..<28]))!, senderIP: IPAddress(bytes: Array(frame[28..<32]))!,
                       target: IPAddress(bytes: Array(frame[38..<42]))!)
    }

    /// The reply to `request`, sent to the asker alone: `request.target` is at `mac`. An RFC 5227
    /// probe (sender 0.0.0.0) is answered the same way, so a host about to take the address sees it is used.
    public static func reply(to request: Request, from mac: MACAddress) -> [UInt8] {
        frame(destination: request.senderMAC, source: mac, operation: 2, senderMAC: mac, senderIP: request.target,
              targetMAC: request.senderMAC, targetIP: request.senderIP)
    }

    /// A gratuitous ARP (RFC 5227's announcement: a broadcast request whose sender and target are
    /// both `address`). Linux replaces an existing neighbour entry on it even inside the entry's
    /// locktime, which is what moves clients to a new announcer at once.
    public static func gratuitous(_ address: IPAddress, from mac: MACAddress) -> [UInt8] {
        frame(destination: .broadcast, source: mac, operation: 1, senderMAC: mac, senderIP: address, targetMAC: .zero, targetIP: address)
    }

    static func frame(destination: MACAddress, source: MACAddress, operation: UInt16, senderMAC: MACAddress, senderIP: IPAddress,
                      targetMAC: MACAddress, targetIP: IPAddress) -> [UInt8] {
        var bytes = destination.bytes + source.bytes
        bytes.appendBE16(etherType)
        bytes.appendBE16(1)  // hardware: Ethernet
        bytes.appendBE16(0x0800)  // protocol: IPv4
        bytes += [6, 4]
        bytes.appendBE16(operation)
        bytes += senderMAC.bytes + senderIP.bytes + targetMAC.bytes + targetIP.bytes
        return bytes + [UInt8](repeating: 0, count: max(0, minimumFrame - bytes.count))
    }
}

extension [UInt8] {
    func be16(_ offset: Int) -> UInt16 { UInt16(self[offset]) << 8 | UInt16(self[offset + 1]) }
    mutating func appendBE16(_ value: UInt16) { append(contentsOf: [UInt8(value >> 8), UInt8(value & 0xff)]) }
}
