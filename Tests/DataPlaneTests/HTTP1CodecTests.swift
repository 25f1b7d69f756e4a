@testable import DataPlane
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// The general path's HTTP/1 codec for backends (`HTTP1RequestWriter`, `HTTP1ResponseReader`)
/// against NIOHTTP1's encoder and decoder, which it replaced: the same bytes out for the same request
/// parts, the same parts out for the same response bytes, however the bytes are split into reads.
@Suite struct HTTP1CodecTests {
    /// What a response reads as, in a form two readers can be compared on.
    struct Reading: Equatable, CustomStringConvertible {
        var heads: [String] = []
        var body: [UInt8] = []
        var trailers: [String]?
        var ended = false
        var description: String { "heads \(heads) body \(String(decoding: body, as: UTF8.self).debugDescription) trailers \(trailers.map { "\($0)" } ?? "none") ended \(ended)" }

        mutating func add(_ part: HTTPClientResponsePart) {
            switch part {
            case .head(let head):
                // Whitespace after a value is not part of it (RFC 9110 §5.5); llhttp keeps it, archway
                // does not, so values are compared without it.
                heads.append("\(head.version) \(head.status.code) \(head.status.reasonPhrase) "
                             + head.headers.map { "\($0.name)=\($0.value.trimmingTrailingWhitespace)" }.joined(separator: ","))
            case .body(var buffer): body += buffer.readBytes(length: buffer.readableBytes)!
            case .end(let fields):
                trailers = fields.map { $0.map { "\($0.name)=\($0.value.trimmingTrailingWhitespace)" } }
                ended = true
            }
        }
    }

