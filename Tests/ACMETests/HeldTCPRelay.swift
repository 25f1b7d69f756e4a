import PebbleLab
import Foundation
import Glibc

/// A loopback TCP relay to `127.0.0.1:target` that holds each connection it accepts until the test
/// lets it through: put between the CA and archway, it keeps a TLS-ALPN-01 challenge pending for as
/// long as the test needs to look at what archway offers meanwhile. Plain sockets and threads, since
/// the relayed bytes are TLS the relay never reads.
final class HeldTCPRelay: @unchecked Sendable {
    let port: Int
    private let target: Int
    private let listener: Int32
    private let state = NSCondition()
    private var holding = true
    private var arrivals = 0
    private var stopped = false

    init(to target: Int) throws {
        self.target = target
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PebbleError.notServing("socket() failed") }
        var address = Self.loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound, listen(fd, 16) == 0 else { close(fd); throw PebbleError.notServing("bind() failed") }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// Connections accepted so far.
    var accepted: Int { state.withLock { arrivals } }

    /// Lets every held connection (and every later one) through.
    func release() { state.withLock { holding = false; state.broadcast() } }

    /// Holds the connections that arrive from now on, and counts afresh.
    func hold() { state.withLock { holding = true; arrivals = 0 } }

    func stop() {
        state.withLock { stopped = true; holding = false; state.broadcast() }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            state.withLock { arrivals += 1 }
            Thread.detachNewThread { [self] in relay(client) }
        }
    }

    private func relay(_ client: Int32) {
        state.withLock { while holding && !stopped { state.wait() } }
        let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = Self.loopback(port: target)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected, !state.withLock({ stopped }) else { close(upstream); close(client); return }
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread { Self.pump(from: upstream, to: client); done.signal() }
        Self.pump(from: client, to: upstream)
        done.wait()
        close(upstream)
        close(client)
    }

    /// Copies until the source ends, then ends the destination's writing half.
    private static func pump(from source: Int32, to destination: Int32) {
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            var sent = 0
            while sent < count {
                let written = buffer.withUnsafeBytes { write(destination, $0.baseAddress! + sent, count - sent) }
                guard written > 0 else { shutdown(destination, Int32(SHUT_WR)); return }
                sent += written
            }
        }
        shutdown(destination, Int32(SHUT_WR))
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return address
    }
}
