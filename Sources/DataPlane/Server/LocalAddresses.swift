#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// Whether this host can serve on an address a Gateway asks for. The kernel is asked the way a
/// listener would be: a socket bound there (port 0, without IP_FREEBIND) succeeds only for an
/// address on one of its interfaces, or in a local route (all of 127.0.0.0/8 on Linux).
public enum LocalAddresses {
    /// nil when the address can be bound; else why not, for the Gateway's status.
    public static func problem(_ address: String) -> String? {
        let socketAddress: SocketAddress
        do {
            socketAddress = try SocketAddress(ipAddress: address, port: 0)
        } catch {
            return "\"\(address)\" is not an IP address"
        }
        let family: Int32 = if case .v6 = socketAddress { AF_INET6 } else { AF_INET }
        #if canImport(Glibc)
        let fd = socket(family, Int32(SOCK_DGRAM.rawValue), 0)
        #else
        let fd = socket(family, SOCK_DGRAM, 0)
        #endif
        guard fd >= 0 else { return "cannot open a socket to check it (errno \(errno))" }
        defer { close(fd) }
        let result = socketAddress.withSockAddr { pointer, length in bind(fd, pointer, socklen_t(length)) }
        guard result != 0 else { return nil }
        let code = errno
        if code == EADDRNOTAVAIL { return "no interface of this host has this address" }
        return "cannot bind it: \(String(cString: strerror(code)))"
    }
}
