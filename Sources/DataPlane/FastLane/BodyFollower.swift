import NIOCore

/// How an HTTP/1 message body is delimited (RFC 9112 §6).
enum BodyFraming: Equatable {
    case none
    case length(Int)
    case chunked
    /// No length and not chunked: a response body that ends when the backend closes (RFC 9112 §6.3).
    case untilClose
}

/// Follows a message body as its bytes stream past, to tell where it ends: the one framing rule of
/// the fast lane, for the request bodies it forwards and the responses it relays. The bytes
/// themselves go on unchanged (a chunked body keeps its framing).
struct BodyFollower {
    let framing: BodyFraming
    private var remaining = 0
    private var chunks = ChunkedBodyTracker()
    private(set) var ended: Bool
    /// Body bytes so far, chunk framing excluded (what the access log's bytes_received counts).
    var contentBytes: Int {
        switch framing {
        case .length(let length): length - remaining
        case .chunked: chunks.dataBytes
        case .none, .untilClose: 0
        }
    }

    init(_ framing: BodyFraming) {
        self.framing = framing
        switch framing {
        case .none: ended = true
        case .length(let length): remaining = length; ended = length == 0
        case .chunked, .untilClose: ended = false
        }
    }

    /// `buffer` split into the bytes that belong to the body and those past its end (nil when there
    /// are none); nil when a chunked body is malformed.
    /// `pieces` hears where a chunked body's data and trailers lie in `buffer`.
    mutating func split(_ buffer: ByteBuffer, pieces: (ChunkedBodyTracker.Piece) -> Void = { _ in }) -> (body: ByteBuffer, rest: ByteBuffer?)? {
        guard !ended else { return (ByteBuffer(), buffer.readableBytes > 0 ? buffer : nil) }
        switch framing {
        case .none:
            return (ByteBuffer(), buffer)
        case .length:
            let taken = min(remaining, buffer.readableBytes)
            remaining -= taken
            ended = remaining == 0
            return Self.cut(buffer, at: taken)
        case .chunked:
            switch buffer.withUnsafeReadableBytes({ chunks.consume($0, pieces: pieces) }) {
            case .needMore:
                return (buffer, nil)
            case .ended(let at):
                ended = true
                return Self.cut(buffer, at: at)
            case .malformed:
                return nil
            }
        case .untilClose:
            return (buffer, nil)
        }
    }

    private static func cut(_ buffer: ByteBuffer, at offset: Int) -> (body: ByteBuffer, rest: ByteBuffer?) {
        guard offset < buffer.readableBytes else { return (buffer, nil) }
        var rest = buffer
        let body = rest.readSlice(length: offset)!
        return (body, rest)
    }
}
