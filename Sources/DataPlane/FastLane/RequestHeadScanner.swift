/// A request head the fast lane forwards as bytes, read without building an HTTPRequestHead or
/// HTTPHeaders. Offsets are into the bytes that were scanned.
struct ScannedRequestHead {
    var method: String
    var target: String
    /// Bytes of the whole head, the empty line included.
    var length = 0
    var host = ""
    /// Where the field lines start (after the request line).
    var fieldsStart = 0
    var fieldCount = 0
    /// Runs of whole field lines (CRLFs included) forwarded unchanged. Hop-by-hop fields, and the
    /// identity fields archway writes itself, fall between the runs.
    var keptSpans: [Range<Int>] = []
    var closeRequested = false
    /// Content-Length or chunked, checked as strictly as llhttp checks them; the body follows the head.
    var body = BodyFraming.none
    /// The client's X-Request-Id when it is one archway keeps (it then stays among the kept lines).
    var requestID: String?
    var traceparent: String?
    var tenant: String?
    /// The client sent Forwarded or X-Forwarded-* fields: they are kept, and this hop is merged into
    /// them (`ForwardedHeaders.merge`) rather than appended.
    var forwardedChain = false
    /// `Expect: 100-continue`: archway answers it itself once a backend is connected (the line is not forwarded).
    var expectsContinue = false
}

enum RequestHeadScan {
    case head(ScannedRequestHead)
    /// The head has not all arrived.
    case incomplete
    /// Left to the general path: an upgrade, an Expect other than 100-continue, a body over the
    /// limit, or anything unusual or malformed. The general path answers it (every 400 included) exactly as it always has, so
    /// the scanner never has to be the one that decides what a bad request gets.
    case unsuitable
}

/// Accepts a strict subset of HTTP/1.1 (RFC 9112): `METHOD SP origin-form SP HTTP/1.1 CRLF`, then
/// `token ":" OWS visible-ASCII OWS CRLF` fields, exactly one valid Host, at most one framing field
/// (one all-digit Content-Length, or `Transfer-Encoding: chunked` alone), no obs-fold, no bare CR or LF. Anything outside that is `unsuitable`,
/// never guessed at: request smuggling lives in the ambiguous cases, and those stay with llhttp.
struct RequestHeadScanner {
    let maxHeaderBytes: Int
    let maxHeaderCount: Int
    let maxURIBytes: Int
    /// The global request body limit: a larger Content-Length is left to the general path, which
    /// answers 413 at once; a chunked body is held to it as it streams (`FastExchange.bodyLimit`).
    var maxBodyBytes: Int? = nil

