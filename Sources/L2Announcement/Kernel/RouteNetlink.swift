import GatewayAPI
import Glibc

/// Adds and removes interface addresses over rtnetlink (NETLINK_ROUTE): RTM_NEWADDR and
/// RTM_DELADDR, what `ip addr add/del` sends, and the RTM_GETADDR dump that finds the addresses archway
/// added before a crash. Hand-written, about a hundred lines, because no Swift package speaks netlink
/// and running `ip` would need iproute2 in the image. Needs CAP_NET_ADMIN.
enum RouteNetlink {
    struct Failure: Error, CustomStringConvertible {
        var operation: String
        var errno: Int32
        var description: String { "\(operation): \(String(cString: strerror(errno)))" }
        var isPermission: Bool { errno == EPERM || errno == EACCES }
    }

    /// `ip addr add ADDRESS/32 (or /128) dev INTERFACE`; an address already there is fine.
    static func addHostAddress(_ address: IPAddress, interfaceIndex: Int32) throws {
        try request(type: 20, flags: 0x400 | 0x100, address: address, interfaceIndex: interfaceIndex, tolerating: EEXIST)  // RTM_NEWADDR, CREATE|REPLACE
    }

    /// The IFA_PROTO archway tags its addresses with (`ip addr show proto 0x61`; kernels before 6.1
    /// ignore it): what a later start recognises as its own leftovers, and no one else's.
    static let addressProtocol: UInt8 = 0x61

