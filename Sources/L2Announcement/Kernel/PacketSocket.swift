import Glibc

/// An AF_PACKET raw socket on one interface that receives only ARP, ICMPv6 neighbour solicitations
/// and archway's peer heartbeats (a classic BPF filter drops everything else in the kernel, so a busy
/// interface costs this socket nothing), and sends whole Ethernet frames. Opening it needs CAP_NET_RAW.
final class PacketSocket: Sendable {
    let descriptor: Int32
    let interfaceIndex: Int32

    struct Failure: Error, CustomStringConvertible {
        var call: String
        var errno: Int32
        var description: String { "\(call): \(String(cString: strerror(errno)))" }
        var isPermission: Bool { errno == EPERM || errno == EACCES }
    }

    /// `recv` returns after `timeout` with nothing, so the reading thread can check for work and stop.
    init(interfaceIndex: Int32, timeout: Duration) throws {
        // Protocol 0: nothing is queued before the filter is attached and the socket bound.
        let descriptor = socket(AF_PACKET, Int32(SOCK_RAW.rawValue), 0)
        guard descriptor >= 0 else { throw Failure(call: "socket(AF_PACKET)", errno: errno) }
        self.descriptor = descriptor
        self.interfaceIndex = interfaceIndex
        // From here on a throw releases self, and deinit closes the descriptor.
        do {
            try attachFilter()
            let microseconds = timeout.components.seconds * 1_000_000 + timeout.components.attoseconds / 1_000_000_000_000
            var interval = timeval(tv_sec: Int(microseconds / 1_000_000), tv_usec: Int(microseconds % 1_000_000))
            try check("setsockopt(SO_RCVTIMEO)", setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size)))
            let address = Self.linkAddress(interfaceIndex: interfaceIndex, protocol: 0x0003)  // ETH_P_ALL
            try check("bind(AF_PACKET)", address.withUnsafeBytes {
                bind(descriptor, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t($0.count))
            })
        }
    }

    deinit { close(descriptor) }

    /// The next frame that reached the interface from outside, or nil after the timeout. Frames this
    /// host sent (the socket sees its own replies) are skipped.
    func receive() -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 2048)
        var from = [UInt8](repeating: 0, count: 20)
        var length = socklen_t(from.count)
        let count = buffer.withUnsafeMutableBytes { bytes in
            from.withUnsafeMutableBytes { address in
                recvfrom(descriptor, bytes.baseAddress, bytes.count, 0, address.baseAddress!.assumingMemoryBound(to: sockaddr.self), &length)
            }
        }
        let outgoing: UInt8 = 4  // PACKET_OUTGOING
        guard count > 0, from[10] != outgoing else { return nil }
        return Array(buffer.prefix(count))
    }

    /// Sends one frame out of the interface (its bytes are sent as they are: MACs included).
    @discardableResult
    func send(_ frame: [UInt8]) -> Bool {
        frame.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, 0) } == frame.count
    }

    /// Joins (or leaves) the Ethernet multicast group, so the interface passes up frames sent to it:
    /// the solicited-node group of each IPv6 address announced. The kernel counts joins per group.
    func membership(_ group: MACAddress, join: Bool) {
        // struct packet_mreq { int mr_ifindex; unsigned short mr_type (PACKET_MR_MULTICAST = 0), mr_alen; unsigned char mr_address[8]; }
        var request = [UInt8](repeating: 0, count: 16)
        withUnsafeBytes(of: interfaceIndex) { request.replaceSubrange(0..<4, with: $0) }
        withUnsafeBytes(of: UInt16(6)) { request.replaceSubrange(6..<8, with: $0) }
        request.replaceSubrange(8..<14, with: group.bytes)
        let solPacket: Int32 = 263, addMembership: Int32 = 1, dropMembership: Int32 = 2
        _ = request.withUnsafeBytes { setsockopt(descriptor, solPacket, join ? addMembership : dropMembership, $0.baseAddress, socklen_t($0.count)) }
    }

    /// struct sockaddr_ll: family, protocol (network order), ifindex, hatype, pkttype, halen, addr[8].
    static func linkAddress(interfaceIndex: Int32, protocol: UInt16) -> [UInt8] {
        var address = [UInt8](repeating: 0, count: 20)
        withUnsafeBytes(of: UInt16(AF_PACKET)) { address.replaceSubrange(0..<2, with: $0) }
        address[2] = UInt8(`protocol` >> 8)
        address[3] = UInt8(`protocol` & 0xff)
        withUnsafeBytes(of: interfaceIndex) { address.replaceSubrange(4..<8, with: $0) }
        return address
    }

    /// ARP (any), a peer heartbeat (EtherType 0x88B5), or IPv6 whose next header is ICMPv6 and whose
    /// ICMPv6 type is 135; everything else is dropped before it is copied to this socket.
    private func attachFilter() throws {
        // Classic BPF: (code, jt, jf, k). Jumps count instructions after the next one.
        let program: [(UInt16, UInt8, UInt8, UInt32)] = [
            (0x28, 0, 0, 12),       // 0: ldh [12]          ethertype
            (0x15, 6, 0, 0x0806),   // 1: jeq ARP           → 8 accept
            (0x15, 5, 0, 0x88b5),   // 2: jeq heartbeat     → 8 accept
            (0x15, 0, 5, 0x86dd),   // 3: jeq IPv6, else    → 9 drop
            (0x30, 0, 0, 20),       // 4: ldb [20]          IPv6 next header
            (0x15, 0, 3, 58),       // 5: jeq ICMPv6, else  → 9 drop
            (0x30, 0, 0, 54),       // 6: ldb [54]          ICMPv6 type
            (0x15, 0, 1, 135),      // 7: jeq NS, else      → 9 drop
            (0x06, 0, 0, 0x40000),  // 8: accept
            (0x06, 0, 0, 0),        // 9: drop
        ]
        var instructions = [UInt8]()
        for (code, jumpTrue, jumpFalse, constant) in program {
            withUnsafeBytes(of: code) { instructions += $0 }
            instructions += [jumpTrue, jumpFalse]
            withUnsafeBytes(of: constant) { instructions += $0 }
        }
        try instructions.withUnsafeBytes { filter in
            // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
            var fprog = [UInt8](repeating: 0, count: 16)
            withUnsafeBytes(of: UInt16(program.count)) { fprog.replaceSubrange(0..<2, with: $0) }
            withUnsafeBytes(of: UInt(bitPattern: filter.baseAddress)) { fprog.replaceSubrange(8..<16, with: $0) }
            let soAttachFilter: Int32 = 26
            try check("setsockopt(SO_ATTACH_FILTER)", fprog.withUnsafeBytes {
                setsockopt(descriptor, SOL_SOCKET, soAttachFilter, $0.baseAddress, socklen_t($0.count))
            })
        }
    }

    private func check(_ call: String, _ result: Int32) throws {
        if result < 0 { throw Failure(call: call, errno: errno) }
    }
}