    func scan(_ bytes: UnsafeRawBufferPointer) -> RequestHeadScan {
        let count = bytes.count
        var at = 0
        func byte(_ index: Int) -> UInt8 { bytes[index] }

        // Request line.
        while at < count, at < 20, byte(at) >= UInt8(ascii: "A"), byte(at) <= UInt8(ascii: "Z") { at += 1 }
        guard at < count else { return count > 20 ? .unsuitable : .incomplete }
        guard at > 0, byte(at) == UInt8(ascii: " ") else { return .unsuitable }
        // Only the common methods: llhttp (the general path) refuses a token it does not know, and
        // the lane must not forward what the general path would answer 400.
        guard let method = Self.method(bytes, 0..<at) else { return .unsuitable }
        at += 1
        let targetStart = at
        while at < count, byte(at) > 0x20, byte(at) < 0x7F { at += 1 }
        guard at - targetStart <= maxURIBytes else { return .unsuitable }
        guard at < count else { return .incomplete }
        guard byte(at) == UInt8(ascii: " "), byte(targetStart) == UInt8(ascii: "/") else { return .unsuitable }
        let targetEnd = at
        at += 1
        guard count - at >= 10 else {
            return bytes[at...].elementsEqual("HTTP/1.1\r\n".utf8.prefix(count - at)) ? .incomplete : .unsuitable
        }
        guard bytes.matches(at..<(at + 10), "HTTP/1.1\r\n") else { return .unsuitable }
        at += 10

        var head = ScannedRequestHead(method: method, target: String(decoding: bytes[targetStart..<targetEnd], as: UTF8.self))
        head.fieldsStart = at
        var hosts = 0
        var spanStart = at
        var requestIDLines = 0
        var lengthLines = 0
        var codingLines = 0
        var traceparentLines = 0

        while true {
            guard at < count else { return .incomplete }
            guard at <= maxHeaderBytes else { return .unsuitable }
            if byte(at) == UInt8(ascii: "\r") {
                guard at + 1 < count else { return .incomplete }
                guard byte(at + 1) == UInt8(ascii: "\n") else { return .unsuitable }
                if spanStart < at { head.keptSpans.append(spanStart..<at) }
                head.length = at + 2
                break
            }
            let lineStart = at
            while at < count, Self.isTokenByte(byte(at)) { at += 1 }
            guard at < count else { return .incomplete }
            // An empty name, a space before the colon and obs-fold (a line starting with a space) all land here.
            guard at > lineStart, byte(at) == UInt8(ascii: ":") else { return .unsuitable }
            let name = lineStart..<at
            at += 1
            while at < count, byte(at) == UInt8(ascii: " ") || byte(at) == UInt8(ascii: "\t") { at += 1 }
            let valueStart = at
            var valueEnd = at
            while at < count {
                let value = byte(at)
                if value == UInt8(ascii: "\r") { break }
                guard (value >= 0x20 && value < 0x7F) || value == UInt8(ascii: "\t") else { return .unsuitable }
                at += 1
                if value != UInt8(ascii: " ") && value != UInt8(ascii: "\t") { valueEnd = at }
            }
            guard at + 1 < count else { return .incomplete }
            guard byte(at + 1) == UInt8(ascii: "\n") else { return .unsuitable }
            // Trailing whitespace stays part of the value for llhttp, so the general path would route
            // and match on "a.example.com " where the lane reads "a.example.com": such heads go there.
            guard valueEnd == at else { return .unsuitable }
            at += 2
            guard head.fieldCount < maxHeaderCount else { return .unsuitable }
            head.fieldCount += 1
            let field = (name: name, value: valueStart..<valueEnd)

            switch Self.classify(bytes, name) {
            case .ordinary:
                continue
            case .forwarding:
                head.forwardedChain = true
                continue
            case .unsuitable:
                return .unsuitable
            case .host:
                hosts += 1
                head.host = String(decoding: bytes[field.value], as: UTF8.self)
                continue
            case .contentLength:
                lengthLines += 1
                let digits = bytes[field.value]
                guard lengthLines == 1, !digits.isEmpty, digits.count <= 15, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                    return .unsuitable
                }
                let length = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
                if let maxBodyBytes, length > maxBodyBytes { return .unsuitable }
                head.body = length == 0 ? .none : .length(length)
                continue
            case .transferEncoding:
                // Only `chunked` alone: any other coding, or a list, is llhttp's to judge.
                codingLines += 1
                guard codingLines == 1, bytes.matches(field.value, "chunked", ignoringCase: true) else { return .unsuitable }
                head.body = .chunked
                continue
            case .connection:
                if bytes.matches(field.value, "close", ignoringCase: true) {
                    head.closeRequested = true
                } else if !bytes.matches(field.value, "keep-alive", ignoringCase: true) {
                    return .unsuitable  // other tokens name more hop-by-hop fields, or ask for an upgrade
                }
            case .hopByHop:
                break
            case .expect:
                guard !head.expectsContinue, bytes.matches(field.value, "100-continue", ignoringCase: true) else { return .unsuitable }
                head.expectsContinue = true
            case .requestID:
                requestIDLines += 1
                let value = bytes[field.value]
                if RequestIdentity.isKept(requestID: value) {
                    head.requestID = String(decoding: value, as: UTF8.self)
                    continue
                }
            case .traceparent:
                traceparentLines += 1
                head.traceparent = String(decoding: bytes[field.value], as: UTF8.self)
            case .tenant:
                // The first, as the general path reads it (headers.first(name:)).
                if head.tenant == nil { head.tenant = String(decoding: bytes[field.value], as: UTF8.self) }
                continue
            }
            // This line is not forwarded: close the run of kept lines before it.
            if spanStart < lineStart { head.keptSpans.append(spanStart..<lineStart) }
            spanStart = at
        }
        // Repeated identity fields need the general path's replace-all semantics.
        // Both framings at once is the classic smuggling vector (RFC 9112 §6.1): llhttp refuses it.
        guard lengthLines + codingLines <= 1, hosts == 1, requestIDLines <= 1, traceparentLines <= 1, HeaderRules.isValidAuthority(head.host.utf8) else { return .unsuitable }
        return .head(head)
    }

    /// The first value of field `name` (lower case) in a head this scanner accepted: a second walk
    /// over its lines, for the rare route that matches on a header.
    static func value(of name: String, in bytes: UnsafeRawBufferPointer, _ head: ScannedRequestHead) -> String? {
        var first: String?
        forEachValue(of: name, in: bytes, head) { value in
            first = value
            return false
        }
        return first
    }

    /// Every value of field `name` (lower case), in order: a session cookie may be in any Cookie line.
    static func values(of name: String, in bytes: UnsafeRawBufferPointer, _ head: ScannedRequestHead) -> [String] {
        var values: [String] = []
        forEachValue(of: name, in: bytes, head) { value in
            values.append(value)
            return true
        }
        return values
    }

    /// Calls `body` with each value of `name` until it returns false.
    private static func forEachValue(of name: String, in bytes: UnsafeRawBufferPointer, _ head: ScannedRequestHead, _ body: (String) -> Bool) {
        var at = head.fieldsStart
        let end = head.length - 2
        while at < end {
            var colon = at
            while bytes[colon] != UInt8(ascii: ":") { colon += 1 }
            var lineEnd = colon
            while bytes[lineEnd] != UInt8(ascii: "\r") { lineEnd += 1 }
            if bytes[at..<colon].equalsLowercaseASCII(name),
               !body(String(Substring(decoding: bytes[(colon + 1)..<lineEnd], as: UTF8.self).trimmingSpaces())) {
                return
            }
            at = lineEnd + 2
        }
    }

    private enum FieldKind {
        case ordinary, forwarding, expect, unsuitable, host, contentLength, transferEncoding, connection, hopByHop, requestID, traceparent, tenant
    }

    /// Picks the one candidate name by length, then compares bytes case-insensitively.
    /// The fields the lane looks at, picked by length, then compared byte by byte; the hop-by-hop list
    /// itself is HeaderRules', shared with the general path.
    private static func classify(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> FieldKind {
        func isName(_ lowercase: StaticString) -> Bool { bytes.matches(range, lowercase, ignoringCase: true) }
        switch range.count {
        case 4 where isName("host"): return .host
        case 6 where isName("expect"): return .expect
        case 7 where isName("upgrade"): return .unsuitable
        case 8 where isName("x-tenant"): return .tenant
        case 9 where isName("forwarded"): return .forwarding
        case 10 where isName("connection"): return .connection
        case 11 where isName("traceparent"): return .traceparent
        case 12 where isName("x-request-id"): return .requestID
        case 14 where isName("content-length"): return .contentLength
        case 15 where isName("x-forwarded-for"): return .forwarding
        case 16 where isName("x-forwarded-host"): return .forwarding
        case 17 where isName("transfer-encoding"): return .transferEncoding
        case 17 where isName("x-forwarded-proto"): return .forwarding
        default: return HeaderRules.isHopByHopExceptFraming(bytes[range]) ? .hopByHop : .ordinary
        }
    }

    /// The usual methods without an allocation.
    private static func method(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> String? {
        switch range.count {
        case 3 where bytes.matches(range, "GET"): return "GET"
        case 3 where bytes.matches(range, "PUT"): return "PUT"
        case 4 where bytes.matches(range, "HEAD"): return "HEAD"
        case 4 where bytes.matches(range, "POST"): return "POST"
        case 5 where bytes.matches(range, "PATCH"): return "PATCH"
        case 6 where bytes.matches(range, "DELETE"): return "DELETE"
        case 7 where bytes.matches(range, "OPTIONS"): return "OPTIONS"
        case 5 where bytes.matches(range, "TRACE"): return "TRACE"
        default: return nil
        }
    }

    /// RFC 9110 §5.6.2 tchar, as two 64-bit masks over ASCII (one shift and test per byte).
    @inline(__always)
    static func isTokenByte(_ byte: UInt8) -> Bool {
        let low: UInt64 = 0x03FF_6CFA_0000_0000   // ! # $ % & ' * + - . 0-9
        let high: UInt64 = 0x57FF_FFFF_C7FF_FFFE  // A-Z ^ _ ` a-z | ~
        return byte < 64 ? (low >> UInt64(byte)) & 1 == 1 : byte < 128 && (high >> UInt64(byte - 64)) & 1 == 1
    }
}

extension UnsafeRawBufferPointer {
    /// Whether the bytes at `range` are `expected` (a lower-case name when `ignoringCase`), compared
    /// byte by byte: the scanners' inner comparison, kept free of generic iteration.
    @inline(__always)
    func matches(_ range: Range<Int>, _ expected: StaticString, ignoringCase: Bool = false) -> Bool {
        guard range.count == expected.utf8CodeUnitCount else { return false }
        let wanted = expected.utf8Start
        var offset = 0
        while offset < range.count {
            var byte = self[range.lowerBound + offset]
            if ignoringCase && byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { byte |= 0x20 }
            if byte != wanted[offset] { return false }
            offset += 1
        }
        return true
    }
}