    /// The addresses on `interfaceIndex` that carry archway's tag: left by an earlier run.
    static func taggedAddresses(interfaceIndex: Int32) throws -> [IPAddress] {
        let descriptor = try open("RTM_GETADDR")
        defer { close(descriptor) }
        // struct ifaddrmsg, all families: a dump (NLM_F_REQUEST | NLM_F_DUMP) of every address.
        try send(descriptor, type: 22, flags: 0x01 | 0x300, body: [0, 0, 0, 0, 0, 0, 0, 0], operation: "RTM_GETADDR")
        var found: [IPAddress] = []
        var buffer = [UInt8](repeating: 0, count: 32768)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { throw Failure(operation: "RTM_GETADDR", errno: count < 0 ? errno : EPROTO) }
            var offset = 0
            while offset + 16 <= count {
                let length = Int(buffer[offset..<offset + 4].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
                let type = buffer[offset + 4..<offset + 6].withUnsafeBytes { $0.loadUnaligned(as: UInt16.self) }
                guard length >= 16, offset + length <= count else { throw Failure(operation: "RTM_GETADDR", errno: EPROTO) }
                if type == 3 { return found }  // NLMSG_DONE
                if type == 2 { throw Failure(operation: "RTM_GETADDR", errno: -buffer[offset + 16..<offset + 20].withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }) }
                if type == 20, length >= 24 {  // RTM_NEWADDR: ifaddrmsg, then attributes
                    let index = buffer[offset + 20..<offset + 24].withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
                    var address: IPAddress?, tagged = false
                    var attribute = offset + 24
                    while attribute + 4 <= offset + length {
                        let size = Int(buffer[attribute..<attribute + 2].withUnsafeBytes { $0.loadUnaligned(as: UInt16.self) })
                        let kind = buffer[attribute + 2..<attribute + 4].withUnsafeBytes { $0.loadUnaligned(as: UInt16.self) }
                        guard size >= 4, attribute + size <= offset + length else { break }
                        let data = Array(buffer[attribute + 4..<attribute + size])
                        if kind == 2 || (kind == 1 && address == nil) { address = IPAddress(bytes: data) }  // IFA_LOCAL, IFA_ADDRESS
                        if kind == 11, data.first == addressProtocol { tagged = true }  // IFA_PROTO
                        attribute += (size + 3) & ~3
                    }
                    if index == interfaceIndex, tagged, let address { found.append(address) }
                }
                offset += (length + 3) & ~3
            }
        }
    }

    /// `ip addr del ADDRESS/32 (or /128) dev INTERFACE`; an address already gone is fine.
    static func removeHostAddress(_ address: IPAddress, interfaceIndex: Int32) throws {
        try request(type: 21, flags: 0, address: address, interfaceIndex: interfaceIndex, tolerating: EADDRNOTAVAIL)  // RTM_DELADDR
    }

    private static func open(_ operation: String) throws -> Int32 {
        let descriptor = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)  // NETLINK_ROUTE = 0
        guard descriptor >= 0 else { throw Failure(operation: operation, errno: errno) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return descriptor
    }

    /// struct nlmsghdr { u32 len; u16 type, flags; u32 seq, pid; } and `body`, to the kernel.
    private static func send(_ descriptor: Int32, type: UInt16, flags: UInt16, body: [UInt8], operation: String) throws {
        var message = [UInt8]()
        withUnsafeBytes(of: UInt32(16 + body.count)) { message += $0 }
        withUnsafeBytes(of: type) { message += $0 }
        withUnsafeBytes(of: flags) { message += $0 }
        withUnsafeBytes(of: UInt32(1)) { message += $0 }
        message += [0, 0, 0, 0]
        message += body
        var kernel = [UInt8](repeating: 0, count: 12)  // struct sockaddr_nl, pid 0: the kernel
        withUnsafeBytes(of: UInt16(AF_NETLINK)) { kernel.replaceSubrange(0..<2, with: $0) }
        let sent = message.withUnsafeBytes { bytes in
            kernel.withUnsafeBytes { to in
                sendto(descriptor, bytes.baseAddress, bytes.count, 0, to.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(to.count))
            }
        }
        guard sent == message.count else { throw Failure(operation: operation, errno: errno) }
    }

    private static func request(type: UInt16, flags: UInt16, address: IPAddress, interfaceIndex: Int32, tolerating tolerated: Int32) throws {
        let operation = "\(type == 20 ? "RTM_NEWADDR" : "RTM_DELADDR") \(address)"
        let descriptor = try open(operation)
        defer { close(descriptor) }
        // struct ifaddrmsg { u8 family, prefixlen, flags, scope; u32 index; }, then attributes.
        var body: [UInt8] = [UInt8(address.isV4 ? AF_INET : AF_INET6), UInt8(address.bytes.count * 8), 0, 0]
        withUnsafeBytes(of: UInt32(bitPattern: interfaceIndex)) { body += $0 }
        body += attribute(2, address.bytes)  // IFA_LOCAL
        body += attribute(1, address.bytes)  // IFA_ADDRESS
        if !address.isV4 { body += attribute(8, withUnsafeBytes(of: UInt32(0x02)) { Array($0) }) }  // IFA_FLAGS: IFA_F_NODAD
        if type == 20 { body += attribute(11, [addressProtocol]) }  // IFA_PROTO: archway's
        // REQUEST | ACK, and the caller's flags.
        try send(descriptor, type: type, flags: flags | 0x01 | 0x04, body: body, operation: operation)
        var answer = [UInt8](repeating: 0, count: 4096)
        let count = answer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        guard count >= 20 else { throw Failure(operation: operation, errno: count < 0 ? errno : EPROTO) }
        // NLMSG_ERROR (2) carries a negated errno; 0 is the acknowledgement.
        let answerType = answer[4..<6].withUnsafeBytes { $0.loadUnaligned(as: UInt16.self) }
        guard answerType == 2 else { throw Failure(operation: operation, errno: EPROTO) }
        let error = -answer[16..<20].withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
        if error != 0 && error != tolerated { throw Failure(operation: operation, errno: error) }
    }

    /// struct rtattr { u16 len, type; } and the data, padded to 4 bytes.
    private static func attribute(_ type: UInt16, _ data: [UInt8]) -> [UInt8] {
        var bytes = [UInt8]()
        withUnsafeBytes(of: UInt16(4 + data.count)) { bytes += $0 }
        withUnsafeBytes(of: type) { bytes += $0 }
        bytes += data
        return bytes + [UInt8](repeating: 0, count: (4 - bytes.count % 4) % 4)
    }
}
