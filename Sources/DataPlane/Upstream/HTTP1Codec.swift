import NIOCore
import NIOHTTP1

/// The general path's request parts as HTTP/1.1 bytes for a backend. Framing is chosen as NIO's
/// encoder chose it before the general path moved onto the lane's raw connections: a Content-Length
/// is kept (and a Transfer-Encoding beside it dropped); POST, PUT and PATCH without one are sent
/// chunked; other methods are chunked only when they say so; TRACE carries no body at all.
struct HTTP1RequestWriter {
    private var chunked = false

    /// Writes `part` as one or more buffers (`write` is called for each; a chunk's data is not copied).
    mutating func encode(_ part: HTTPClientRequestPart, allocator: ByteBufferAllocator, _ write: (ByteBuffer) -> Void) {
        switch part {
        case .head(let head):
            var headers = head.headers
            chunked = Self.frame(method: head.method, version: head.version, headers: &headers)
            var buffer = allocator.buffer(capacity: 256)
            buffer.writeString(head.method.rawValue)
            buffer.writeStaticString(" ")
            buffer.writeString(head.uri)
            buffer.writeStaticString(head.version == .http1_0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n")
            Self.writeFields(headers, into: &buffer)
            write(buffer)
        case .body(.byteBuffer(let data)):
            guard data.readableBytes > 0 else { return }
            guard chunked else { return write(data) }
            var size = allocator.buffer(capacity: 18)
            size.writeString(String(data.readableBytes, radix: 16))
            size.writeStaticString("\r\n")
            write(size)
            write(data)
            write(allocator.buffer(staticString: "\r\n"))
        case .body(.fileRegion):
            preconditionFailure("the general path forwards bodies as bytes")
        case .end(let trailers):
            guard chunked else { return }
            var end = allocator.buffer(capacity: 5)
            end.writeStaticString("0\r\n")
            Self.writeFields(trailers ?? [:], into: &end)
            write(end)
        }
    }

    /// Field lines and the empty line that ends a head or a trailer section.
    private static func writeFields(_ fields: HTTPHeaders, into buffer: inout ByteBuffer) {
        for (name, value) in fields {
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("\r\n")
    }

    /// Whether the body goes chunked, with the head's framing fields made to say so.
    private static func frame(method: HTTPMethod, version: HTTPVersion, headers: inout HTTPHeaders) -> Bool {
        if method == .TRACE {
            headers.remove(name: "content-length")
            headers.remove(name: "transfer-encoding")
            return false
        }
        if headers.contains(name: "content-length") {
            headers.remove(name: "transfer-encoding")
            return false
        }
        guard version == .http1_1 else { return false }
        if method == .POST || method == .PUT || method == .PATCH {
            headers.replaceOrAdd(name: "transfer-encoding", value: "chunked")
            return true
        }
        return headers.first(name: "transfer-encoding") == "chunked"
    }
}

/// A backend's HTTP/1 response bytes as the parts the general path forwards, read by the lane's own
/// scanners (`ResponseHeadScanner`, `ChunkedBodyTracker`): one reading of a response's framing for
/// both paths. Interim answers are skipped; a 101 ends the reading, the bytes after it belong to the
/// tunnel. Pure: bytes in, events out.
struct HTTP1ResponseReader {
    enum Event {
        case head(HTTPResponseHead)
        case body(ByteBuffer)
        case end(HTTPHeaders?)
        /// Bytes past the end of the response: the start of a tunnel after a 101, else a backend out of step.
        case rest(ByteBuffer)
        case malformed(String)
    }

    private enum State {
        case head(held: ByteBuffer?)
        case body(BodyFollower, trailers: ByteBuffer?)
        case done
    }

    private let requestIsHEAD: Bool
    private var state = State.head(held: nil)
    /// The backend may take another request on this connection once the response has ended.
    private(set) var reusable = false

    init(requestIsHEAD: Bool) { self.requestIsHEAD = requestIsHEAD }

    var isDone: Bool { if case .done = state { true } else { false } }

    mutating func read(_ input: ByteBuffer) -> [Event] {
        var buffer = input
        var events: [Event] = []
        while buffer.readableBytes > 0 {
            switch state {
            case .head(var held):
                let scan = ResponseHeadScanner.finalHead(&buffer, held: &held, requestIsHEAD: requestIsHEAD)
                switch scan {
                case .incomplete:
                    state = .head(held: held)
                    return events
                case .malformed(let reason):
                    state = .done
                    events.append(.malformed(reason))
                    return events
                case .head(let scanned):
                    events.append(.head(Self.responseHead(buffer, scanned)))
                    buffer.moveReaderIndex(forwardBy: scanned.length)
                    reusable = scanned.reusable
                    if scanned.status == 101 {
                        state = .done
                        reusable = false
                    } else {
                        state = .body(BodyFollower(scanned.framing), trailers: nil)
                        endIfComplete(&events, trailers: nil)
                    }
                }
            case .body(var follower, var trailers):
                guard let rest = Self.split(&follower, buffer, trailers: &trailers, into: &events) else {
                    state = .done
                    events.append(.malformed("invalid chunked response body"))
                    return events
                }
                state = .body(follower, trailers: trailers)
                endIfComplete(&events, trailers: trailers)
                buffer = rest ?? ByteBuffer()
            case .done:
                if buffer.readableBytes > 0 { events.append(.rest(buffer)) }
                return events
            }
        }
        return events
    }

    /// The backend closed: a body read until close ends here; any other unfinished response is cut.
    mutating func closed() -> [Event] {
        guard case .body(let follower, _) = state, follower.framing == .untilClose else { return [] }
        state = .done
        return [.end(nil)]
    }

    private mutating func endIfComplete(_ events: inout [Event], trailers: ByteBuffer?) {
        guard case .body(let follower, _) = state, follower.ended else { return }
        state = .done
        let fields = trailers.map(Self.fields)
        events.append(.end(fields?.isEmpty == false ? fields : nil))
    }

    /// The body bytes of `buffer` as events (a chunked body without its framing); returns the bytes
    /// past the body's end (nil inside: none), or nil when a chunked body is malformed.
    private static func split(_ follower: inout BodyFollower, _ buffer: ByteBuffer, trailers: inout ByteBuffer?,
                              into events: inout [Event]) -> ByteBuffer?? {
        guard follower.framing == .chunked else {
            guard let (body, rest) = follower.split(buffer) else { return nil }
            if body.readableBytes > 0 { events.append(.body(body)) }
            return .some(rest)
        }
        var pieces: [ChunkedBodyTracker.Piece] = []
        guard let (_, rest) = follower.split(buffer, pieces: { pieces.append($0) }) else { return nil }
        for piece in pieces {
            switch piece {
            case .data(let range):
                events.append(.body(buffer.getSlice(at: buffer.readerIndex + range.lowerBound, length: range.count)!))
            case .trailer(let range):
                var slice = buffer.getSlice(at: buffer.readerIndex + range.lowerBound, length: range.count)!
                if trailers == nil { trailers = slice } else { trailers!.writeBuffer(&slice) }
            }
        }
        return .some(rest)
    }

    private static func responseHead(_ buffer: ByteBuffer, _ scanned: ScannedResponseHead) -> HTTPResponseHead {
        buffer.withUnsafeReadableBytes { raw in
            let version: HTTPVersion = raw[7] == UInt8(ascii: "0") ? .http1_0 : .http1_1
            let reason = scanned.statusText.count > 4 ? String(decoding: raw[(scanned.statusText.lowerBound + 4)..<scanned.statusText.upperBound], as: UTF8.self) : ""
            return HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: scanned.status, reasonPhrase: reason),
                                    headers: fields(raw, from: scanned.statusText.upperBound + 2))
        }
    }

    /// A trailer section's field lines (checked by the chunk tracker) as headers.
    private static func fields(_ section: ByteBuffer) -> HTTPHeaders {
        section.withUnsafeReadableBytes { fields($0, from: 0) }
    }

    private static func fields(_ raw: UnsafeRawBufferPointer, from start: Int) -> HTTPHeaders {
        var headers = HTTPHeaders()
        FieldLines.forEachLine(raw, from: start) { name, value, _ in
            headers.add(name: String(decoding: UnsafeRawBufferPointer(rebasing: raw[name]), as: UTF8.self),
                        value: String(decoding: UnsafeRawBufferPointer(rebasing: raw[value]), as: UTF8.self))
        }
        return headers
    }
}
