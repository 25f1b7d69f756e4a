@testable import DataPlane
import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// The fast lane's byte path against llhttp (NIOHTTP1's parser) on the same bytes, through the checks
/// in FastLaneOracle that the fuzzers (Fuzz/run) make too. The lane forwards what it accepts as
/// bytes, so whatever it accepts llhttp must accept too, as the same message: same request line and
/// fields and a body ending at the same byte; the same status, forwarded fields and framing; a chunked body ending at the
/// same byte (a message the two frame differently is how requests get smuggled and responses
/// desynchronised). Refusing what llhttp accepts is allowed: such requests take the general path.
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

    @Test func whatTheScannerAcceptsLLHTTPReadsAsTheSameRequest() {
        var random = Generator(state: 0x9E37_79B9_7F4A_7C15)
        var accepted = 0, withBody = 0
        for index in 0..<20_000 {
            let bytes = Self.request(&random)
            guard case .head(let head) = bytes.withUnsafeBytes({ FastLaneOracle.requestScanner.scan($0) }) else { continue }
            accepted += 1
            if head.body != .none { withBody += 1 }
            if let problem = FastLaneOracle.checkRequest(bytes) {
                Issue.record("case \(index): \(problem): \(String(decoding: bytes, as: UTF8.self).debugDescription)")
            }
        }
        // The generator must reach the interesting side: enough heads the lane really takes.
        #expect(accepted > 1_000, "only \(accepted) of 20000 generated heads were accepted")
        #expect(withBody > 100, "only \(withBody) accepted heads had a body")
    }

    static let statusLines = ["HTTP/1.1 200 OK", "HTTP/1.1 204 No Content", "HTTP/1.1 304 Not Modified", "HTTP/1.0 200 OK", "HTTP/1.1 404",
                              "HTTP/1.1 100 Continue", "HTTP/1.1 2000 OK", "HTTP/1.1 099 X", "HTTP/1.1 200  OK ", "HTTP/1.2 200 OK", "HTTP/1.1 20 OK"]
    static let responseFields = [
        "Content-Length: 3", "Content-Length: 0", "Content-Length: 3 ", "Content-Length: 3\t", "Content-Length: +3", "Content-Length: 3, 3",
        "Transfer-Encoding: chunked", "Transfer-Encoding: Chunked ", "Transfer-Encoding: chunked\t", "Transfer-Encoding: gzip, chunked",
        "Connection: close", "Connection: keep-alive", "Connection: close, X-A", "Connection: content-length", "Connection: transfer-encoding",
        "Keep-Alive: timeout=5", "X-A: 1", "Vary: Accept", "Trailer: X-T", "Proxy-Authenticate: Basic", "Upgrade: h2c", " X-Fold: y",
        "X-B: a\u{1}b", "X-C: caf\u{e9}", "Connection:\u{59c}x, X-A",
    ]

    /// A response head llhttp (mostly) takes, with awkward status lines, framing fields and
    /// Connection names mixed in and, sometimes, one byte changed anywhere.
    static func response(_ random: inout Generator) -> [UInt8] {
        var lines = [random.chance(80) ? "HTTP/1.1 200 OK" : random.pick(statusLines)]
        for _ in 0..<(random.next() % 5) { lines.append(random.pick(responseFields)) }
        var text = lines.map { $0 + (random.chance(3) ? "\n" : "\r\n") }.joined() + "\r\n"
        text += random.pick(["", "abc", "3\r\nabc\r\n0\r\n\r\n"])
        var bytes = Array(text.utf8)
        if random.chance(10) { bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next()) }
        return bytes
    }

    @Test func whatTheResponseScannerAcceptsLLHTTPFramesTheSameWay() {
        var random = Generator(state: 0x2545_F491_4F6C_DD1D)
        var accepted = 0
        for index in 0..<6_000 {
            let bytes = Self.response(&random)
            let isHEAD = random.chance(15)
            guard case .head = bytes.withUnsafeBytes({ ResponseHeadScanner().scan($0, requestIsHEAD: isHEAD) }) else { continue }
            accepted += 1
            if let problem = FastLaneOracle.checkResponse(bytes, requestIsHEAD: isHEAD) {
                Issue.record("case \(index)\(isHEAD ? " (HEAD)" : ""): \(problem): \(String(decoding: bytes, as: UTF8.self).debugDescription)")
            }
        }
        #expect(accepted > 1_500, "only \(accepted) of 6000 generated responses were accepted")
    }

    @Test func whereTheChunkedTrackerEndsABodyLLHTTPEndsItToo() {
        var random = Generator(state: 0xD1B5_4A32_D192_ED03)
        let chunks = ["5\r\nhello\r\n", "a;x=1\r\n0123456789\r\n", "3;q=\"a b\"\r\nabc\r\n", "1;e;f=g\r\nx\r\n", "0A\r\n0123456789\r\n"]
        let awkward = ["3;a b\r\nabc\r\n", "0\r\n", "\r\n", "X-T: v\r\n", "X\\T: v\r\n", " folded\r\n", "3\nabc\n", "3 \r\nabc\r\n",
                       "3;a=\"\\\"\"\r\nabc\r\n", "fffffffffffffff\r\n", "3\r\nabcd\r\n"]
        var ended = 0
        for index in 0..<6_000 {
            var text = ""
            for _ in 0..<(1 + random.next() % 4) { text += random.chance(85) ? random.pick(chunks) : random.pick(awkward) }
            if random.chance(60) { text += "0\r\n" + (random.chance(30) ? "X-T: v\r\n" : "") + "\r\n" }
            var bytes = Array(text.utf8)
            if random.chance(15) { bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next()) }
            var tracker = ChunkedBodyTracker()
            if case .ended = bytes.withUnsafeBytes({ tracker.consume($0) }) { ended += 1 }
            if let problem = FastLaneOracle.checkChunked(bytes) {
                Issue.record("case \(index): \(problem): \(String(decoding: bytes, as: UTF8.self).debugDescription)")
            }
        }
        #expect(ended > 1_500, "only \(ended) of 6000 generated bodies ended")
    }

    /// Fuzz/corpus: the fuzzers' seeds and every input that once broke one of their properties,
    /// through the same checks (FastLaneOracle) in every test run.
    static func corpus(_ target: String) throws -> [(name: String, bytes: [UInt8])] {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Fuzz/corpus/\(target)").standardizedFileURL
        return try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted().map { name in
            (name, Array(try Data(contentsOf: directory.appendingPathComponent(name))))
        }
    }

    @Test func theFuzzCorpusReadsAsLLHTTPReadsIt() throws {
        var accepted = (requests: 0, responses: 0, bodies: 0)
        for (name, bytes) in try Self.corpus("request-head") {
            if case .head = bytes.withUnsafeBytes({ FastLaneOracle.requestScanner.scan($0) }) { accepted.requests += 1 }
            if let problem = FastLaneOracle.checkRequest(bytes) { Issue.record("request-head/\(name): \(problem)") }
        }
        for (name, bytes) in try Self.corpus("response-head") {
            for isHEAD in [false, true] {
                if case .head = bytes.withUnsafeBytes({ ResponseHeadScanner().scan($0, requestIsHEAD: isHEAD) }) { accepted.responses += 1 }
                if let problem = FastLaneOracle.checkResponse(bytes, requestIsHEAD: isHEAD) {
                    Issue.record("response-head/\(name)\(isHEAD ? " (HEAD)" : ""): \(problem)")
                }
            }
        }
        for (name, bytes) in try Self.corpus("chunked-body") {
            var tracker = ChunkedBodyTracker()
            if case .ended = bytes.withUnsafeBytes({ tracker.consume($0) }) { accepted.bodies += 1 }
            if let problem = FastLaneOracle.checkChunked(bytes) { Issue.record("chunked-body/\(name): \(problem)") }
        }
        // The corpus must keep inputs the byte path takes, or these checks check nothing.
        #expect(accepted.requests >= 5 && accepted.responses >= 10 && accepted.bodies >= 5, "\(accepted)")
    }
}
