import Glibc

/// A TUN device (`archway0`, `archway1`, ...) that lives exactly as long as this process: the kernel
/// deletes a non-persistent TUN device, and every address on it, when the last descriptor to it
/// closes, and a killed process's descriptors close with it. The served addresses are held here
/// rather than on `lo` for that reason alone: after a crash the node no longer has the address, so a
/// client's connection attempt that still reaches this node is not refused with a RST (a failed
/// request) but unanswered, and its SYN retransmission a second later goes to the replica that took
/// the address over. Nothing is ever read from the device; packets for its addresses are delivered
/// locally, not through it. Creating it needs CAP_NET_ADMIN and the /dev/net/tun device node.
final class ProcessBoundInterface: Sendable {
    let name: String
    let index: Int32
    private let descriptor: Int32

    struct Failure: Error, CustomStringConvertible {
        var call: String
        var errno: Int32
        var description: String { "\(call): \(String(cString: strerror(errno)))" }
        var isPermission: Bool { errno == EPERM || errno == EACCES }
        /// No /dev/net/tun in this container (or no tun module): the caller falls back to `lo`.
        var isUnavailable: Bool { errno == ENOENT || errno == ENODEV || errno == ENXIO }
    }

    /// Creates the device (the kernel picks the first free `archway<N>`) and brings it up.
    init() throws {
        let descriptor = open("/dev/net/tun", O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { throw Failure(call: "open(/dev/net/tun)", errno: errno) }
        // struct ifreq: name[16], then the union whose first member is `short ifr_flags`.
        var request = Self.interfaceRequest(name: "archway%d")
        let tunSetInterface: UInt = 0x4004_54ca  // TUNSETIFF = _IOW('T', 202, int)
        let tun: Int16 = 0x0001, noPacketInformation: Int16 = 0x1000  // IFF_TUN, IFF_NO_PI
        withUnsafeBytes(of: tun | noPacketInformation) { request.replaceSubrange(16..<18, with: $0) }
        let created = request.withUnsafeMutableBytes { ioctl(descriptor, tunSetInterface, $0.baseAddress!) }
        guard created == 0 else {
            let failure = Failure(call: "ioctl(TUNSETIFF)", errno: errno)
            close(descriptor)
            throw failure
        }
        let name = String(decoding: request[0..<16].prefix { $0 != 0 }, as: UTF8.self)
        do {
            try Self.bringUp(name)
        } catch {
            close(descriptor)
            throw error
        }
        self.descriptor = descriptor
        self.name = name
        index = Int32(if_nametoindex(name))
    }

    /// Closing deletes the device and its addresses: only at the very end (a draining process still
    /// has connections on them).
    deinit { close(descriptor) }

    private static func interfaceRequest(name: String) -> [UInt8] {
        var request = [UInt8](repeating: 0, count: 40)
        let bytes = Array(name.utf8.prefix(15))
        request.replaceSubrange(0..<bytes.count, with: bytes)
        return request
    }

    /// `ip link set NAME up`, the ioctl way: SIOCGIFFLAGS, then SIOCSIFFLAGS with IFF_UP added.
    private static func bringUp(_ name: String) throws {
        let control = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard control >= 0 else { throw Failure(call: "socket(AF_INET)", errno: errno) }
        defer { close(control) }
        var request = interfaceRequest(name: name)
        let getFlags: UInt = 0x8913, setFlags: UInt = 0x8914
        guard request.withUnsafeMutableBytes({ ioctl(control, getFlags, $0.baseAddress!) }) == 0 else {
            throw Failure(call: "ioctl(SIOCGIFFLAGS \(name))", errno: errno)
        }
        let flags = request.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 16, as: Int16.self) } | Int16(IFF_UP)
        withUnsafeBytes(of: flags) { request.replaceSubrange(16..<18, with: $0) }
        guard request.withUnsafeMutableBytes({ ioctl(control, setFlags, $0.baseAddress!) }) == 0 else {
            throw Failure(call: "ioctl(SIOCSIFFLAGS \(name))", errno: errno)
        }
    }
}