    static let responses: [(method: HTTPMethod, bytes: String)] = [
        (.GET, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b  \r\n\r\nhello"),
        (.GET, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;ext=\"q\"\r\n wo\r\n0\r\n\r\n"),
        (.GET, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-sum\r\n\r\n2\r\nab\r\n0\r\nX-Sum: 9\r\nX-More:  z\r\n\r\n"),
        (.HEAD, "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n"),
        (.GET, "HTTP/1.1 204 No Content\r\nServer: s\r\n\r\n"),
        (.GET, "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n"),
        (.GET, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        (.POST, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
        (.GET, "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nold"),
        (.GET, "HTTP/1.1 404 \r\nContent-Length: 1\r\n\r\nx"),
    ]

    static func reader(_ method: HTTPMethod, _ bytes: [UInt8], splitAt cuts: [Int]) -> Reading {
        var reader = HTTP1ResponseReader(requestIsHEAD: method == .HEAD)
        var reading = Reading()
        var start = 0
        for end in cuts + [bytes.count] where end >= start {
            for event in reader.read(ByteBuffer(bytes: bytes[start..<end])) {
                switch event {
                case .head(let head): reading.add(.head(head))
                case .body(let body): reading.add(.body(body))
                case .end(let trailers): reading.add(.end(trailers))
                case .rest, .malformed: Issue.record("\(event)")
                }
            }
            start = end
        }
        return reading
    }

    static func nio(_ method: HTTPMethod, _ bytes: [UInt8]) throws -> Reading {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHTTPClientHandlers()
        try channel.writeOutbound(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: method, uri: "/")))
        try channel.writeOutbound(HTTPClientRequestPart.end(nil))
        try channel.writeInbound(ByteBuffer(bytes: bytes))
        var reading = Reading()
        while let part = try channel.readInbound(as: HTTPClientResponsePart.self) {
            // NIO hands interim heads on; the general path skips them, so they are not compared.
            if case .head(let head) = part, head.status.code < 200 { continue }
            reading.add(part)
        }
        return reading
    }

    @Test func responsesReadAsNIOReadsThem() throws {
        for (method, text) in Self.responses {
            let bytes = Array(text.utf8)
            let expected = try Self.nio(method, bytes)
            #expect(expected.ended, "NIO did not end \(text.debugDescription)")
            for cut in 0...bytes.count {
                let reading = Self.reader(method, bytes, splitAt: [cut])
                #expect(reading == expected, "\(text.debugDescription) split at \(cut): \(reading) vs \(expected)")
            }
            // Every byte its own read.
            #expect(Self.reader(method, bytes, splitAt: Array(1..<bytes.count)) == expected, "\(text.debugDescription) byte by byte")
        }
    }

    @Test func aBodyReadUntilCloseEndsWhenTheBackendCloses() {
        var reader = HTTP1ResponseReader(requestIsHEAD: false)
        let events = reader.read(ByteBuffer(string: "HTTP/1.1 200 OK\r\n\r\nstream"))
        #expect(events.count == 2 && !reader.isDone && !reader.reusable)
        guard case .end(nil)? = reader.closed().first else { Issue.record("no end at close"); return }
        #expect(reader.isDone)
        // A response cut short by the close is not ended: the exchange sees the close.
        var short = HTTP1ResponseReader(requestIsHEAD: false)
        _ = short.read(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc"))
        #expect(short.closed().isEmpty && !short.isDone)
    }

    @Test func whatIsNotAResponseIsMalformed() {
        for text in ["HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n",
                     "SSH-2.0-OpenSSH\r\n",
                     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"] {
            var reader = HTTP1ResponseReader(requestIsHEAD: false)
            let events = reader.read(ByteBuffer(string: text))
            guard case .malformed? = events.last else { Issue.record("\(text.debugDescription) read as \(events)"); return }
        }
    }

    @Test func bytesAfterTheResponseAreTheRest() {
        var upgrade = HTTP1ResponseReader(requestIsHEAD: false)
        let events = upgrade.read(ByteBuffer(bytes: Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n".utf8) + [0x81, 2, 0x68, 0x69]))
        guard events.count == 2, case .head(let head) = events[0], case .rest(let rest) = events[1] else { Issue.record("\(events)"); return }
        #expect(head.status == .switchingProtocols && rest.readableBytes == 4 && !upgrade.reusable)
        var extra = HTTP1ResponseReader(requestIsHEAD: false)
        let more = extra.read(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n"))
        guard case .end? = more.dropLast().last, case .rest? = more.last else { Issue.record("\(more)"); return }
    }

    static func written(_ parts: [HTTPClientRequestPart]) -> [UInt8] {
        var writer = HTTP1RequestWriter()
        var bytes: [UInt8] = []
        for part in parts {
            writer.encode(part, allocator: ByteBufferAllocator()) { buffer in bytes += buffer.readableBytesView }
        }
        return bytes
    }

    static func nioWritten(_ parts: [HTTPClientRequestPart]) throws -> [UInt8] {
        let channel = EmbeddedChannel(handler: HTTPRequestEncoder())
        for part in parts { try channel.writeOutbound(part) }
        var bytes: [UInt8] = []
        while let buffer = try channel.readOutbound(as: IOData.self) {
            guard case .byteBuffer(let buffer) = buffer else { continue }
            bytes += buffer.readableBytesView
        }
        return bytes
    }

    @Test func requestsWrittenAsNIOWritesThem() throws {
        let body = HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(string: "0123456789abcdefg")))
        func head(_ method: HTTPMethod, _ fields: HTTPHeaders, version: HTTPVersion = .http1_1) -> HTTPClientRequestPart {
            .head(HTTPRequestHead(version: version, method: method, uri: "/a?b=1", headers: ["host": "x"] + fields))
        }
        let cases: [[HTTPClientRequestPart]] = [
            [head(.GET, [:]), .end(nil)],
            [head(.POST, [:]), body, body, .end(nil)],
            [head(.POST, [:]), body, .end(["x-sum": "1"])],
            [head(.PUT, ["content-length": "17", "transfer-encoding": "chunked"]), body, .end(nil)],
            [head(.DELETE, ["transfer-encoding": "chunked"]), body, .end(nil)],
            [head(.PATCH, [:], version: .http1_0), body, .end(nil)],
            [head(.TRACE, ["content-length": "3"]), .end(nil)],
            [head(.OPTIONS, ["content-length": "0"]), .end(nil)],
        ]
        for parts in cases {
            #expect(Self.written(parts) == (try Self.nioWritten(parts)), "\(parts)")
        }
    }
}

private func + (lhs: HTTPHeaders, rhs: HTTPHeaders) -> HTTPHeaders {
    var headers = lhs
    headers.add(contentsOf: rhs)
    return headers
}

private extension String {
    var trimmingTrailingWhitespace: String {
        var value = Substring(self)
        while value.last == " " || value.last == "\t" { value.removeLast() }
        return String(value)
    }
}
