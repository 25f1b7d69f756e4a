import GatewayAPI
import Glibc

/// The host's interfaces as getifaddrs(3) lists them: index, MAC, and the networks on each.
public struct NetworkInterface: Sendable, Equatable {
    public var name: String
    public var index: Int32
    public var mac: MACAddress?
    public var isLoopback: Bool
    public var networks: [(address: IPAddress, prefixLength: Int)]

    public static func == (lhs: NetworkInterface, rhs: NetworkInterface) -> Bool {
        lhs.name == rhs.name && lhs.index == rhs.index && lhs.mac == rhs.mac
            && lhs.networks.map { "\($0.address)/\($0.prefixLength)" } == rhs.networks.map { "\($0.address)/\($0.prefixLength)" }
    }

    /// Every interface that is up.
    public static func all() -> [NetworkInterface] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return [] }
        defer { freeifaddrs(list) }
        var byName: [String: NetworkInterface] = [:]
        var order: [String] = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor?.pointee {
            defer { cursor = entry.ifa_next }
            guard entry.ifa_flags & UInt32(IFF_UP) != 0, let address = entry.ifa_addr else { continue }
            let name = String(cString: entry.ifa_name)
            if byName[name] == nil {
                order.append(name)
                byName[name] = NetworkInterface(name: name, index: Int32(if_nametoindex(name)), mac: nil,
                                                isLoopback: entry.ifa_flags & UInt32(IFF_LOOPBACK) != 0, networks: [])
            }
            switch Int32(address.pointee.sa_family) {
            case AF_PACKET:
                // struct sockaddr_ll: halen at 11, the address from 12.
                let raw = UnsafeRawPointer(address)
                if raw.load(fromByteOffset: 11, as: UInt8.self) == 6 {
                    byName[name]?.mac = MACAddress(bytes: (12..<18).map { raw.load(fromByteOffset: $0, as: UInt8.self) })
                }
            case AF_INET, AF_INET6:
                guard let ip = Self.ip(address), let mask = entry.ifa_netmask.flatMap(Self.ip) else { continue }
                byName[name]?.networks.append((ip, mask.bytes.reduce(0) { $0 + $1.nonzeroBitCount }))
            default: break
            }
        }
        return order.compactMap { byName[$0] }
    }

    /// The LAN interface for `address`: the first non-loopback interface with a network that contains it.
    public static func containing(_ address: IPAddress, in interfaces: [NetworkInterface]) -> NetworkInterface? {
        interfaces.first { interface in
            !interface.isLoopback && interface.networks.contains {
                $0.prefixLength < address.bits && $0.address.family == address.family
                    && IPRange(network: $0.address, prefixLength: $0.prefixLength).contains(address)
            }
        }
    }

    private static func ip(_ address: UnsafeMutablePointer<sockaddr>) -> IPAddress? {
        let raw = UnsafeRawPointer(address)
        switch Int32(address.pointee.sa_family) {
        case AF_INET: return IPAddress(bytes: (4..<8).map { raw.load(fromByteOffset: $0, as: UInt8.self) })  // sockaddr_in.sin_addr
        case AF_INET6: return IPAddress(bytes: (8..<24).map { raw.load(fromByteOffset: $0, as: UInt8.self) })  // sockaddr_in6.sin6_addr
        default: return nil
        }
    }
}

/// The two sysctls of the LVS direct-routing setup, per LAN interface. With the announced addresses
/// on `lo`, Linux would otherwise answer ARP for them on every interface (its "weak host" default),
/// so every replica would claim them and clients would flap between MACs.
enum ARPSysctl {
    /// arp_ignore=1: answer ARP only for addresses configured on the interface the request came in
    /// on (not those on lo). arp_announce=2: never use such an address as the sender of this host's
    /// own ARP requests. Only the process then answers for them, and only where elected.
    /// A read-only /proc/sys (an unprivileged container) is fine when the node already has the
    /// values (at least as strict); otherwise it throws.
    static func restrict(interface: String) throws {
        for (name, value) in [("arp_ignore", "1"), ("arp_announce", "2")] {
            let path = "/proc/sys/net/ipv4/conf/\(interface)/\(name)"
            if let current = read(path), current >= Int(value)! { continue }
            guard let file = fopen(path, "w") else { throw RouteNetlink.Failure(operation: "write \(path)", errno: errno) }
            let written = fputs(value + "\n", file)
            let closed = fclose(file)
            if written < 0 || closed != 0 { throw RouteNetlink.Failure(operation: "write \(path)", errno: errno) }
        }
    }

    private static func read(_ path: String) -> Int? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 16)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
        return Int(String(decoding: buffer.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
}
