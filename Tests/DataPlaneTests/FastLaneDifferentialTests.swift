@testable import DataPlane
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// The fast lane's request scanner against llhttp (NIOHTTP1's parser) on the same bytes. The lane
/// forwards what it accepts as bytes, so whatever it accepts llhttp must accept too, as the same
/// request: same method, target and fields, and a body framed the same way, ending at the same byte
/// (a message the two frame differently is how requests get smuggled). Refusing what llhttp accepts is allowed: such requests take the general path.
@Suite struct FastLaneDifferentialTests {
    /// xorshift64*: deterministic, so a failure names a case that can be replayed.
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12; state ^= state << 25; state ^= state >> 27
            return state &* 2685821657736338717
        }
        mutating func pick<T>(_ items: [T]) -> T { items[Int(next() % UInt64(items.count))] }
        mutating func chance(_ percent: UInt64) -> Bool { next() % 100 < percent }
    }

    static let methods = ["GET", "HEAD", "DELETE", "OPTIONS", "POST", "PUT", "get", "G\tT", "GET ", "PRI", "CONNECT", "M-SEARCH"]
    static let targets = ["/", "/a/b?x=1&y=%20", "/%2e%2e/x", "*", "http://h/", "/a b", "/a\u{7f}", "/\u{e9}", "//x", "/?", "/a#f"]
    static let versions = ["HTTP/1.1", "HTTP/1.0", "HTTP/1.1 ", "http/1.1", "HTTP/2.0", "HTTP/1.10", "HTTP/11"]
    static let fields = [
        "Host: a.example.com", "host:b", "HOST: c:8080", "Host : a", "Host: a b", "Host:", "Host: [::1]:80",
        "Accept: */*", "User-Agent: t/1.0", "X-Env:  canary", "X-A:\tb", "X-B: \u{1}", "X-C: é", "X:", ": v", "X Y: z",
        "Content-Length: 0", "Content-Length: 5", "Content-Length: 0, 0", "Content-Length: +0", "content-length:00",
        "Content-Length: 012", "Content-Length: 5 5", "Content-Length: -1", "Content-Length: 99999999999999999999",
        "Transfer-Encoding: chunked", "Transfer-Encoding: identity", "Transfer-Encoding: Chunked", "transfer-encoding:chunked",
        "Transfer-Encoding: chunked, chunked", "Transfer-Encoding: gzip, chunked", "Transfer-Encoding: chunked ", "TE: trailers", "Connection: close", "Connection: keep-alive, Upgrade",
        "Upgrade: websocket", "Expect: 100-continue", "Keep-Alive: timeout=5", "X-Request-Id: r-1", "traceparent: 00-abc-def-01",
        "X-Forwarded-For: 1.2.3.4", "Forwarded: for=x", " X-Fold: y", "\tX-Fold: y", "X-Tenant: t1",
    ]
    static let endings = ["\r\n", "\r\n", "\r\n", "\r\n", "\n", "\r", "\r\r\n", " \r\n"]

    static let plainFields = ["Accept: */*", "User-Agent: t/1.0", "X-Env:  canary ", "X-A:\tb", "Keep-Alive: timeout=5",
                              "X-Request-Id: r-1", "traceparent: 00-abc-def-01", "X-Tenant: t1", "Connection: keep-alive", "TE: trailers"]

    /// Mostly a request the lane would take (so both sides are exercised), with a few parts swapped
    /// for the awkward ones above and, sometimes, one byte changed anywhere.
    static func request(_ random: inout Generator) -> [UInt8] {
        var method = random.pick(["GET", "HEAD", "DELETE", "OPTIONS"]), target = random.pick(["/", "/a/b?x=1&y=%20", "/x.css"])
        var version = "HTTP/1.1"
        var lines = ["Host: \(random.pick(["a.example.com", "b:8080", "[::1]:80"]))"]
        for _ in 0..<(random.next() % 4) { lines.insert(random.pick(plainFields), at: Int(random.next() % UInt64(lines.count + 1))) }
        if random.chance(25) { method = random.pick(methods) }
        if random.chance(20) { target = random.pick(targets) }
        if random.chance(15) { version = random.pick(versions) }
        for _ in 0..<(random.chance(50) ? random.next() % 3 : 0) {
            lines.insert(random.pick(fields), at: Int(random.next() % UInt64(lines.count + 1)))
        }
        var endings = Array(repeating: "\r\n", count: lines.count + 2)
        if random.chance(10) { endings[Int(random.next() % UInt64(endings.count))] = random.pick(Self.endings) }
        var text = "\(method) \(target) \(version)\(endings[0])"
        for (index, line) in lines.enumerated() { text += line + endings[index + 1] }
        text += endings[lines.count + 1]
        var bytes = Array(text.utf8)
        if random.chance(10) {
            // One byte changed anywhere: the scanner must not accept anything llhttp reads otherwise.
            bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next())
        }
        return bytes
    }

    /// What llhttp makes of the bytes: the parts it decodes, or nil when it refuses them.
    static func llhttp(_ bytes: [UInt8]) -> [HTTPServerRequestPart]? {
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish() }
        guard (try? channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes)))) != nil,
              (try? channel.writeInbound(ByteBuffer(bytes: bytes))) != nil else { return nil }
        var parts: [HTTPServerRequestPart] = []
        while let part = try? channel.readInbound(as: HTTPServerRequestPart.self) { parts.append(part) }
        return parts
    }

    /// A body for the framing the scanner read, sometimes with a request pipelined after it.
    static func body(for framing: BodyFraming, _ random: inout Generator) -> (wire: [UInt8], content: [UInt8]) {
        switch framing {
        case .length(let length):
            let content = (0..<length).map { UInt8(truncatingIfNeeded: 97 + $0 % 26) }
            return (content, content)
        case .chunked:
            var wire: [UInt8] = [], content: [UInt8] = []
            for _ in 0..<(random.next() % 3) {
                let size = Int(random.next() % 20) + 1
                let data = (0..<size).map { UInt8(truncatingIfNeeded: 65 + $0 % 26) }
                wire += Array((String(size, radix: 16) + (random.chance(20) ? ";ext=1" : "") + "\r\n").utf8) + data + Array("\r\n".utf8)
                content += data
            }
            wire += Array((random.chance(20) ? "0\r\nX-Trailer: t\r\n\r\n" : "0\r\n\r\n").utf8)
            return (wire, content)
        case .none, .untilClose:
            return ([], [])
        }
    }

    @Test func whatTheScannerAcceptsLLHTTPReadsAsTheSameRequest() {
        let scanner = RequestHeadScanner(maxHeaderBytes: 64 * 1024, maxHeaderCount: 100, maxURIBytes: 16 * 1024)
        var random = Generator(state: 0x9E37_79B9_7F4A_7C15)
        var accepted = 0, withBody = 0
        for index in 0..<20_000 {
            let bytes = Self.request(&random)
            guard case .head(let head) = bytes.withUnsafeBytes({ scanner.scan($0) }) else { continue }
            accepted += 1
            let what = "case \(index): \(String(decoding: bytes, as: UTF8.self).debugDescription)"
            let (body, content) = Self.body(for: head.body, &random)
            if !body.isEmpty { withBody += 1 }
            // Where the lane's own framing says the body ends; llhttp must end the message there too.
            var follower = BodyFollower(head.body)
            guard let (forwarded, rest) = follower.split(ByteBuffer(bytes: body)), rest == nil, follower.ended,
                  forwarded.readableBytes == body.count else {
                Issue.record("the lane does not find the end of the body it framed: \(what)")
                continue
            }
            guard let parts = Self.llhttp(Array(bytes[..<head.length]) + body) else {
                Issue.record("the scanner accepted what llhttp refuses: \(what)")
                continue
            }
            var bodyRead: [UInt8] = []
            for case .body(let chunk) in parts { bodyRead += chunk.readableBytesView }
            guard parts.count >= 2, case .head(let parsed) = parts.first!, case .end = parts.last!, bodyRead == content else {
                Issue.record("llhttp frames it differently (another body, or not complete): \(parts.count) parts, \(what)")
                continue
            }
            #expect(parsed.method.rawValue == head.method && parsed.uri == head.target && parsed.version == .http1_1, "\(what)")
            #expect(parsed.headers.count == head.fieldCount, "field count: \(what)")
            #expect(parsed.headers["host"] == [head.host], "Host: \(what)")
        }
        // The generator must reach the interesting side: enough heads the lane really takes.
        #expect(accepted > 1_000, "only \(accepted) of 20000 generated heads were accepted")
        #expect(withBody > 100, "only \(withBody) accepted heads had a body")
    }
}
