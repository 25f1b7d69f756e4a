#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// Where access-log lines go: stdout or a file opened for appending. Event loops hand over whole
/// buffers of lines; the writes happen on one serial queue, so a slow disk never blocks a loop and
/// lines from different loops never interleave mid-line.
public final class AccessLogWriter: Sendable {
    public struct OpenError: Error, CustomStringConvertible {
        public var path: String
        public var code: Int32
        public var description: String { "cannot open access log \(path): \(String(cString: strerror(code)))" }
    }

    private let fd: Int32
    private let ownsDescriptor: Bool
    private let queue = DispatchQueue(label: "archway.access-log")

    /// `destination`: "stdout", or a file path (created if missing, appended to).
    public init(destination: String) throws {
        if destination == "stdout" || destination == "-" {
            fd = STDOUT_FILENO
            ownsDescriptor = false
        } else {
            let opened = open(destination, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            guard opened >= 0 else { throw OpenError(path: destination, code: errno) }
            fd = opened
            ownsDescriptor = true
        }
    }

    public func write(_ bytes: [UInt8]) {
        let fd = self.fd
        queue.async {
            bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let written = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        return  // a full disk must not take the gateway down; the lines are lost
                    }
                    offset += written
                }
            }
        }
    }

    /// Waits for every handed-over line to be written.
    public func flush() { queue.sync {} }

    deinit {
        queue.sync {}
        if ownsDescriptor { close(fd) }
    }
}
