import NIOCore
import Observability
import RoutingTable
#if canImport(Glibc)
import Glibc
#endif

/// One event loop's share of the access log: lines are appended to a buffer owned by the loop and
/// handed to the writer when it passes 32 KiB, or at the latest every 200 ms.
final class AccessLog {
    private let writer: AccessLogWriter
    private var buffer: [UInt8] = []
    private var flushScheduled = false
    private let eventLoop: any EventLoop
    /// The timestamp's "YYYY-MM-DDTHH:MM:SS" part, cached for the second it belongs to.
    private var cachedSecond = -1
    private var cachedPrefix: [UInt8] = []

    init(writer: AccessLogWriter, eventLoop: any EventLoop) {
        self.writer = writer
        self.eventLoop = eventLoop
        buffer.reserveCapacity(40 * 1024)
    }

    struct Entry {
        var requestID: String
        var gateway: String
        var namespace: String
        var route: String
        var backend: String
        var hostname: String
        var path: Substring
        var method: String
        var status: Int
        var durationNanos: Int64
        var upstreamNanos: Int64?
        var environment: String?
        var tenant: String?
        var client: String
        var bytesReceived: Int
        var bytesSent: Int
        var upstream: Endpoint?
        var retries: Int
        var refusedBy: String?
    }

    /// The seeds' field names first, then archway's additions.
    func append(_ entry: Entry) {
        timestamp()
        field("route_name", entry.route)
        field("backend_name", entry.backend)
        field("gateway_name", entry.gateway)
        field("namespace", entry.namespace)
        field("hostname", entry.hostname)
        field("path", entry.path)
        field("method", entry.method)
        number("status_code", entry.status)
        milliseconds("duration_ms", entry.durationNanos)
        optional("environment", entry.environment)
        optional("tenant", entry.tenant)
        field("request_id", entry.requestID)
        field("client_address", entry.client)
        number("bytes_received", entry.bytesReceived)
        number("bytes_sent", entry.bytesSent)
        if let upstream = entry.upstream { address("upstream_address", upstream) } else { raw("upstream_address", "null") }
        if let nanos = entry.upstreamNanos { milliseconds("upstream_duration_ms", nanos) } else { raw("upstream_duration_ms", "null") }
        number("retry_count", entry.retries)
        // Only on answers an edge policy gave: which policy and why, kept from the client's body.
        if let refusedBy = entry.refusedBy { field("refused_by", refusedBy) }
        buffer.append(UInt8(ascii: "}"))
        buffer.append(UInt8(ascii: "\n"))
        if buffer.count >= 32 * 1024 {
            flush()
        } else if !flushScheduled {
            flushScheduled = true
            eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(200)) { self.flush() }
        }
    }

    func flush() {
        flushScheduled = false
        guard !buffer.isEmpty else { return }
        writer.write(buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    private func timestamp() {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let second = Int(now.tv_sec)
        if second != cachedSecond {
            var seconds = time_t(second)
            var parts = tm()
            gmtime_r(&seconds, &parts)
            let text = "\(parts.tm_year + 1900)-\(Self.two(parts.tm_mon + 1))-\(Self.two(parts.tm_mday))T\(Self.two(parts.tm_hour)):\(Self.two(parts.tm_min)):\(Self.two(parts.tm_sec))"
            cachedPrefix = Array("{\"timestamp\":\"\(text)".utf8)
            cachedSecond = second
        }
        buffer.append(contentsOf: cachedPrefix)
        let millis = Int(now.tv_nsec) / 1_000_000
        buffer.append(UInt8(ascii: "."))
        buffer.append(UInt8(ascii: "0") + UInt8(millis / 100))
        buffer.append(UInt8(ascii: "0") + UInt8(millis / 10 % 10))
        buffer.append(UInt8(ascii: "0") + UInt8(millis % 10))
        buffer.append(contentsOf: "Z\"".utf8)
    }

    private static func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }

    private func key(_ name: StaticString) {
        buffer.append(contentsOf: ",\"".utf8)
        buffer.append(contentsOf: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        buffer.append(contentsOf: "\":".utf8)
    }

    private func raw(_ name: StaticString, _ value: String) {
        key(name)
        buffer.append(contentsOf: value.utf8)
    }

    private func number(_ name: StaticString, _ value: Int) {
        key(name)
        digits(value)
    }

    /// A non-negative integer's digits (a negative one as 0: no field here is ever below it), written
    /// without the String a conversion would allocate on every request.
    private func digits(_ value: Int) {
        var value = max(0, value)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { reversed in
            var count = 0
            repeat {
                reversed[count] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
                count += 1
            } while value > 0
            for index in stride(from: count - 1, through: 0, by: -1) { buffer.append(reversed[index]) }
        }
    }

    /// "host:port" of an upstream, as one JSON string.
    private func address(_ name: StaticString, _ endpoint: Endpoint) {
        key(name)
        buffer.append(UInt8(ascii: "\""))
        escaped(endpoint.host)
        buffer.append(UInt8(ascii: ":"))
        digits(endpoint.port)
        buffer.append(UInt8(ascii: "\""))
    }

    private func milliseconds(_ name: StaticString, _ nanos: Int64) {
        key(name)
        let micros = max(0, nanos / 1000)
        digits(Int(micros / 1000))
        buffer.append(UInt8(ascii: "."))
        let fraction = micros % 1000
        buffer.append(UInt8(ascii: "0") + UInt8(fraction / 100))
        buffer.append(UInt8(ascii: "0") + UInt8(fraction / 10 % 10))
        buffer.append(UInt8(ascii: "0") + UInt8(fraction % 10))
    }

    private func optional(_ name: StaticString, _ value: String?) {
        if let value { field(name, value) } else { raw(name, "null") }
    }

    /// A JSON string: quotes, backslashes and control characters escaped; anything else as UTF-8.
    private func field<S: StringProtocol>(_ name: StaticString, _ value: S) {
        key(name)
        buffer.append(UInt8(ascii: "\""))
        escaped(value)
        buffer.append(UInt8(ascii: "\""))
    }

    /// The usual value (nothing to escape) is appended in one copy; the rest byte by byte.
    private func escaped<S: StringProtocol>(_ value: S) {
        let utf8 = value.utf8
        if !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            return buffer.append(contentsOf: utf8)
        }
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "\""): buffer.append(contentsOf: "\\\"".utf8)
            case UInt8(ascii: "\\"): buffer.append(contentsOf: "\\\\".utf8)
            case 0..<0x20:
                buffer.append(contentsOf: "\\u00".utf8)
                buffer.append(Self.hex[Int(byte >> 4)])
                buffer.append(Self.hex[Int(byte & 0xF)])
            default: buffer.append(byte)
            }
        }
    }

    private static let hex = Array("0123456789abcdef".utf8)
}
