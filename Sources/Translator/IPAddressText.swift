#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// IP addresses as text, in the one spelling archway compares and reports: inet_ntop's (IPv6
/// compressed and lower-case, RFC 5952), so `fd00:0::1` and `FD00::1` are the same socket.
enum IPAddressText {
    static func canonical(_ text: String) -> String? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return format(AF_INET, &v4, length: INET_ADDRSTRLEN) }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return format(AF_INET6, &v6, length: INET6_ADDRSTRLEN) }
        return nil
    }

    private static func format<T>(_ family: Int32, _ address: inout T, length: Int32) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(length))
        guard inet_ntop(family, &address, &buffer, socklen_t(length)) != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
