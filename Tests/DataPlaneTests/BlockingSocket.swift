import Foundation

/// A plain blocking loopback socket (TCP or UDP) for tests that speak bytes, not HTTP: raw malformed
/// requests, WebSocket frames, TCP and UDP echo. Reads time out after `timeout` seconds.
final class BlockingSocket {
    let fd: Int32
    private var received: [UInt8] = []

    init(host: String = "127.0.0.1", port: Int, udp: Bool = false, timeout: Int = 5) throws {
        fd = socket(AF_INET, Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr(host)
        var limit = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw HarnessError.timeout("connect to \(host):\(port) failed: \(errno)")
        }
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Foundation.send(fd, $0.baseAddress, $0.count, 0) }
            if sent <= 0 { return }
            offset += sent
        }
    }

    func send(_ text: String) { send(Array(text.utf8)) }

    /// One datagram (UDP), or whatever one read returns (TCP); nil on timeout or close.
    func receiveOnce(max: Int = 65536) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: max)
        let count = recv(fd, &buffer, max, 0)
        return count > 0 ? Array(buffer[0..<count]) : nil
    }

    /// Exactly `count` bytes (buffered reads), or nil if the peer closed or went quiet first.
    func receive(exactly count: Int) -> [UInt8]? {
        while received.count < count {
            guard let more = receiveOnce() else { return nil }
            received += more
        }
        defer { received.removeFirst(count) }
        return Array(received[0..<count])
    }

    /// Bytes up to and including `delimiter` (e.g. the blank line ending an HTTP head).
    func receive(through delimiter: String) -> String? {
        let marker = Array(delimiter.utf8)
        while true {
            if let range = find(marker) {
                let head = Array(received[0..<range])
                received.removeFirst(range)
                return String(decoding: head, as: UTF8.self)
            }
            guard let more = receiveOnce() else { return nil }
            received += more
        }
    }

    /// Everything until the peer closes (or the read times out).
    func receiveAll() -> [UInt8] {
        while let more = receiveOnce() { received += more }
        defer { received.removeAll() }
        return received
    }

    private func find(_ marker: [UInt8]) -> Int? {
        guard received.count >= marker.count else { return nil }
        for start in 0...(received.count - marker.count) where received[start..<(start + marker.count)].elementsEqual(marker) {
            return start + marker.count
        }
        return nil
    }
}
