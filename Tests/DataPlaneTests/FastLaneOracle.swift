// Shared by the test suite (FastLaneDifferentialTests) and the libFuzzer harnesses in Fuzz/, which
// compile this file in beside the scanners' own sources (with -D ARCHWAY_FUZZ, where there is no
// DataPlane module to import): both hold the byte path to the same properties.
#if !ARCHWAY_FUZZ
@testable import DataPlane
#endif
import NIOCore
import NIOEmbedded
import NIOHTTP1

/// The fast lane's byte scanners checked against themselves (offsets in range, a head scans the same
/// from its own bytes, a head cut short is incomplete) and against llhttp (NIOHTTP1's parser, the
/// general path's) on the same bytes. Each check returns nil when all holds, else what does not.
/// The lane may refuse what llhttp accepts (the general path then takes it); whatever it accepts,
/// llhttp must read as the same message, framed the same way.
enum FastLaneOracle {
    static let requestScanner = RequestHeadScanner(maxHeaderBytes: 64 * 1024, maxHeaderCount: 100, maxURIBytes: 16 * 1024)

    // MARK: llhttp

    /// What llhttp makes of the bytes: the parts it decodes, and whether it refused them.
    static func llhttpRequest(_ bytes: some Collection<UInt8>) -> (parts: [HTTPServerRequestPart], refused: Bool) {
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish() }
        try! channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes)))
        let refused = (try? channel.writeInbound(ByteBuffer(bytes: bytes))) == nil
        var parts: [HTTPServerRequestPart] = []
        while let part = try? channel.readInbound(as: HTTPServerRequestPart.self) { parts.append(part) }
        return (parts, refused)
    }

    /// The response as a client that sent `method` reads it; `closing` ends the input with EOF.
    static func llhttpResponse(_ bytes: some Collection<UInt8>, method: HTTPMethod = .GET, closing: Bool = false)
        -> (parts: [HTTPClientResponsePart], refused: Bool) {
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish() }
        try! channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPResponseDecoder(informationalResponseStrategy: .forward)))
        try! channel.writeOutbound(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: method, uri: "/")))
        var refused = (try? channel.writeInbound(ByteBuffer(bytes: bytes))) == nil
        if closing && !refused {
            channel.pipeline.fireChannelInactive()
            refused = (try? channel.throwIfErrorCaught()) == nil
        }
        var parts: [HTTPClientResponsePart] = []
        while let part = try? channel.readInbound(as: HTTPClientResponsePart.self) { parts.append(part) }
        return (parts, refused)
    }

    // MARK: Requests

    static func checkRequest(_ bytes: [UInt8]) -> String? {
        guard case .head(let head) = bytes.withUnsafeBytes({ requestScanner.scan($0) }) else { return nil }
        if let problem = requestInvariants(bytes, head) { return problem }
        // A body as the scanner frames it: where the lane's BodyFollower ends it, llhttp must end the
        // message too, having read the same content.
        let (wire, content) = sampleBody(head.body)
        // A length too large to send here is checked as a head only.
        let whole = head.body == .none || !wire.isEmpty
        if whole {
            var follower = BodyFollower(head.body)
            guard let (forwarded, rest) = follower.split(ByteBuffer(bytes: wire)), rest == nil, follower.ended,
                  forwarded.readableBytes == wire.count else {
                return "the lane does not find the end of the \(head.body) body it framed"
            }
        }
        let (parts, refused) = llhttpRequest(Array(bytes[..<head.length]) + wire)
        guard !refused else { return "llhttp refuses a head the scanner accepts" }
        let read = parts.reduce(into: [UInt8]()) { all, part in if case .body(let chunk) = part { all += chunk.readableBytesView } }
        guard case .head(let parsed)? = parts.first else { return "llhttp reads no head" }
        if whole {
            guard parts.count >= 2, case .end = parts.last!, read == content else {
                return "llhttp frames it differently (another body, or not complete): \(parts.count) parts, \(read.count) body bytes"
            }
        } else if case .end = parts.last! {
            return "llhttp ends a \(head.body) body it was not given"
        }
        guard parsed.method.rawValue == head.method, parsed.uri == head.target, parsed.version == .http1_1 else {
            return "request line: llhttp \(parsed.method) \(parsed.uri) \(parsed.version), scanner \(head.method) \(head.target)"
        }
        guard parsed.headers.count == head.fieldCount else { return "field count: llhttp \(parsed.headers.count), scanner \(head.fieldCount)" }
        guard parsed.headers["host"] == [head.host] else { return "Host: llhttp \(parsed.headers["host"]), scanner \(head.host)" }
        guard head.closeRequested == !parsed.isKeepAlive else { return "keep-alive: llhttp \(parsed.isKeepAlive), scanner close \(head.closeRequested)" }
        for (name, value) in [("x-request-id", head.requestID), ("traceparent", head.traceparent), ("x-tenant", head.tenant)] {
            if let value, value != first(name, in: parsed.headers) {
                return "\(name): llhttp \(first(name, in: parsed.headers) ?? "none"), scanner \(value)"
            }
        }
        let lines = fieldLines(bytes, head.fieldsStart..<(head.length - 2))
        for (name, _) in parsed.headers {
            let read = bytes.withUnsafeBytes { RequestHeadScanner.value(of: name.lowercased(), in: $0, head) }
            let value = first(name.lowercased(), in: parsed.headers)
            guard read == value else { return "value of \(name): llhttp \(value ?? "none"), scanner \(read ?? "none")" }
        }
        guard lines.count == parsed.headers.count,
              zip(lines, parsed.headers).allSatisfy({ $0.name.sameBytes($1.name) && $0.value.sameBytes($1.value.trimmingOWS) }) else {
            return "field lines: llhttp \(parsed.headers.map { "\($0.name): \($0.value)" }), bytes \(lines)"
        }
        // The general path answers `Expect: 100-continue` itself and drops the line (RequestFilterPhase).
        guard head.expectsContinue == (parsed.headers.first(name: "expect")?.lowercased() == "100-continue") else {
            return "the scanner's 100-continue (\(head.expectsContinue)) is not llhttp's"
        }
        // What the lane forwards: every line but the hop-by-hop ones, the identities it rewrites and the expectation it answers.
        let kept = head.keptSpans.flatMap { fieldLines(bytes, $0) }
        let expected = lines.filter { line in
            let name = line.name.lowercased()
            if name == "connection" || name == "traceparent" || name == "expect" || HeaderRules.isHopByHopExceptFraming(name.utf8) { return false }
            return name != "x-request-id" || head.requestID != nil
        }
        guard kept.elementsEqual(expected, by: { $0.name.sameBytes($1.name) && $0.value.sameBytes($1.value) }) else { return "kept lines \(kept), expected \(expected)" }
        return nil
    }

    /// A body on the wire for `framing` and the content it carries (a chunked one with an extension
    /// and a trailer, which the lane forwards as they came).
    static func sampleBody(_ framing: BodyFraming) -> (wire: [UInt8], content: [UInt8]) {
        switch framing {
        case .length(let length):
            let content = [UInt8](repeating: UInt8(ascii: "x"), count: min(length, 1 << 16))
            return content.count == length ? (content, content) : ([], [])
        case .chunked:
            return (Array("3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n".utf8), Array("abcde".utf8))
        case .none, .untilClose:
            return ([], [])
        }
    }

    static func requestInvariants(_ bytes: [UInt8], _ head: ScannedRequestHead) -> String? {
        guard head.length >= 4, head.length <= bytes.count, bytes[(head.length - 4)..<head.length].elementsEqual("\r\n\r\n".utf8) else {
            return "length \(head.length) does not end the head in \(bytes.count) bytes"
        }
        guard head.fieldsStart > 0, head.fieldsStart <= head.length - 2 else { return "fieldsStart \(head.fieldsStart) outside the head" }
        if let problem = spanProblem(bytes, head.keptSpans, within: head.fieldsStart..<(head.length - 2)) { return problem }
        guard case .head(let again) = Array(bytes[..<head.length]).withUnsafeBytes({ requestScanner.scan($0) }) else {
            return "the head alone does not scan as a head"
        }
        guard again.method == head.method, again.target == head.target, again.length == head.length, again.host == head.host,
              again.fieldsStart == head.fieldsStart, again.fieldCount == head.fieldCount, again.keptSpans == head.keptSpans,
              again.closeRequested == head.closeRequested, again.requestID == head.requestID,
              again.traceparent == head.traceparent, again.tenant == head.tenant, again.body == head.body else {
            return "the head alone scans differently"
        }
        for cut in [head.length - 1, head.length / 2] where cut > 0 {
            guard case .incomplete = Array(bytes[..<cut]).withUnsafeBytes({ requestScanner.scan($0) }) else {
                return "the first \(cut) bytes of an accepted head are not incomplete"
            }
        }
        return nil
    }

    // MARK: Responses

    static func checkResponse(_ bytes: [UInt8], requestIsHEAD: Bool) -> String? {
        let scanner = ResponseHeadScanner()
        guard case .head(let head) = bytes.withUnsafeBytes({ scanner.scan($0, requestIsHEAD: requestIsHEAD) }) else { return nil }
        guard head.length >= 4, head.length <= bytes.count, bytes[(head.length - 4)..<head.length].elementsEqual("\r\n\r\n".utf8) else {
            return "length \(head.length) does not end the head in \(bytes.count) bytes"
        }
        guard head.statusText.lowerBound == 9, head.statusText.upperBound < head.length - 2,
              bytes[head.statusText.upperBound..<(head.statusText.upperBound + 2)].elementsEqual("\r\n".utf8) else {
            return "statusText \(head.statusText) is not the rest of the status line"
        }
        let fields = (head.statusText.upperBound + 2)..<(head.length - 2)
        if let problem = spanProblem(bytes, head.keptSpans, within: fields) { return problem }
        let headBytes = Array(bytes[..<head.length])
        guard case .head(let again) = headBytes.withUnsafeBytes({ scanner.scan($0, requestIsHEAD: requestIsHEAD) }),
              again.status == head.status, again.length == head.length, again.statusText == head.statusText,
              again.keptSpans == head.keptSpans, again.framing == head.framing, again.reusable == head.reusable else {
            return "the head alone scans differently"
        }
        guard case .incomplete = Array(bytes[..<(head.length - 1)]).withUnsafeBytes({ scanner.scan($0, requestIsHEAD: requestIsHEAD) }) else {
            return "the head less its last byte is not incomplete"
        }
        // The lane forwards the kept lines as they came: they must frame the body as the lane reads it.
        let kept = head.keptSpans.flatMap { fieldLines(bytes, $0) }
        let lengths = kept.filter { $0.name.lowercased() == "content-length" }.map(\.value)
        let codings = kept.filter { $0.name.lowercased() == "transfer-encoding" }.map { $0.value.lowercased() }
        switch head.framing {
        case .chunked where codings != ["chunked"] || !lengths.isEmpty,
             .length where lengths.count != 1 || !codings.isEmpty:
            return "the forwarded lines (\(kept)) do not frame the body as \(head.framing)"
        case .length(let length) where Int(lengths[0]) != length:
            return "the forwarded Content-Length \(lengths) is not \(length)"
        default: break
        }

        // llhttp reads the head and a body framed as the scanner says, and ends where the scanner ends.
        var message = headBytes
        var body: [UInt8] = []
        switch head.framing {
        case .none: break
        case .length(let length) where length <= 4096:
            body = Array(repeating: UInt8(ascii: "x"), count: length)
            message += body
        case .length: break
        case .chunked:
            body = Array("abc".utf8)
            message += Array("3\r\nabc\r\n0\r\n\r\n".utf8)
        case .untilClose:
            body = Array("abc".utf8)
            message += body
        }
        let (parts, refused) = llhttpResponse(message, method: requestIsHEAD ? .HEAD : .GET, closing: head.framing == .untilClose)
        guard !refused else { return "llhttp refuses a response head the scanner accepts" }
        guard case .head(let parsed)? = parts.first else { return "llhttp reads no head" }
        guard parsed.status.code == UInt(head.status), parsed.version == (bytes[7] == UInt8(ascii: "1") ? .http1_1 : .http1_0) else {
            return "status line: llhttp \(parsed.version) \(parsed.status.code), scanner \(head.status)"
        }
        // (The reason phrase is not compared: NIOHTTP1 does not keep the one sent.)
        // (After HEAD, NIOHTTP1 judges keep-alive before it knows there is no body: only GET counts here.)
        guard !head.reusable || parsed.isKeepAlive || requestIsHEAD else { return "the scanner reuses a connection llhttp would not keep" }
        // The general path forwards llhttp's fields less the hop-by-hop ones; the lane its kept lines.
        // Framing is compared above: the general path frames the body anew, the lane as it came.
        var general = parsed.headers
        HeaderRules.stripHopByHop(&general)
        general.remove(name: "content-length")
        let forwarded = kept.filter { !["transfer-encoding", "content-length"].contains($0.name.lowercased()) }
        // HTTPHeaders compares names with `& 0xDF`, so for its remove(name:) "^" is "~"; the lane
        // compares letters only. Messages with such names are left out of this one comparison.
        let folds = parsed.headers.contains { $0.name.utf8.contains { $0 == UInt8(ascii: "^") || $0 == UInt8(ascii: "~") } }
        guard folds || forwarded.elementsEqual(general, by: { $0.name.sameBytes($1.name) && $0.value.sameBytes($1.value.trimmingOWS) }) else {
            return "kept lines \(forwarded), the general path's \(Array(general))"
        }
        if head.status < 200 { return nil }  // informational: llhttp waits for the final response
        if case .length(let length) = head.framing, length > 4096 {
            guard parts.count == 1 else { return "llhttp ended a \(length)-byte body it was not given" }
            return nil
        }
        guard case .end? = parts.last else { return "llhttp did not end the message where the scanner's framing (\(head.framing)) does" }
        let read = parts.reduce(into: [UInt8]()) { all, part in if case .body(let chunk) = part { all += chunk.readableBytesView } }
        guard read == body else { return "body: llhttp read \(read.count) bytes, the scanner's framing \(body.count)" }
        return nil
    }

    // MARK: Chunked bodies

    static let chunkedHead = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)

    /// The tracker against itself (the end does not depend on how the bytes are split) and against
    /// llhttp reading the same body after a chunked response head.
    static func checkChunked(_ body: [UInt8]) -> String? {
        var whole = ChunkedBodyTracker()
        let progress = body.withUnsafeBytes { whole.consume($0) }
        // Byte by byte, and in two halves: the same end, or the same refusal.
        var single = ChunkedBodyTracker()
        var bytewise = ChunkedBodyTracker.Progress.needMore
        for (index, byte) in body.enumerated() {
            switch [byte].withUnsafeBytes({ single.consume($0) }) {
            case .needMore: continue
            case .ended: bytewise = .ended(at: index + 1)
            case .malformed: bytewise = .malformed
            }
            break
        }
        guard bytewise == progress else { return "whole: \(progress), byte by byte: \(bytewise)" }
        var halves = ChunkedBodyTracker()
        let cut = body.count / 2
        var split = Array(body[..<cut]).withUnsafeBytes { halves.consume($0) }
        if case .needMore = split {
            split = Array(body[cut...]).withUnsafeBytes { halves.consume($0) }
            if case .ended(let at) = split { split = .ended(at: cut + at) }
        }
        guard split == progress else { return "whole: \(progress), in halves: \(split)" }

        switch progress {
        case .malformed:
            return nil  // stricter than llhttp is allowed: the lane then drops the connection
        case .ended(let end):
            guard end > 0, end <= body.count else { return "ended at \(end), outside \(body.count) bytes" }
            let (parts, refused) = llhttpResponse(chunkedHead + body[..<end])
            guard !refused, case .end? = parts.last else { return "the tracker ends the body at \(end), llhttp does not (refused: \(refused))" }
            let (before, _) = llhttpResponse(chunkedHead + body[..<(end - 1)])
            if case .end? = before.last { return "llhttp ends the body before byte \(end), where the tracker does" }
        case .needMore:
            let (parts, refused) = llhttpResponse(chunkedHead + body)
            guard !refused else { return "the tracker takes bytes llhttp refuses" }
            if case .end? = parts.last { return "llhttp ends the body within the bytes, the tracker needs more" }
        }
        return nil
    }

    // MARK: Helpers

    /// The first value of field `lowercase`, names compared as RFC 9110 says (ASCII letters without
    /// case). Not HTTPHeaders.first(name:): it folds every byte with `& 0xDF`, so "a^b" finds "a~b".
    static func first(_ lowercase: String, in headers: HTTPHeaders) -> String? {
        headers.first { $0.name.utf8.equalsLowercaseASCII(lowercase) }?.value
    }

    /// Kept spans lie in `fields`, in order, apart, and each is whole CRLF-ended lines.
    static func spanProblem(_ bytes: [UInt8], _ spans: [Range<Int>], within fields: Range<Int>) -> String? {
        var previousEnd = fields.lowerBound
        for span in spans {
            guard !span.isEmpty, span.lowerBound >= previousEnd, span.upperBound <= fields.upperBound else {
                return "span \(span) is empty, out of order or outside the fields \(fields)"
            }
            guard span.lowerBound == fields.lowerBound || bytes[span.lowerBound - 1] == UInt8(ascii: "\n"),
                  bytes[span.upperBound - 1] == UInt8(ascii: "\n") else {
                return "span \(span) is not whole lines"
            }
            previousEnd = span.upperBound
        }
        return nil
    }

    /// The "name: value" lines in `range` (whole CRLF-ended lines), values without surrounding OWS.
    static func fieldLines(_ bytes: [UInt8], _ range: Range<Int>) -> [(name: String, value: String)] {
        var lines: [(name: String, value: String)] = []
        var at = range.lowerBound
        while at < range.upperBound {
            var end = at
            while end < range.upperBound, bytes[end] != UInt8(ascii: "\r") { end += 1 }
            let line = bytes[at..<end]
            let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? end
            lines.append((String(decoding: bytes[at..<colon], as: UTF8.self),
                          String(decoding: bytes[min(colon + 1, end)..<end], as: UTF8.self).trimmingOWS))
            at = end + 2
        }
        return lines
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (RFC 9110 OWS), trimmed as bytes: a space
    /// followed by a combining mark is one Character, but still OWS on the wire.
    var trimmingOWS: String {
        let bytes = Array(utf8)
        var start = 0, end = bytes.count
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }

    /// Byte equality: `==` on strings is canonical equivalence, which would hide a changed byte.
    func sameBytes(_ other: some StringProtocol) -> Bool { utf8.elementsEqual(other.utf8) }
}
