import NIOCore
import NIOHTTP1

/// An answer the gateway gives itself instead of a backend's: a refusal, a redirect, a CORS preflight,
/// an error naming what went wrong.
struct LocalAnswer {
    var status: HTTPResponseStatus
    /// The body a client reads, so it says what happened; one line.
    var message: String
    var headers: [(String, String)] = []
    /// The connection closes after the answer: what came with the request (its framing, a body past
    /// its limit) means nothing later on the connection can be trusted or will be read.
    var closesConnection = false

    init(_ status: HTTPResponseStatus, _ message: String, headers: [(String, String)] = [], closesConnection: Bool = false) {
        self.status = status
        self.message = message
        self.headers = headers
        self.closesConnection = closesConnection
    }

    var body: String { message + "\n" }

    func textHead(version: HTTPVersion, keepAlive: Bool) -> HTTPResponseHead {
        let length = ("content-length", String(body.utf8.count))
        // An answer relayed from elsewhere (a ForwardAuth service's refusal) keeps its own type.
        let typed = headers.contains { $0.0.equalsLowercaseASCII("content-type") }
        var fields = HTTPHeaders(typed ? [length] : [("content-type", "text/plain; charset=utf-8"), length])
        fields.add(contentsOf: headers)
        if !keepAlive { fields.add(name: "connection", value: "close") }
        return HTTPResponseHead(version: version, status: status, headers: fields)
    }

    /// The text answer as HTTP/1.1 bytes, for the fast lane: the head `textHead` makes, written the
    /// way NIO's encoder writes it, then the body.
    func http1Bytes(keepAlive: Bool, allocator: ByteBufferAllocator) -> ByteBuffer {
        let head = textHead(version: .http1_1, keepAlive: keepAlive)
        var out = allocator.buffer(capacity: 192 + message.utf8.count)
        out.writeString("HTTP/1.1 \(head.status.code) \(head.status.reasonPhrase)\r\n")
        for (name, value) in head.headers {
            out.writeString(name)
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeStaticString("\r\n")
        }
        out.writeStaticString("\r\n")
        out.writeString(body)
        return out
    }

    /// For a gRPC call, a trailers-only response: HTTP 200 with grpc-status mapped from the HTTP status
    /// the way gRPC's HTTP mapping does, and the message in grpc-message.
    func grpcResponse(version: HTTPVersion) -> (head: HTTPResponseHead, trailers: HTTPHeaders) {
        let code = switch status.code {
        case 400: 13
        case 401: 16
        case 403: 7
        case 404: 12
        case 429, 502, 503, 504: 14
        default: 2
        }
        let trailers = HTTPHeaders([("grpc-status", String(code)), ("grpc-message", message.addingGRPCPercentEncoding())])
        return (HTTPResponseHead(version: version, status: .ok, headers: HTTPHeaders([("content-type", "application/grpc")])), trailers)
    }
}

extension String {
    /// grpc-message is percent-encoded: everything outside printable ASCII, and '%' itself.
    func addingGRPCPercentEncoding() -> String {
        var result = ""
        for byte in utf8 {
            if byte >= 0x20 && byte <= 0x7e && byte != UInt8(ascii: "%") {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                result += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return result
    }

    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

extension LocalAnswer {
    /// A body that crossed its limit (global, or a BodySize policy's) while streaming: the rest is
    /// unread, so the connection closes. Both paths answer with this.
    static func bodyOverLimit(_ limit: Int) -> LocalAnswer {
        LocalAnswer(.payloadTooLarge, "request body exceeded the limit of \(limit) bytes", closesConnection: true)
    }
}

extension LocalAnswer {
    /// RFC 9110 §10.1.1: a client that asked `Expect: 100-continue` and got a final answer instead of
    /// the 100 may never send its body, so the connection cannot wait for it (nor read the next
    /// request as body): it closes. Both paths ask this before keeping a connection after an answer.
    static func closesConnection(continueOwed: Bool, bodyPending: Bool) -> Bool { continueOwed && bodyPending }
}
