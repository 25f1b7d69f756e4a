/// A backend's response head, read as bytes: where it ends, how its body is framed, and which field
/// lines go on to the client unchanged.
struct ScannedResponseHead {
    typealias Framing = BodyFraming

    var status = 0
    /// Bytes of the whole head, the empty line included.
    var length = 0
    /// The status line after its version ("200 OK"), CRLF excluded.
    var statusText: Range<Int> = 0..<0
    /// Runs of whole field lines (CRLFs included) that go to the client; hop-by-hop fields fall between.
    var keptSpans: [Range<Int>] = []
    var framing = Framing.none
    /// The backend connection may carry another request after this response.
    var reusable = true
}

enum ResponseHeadScan {
    case head(ScannedResponseHead)
    case incomplete
    /// What is wrong, for the 502 and the log.
    case malformed(String)
}

/// Strict on framing, because a proxy that reads a response's length differently from its client
/// desynchronises the connection: several or invalid Content-Lengths, Content-Length with
/// Transfer-Encoding, and any coding but chunked are refused, as are obs-fold and bare CR or LF.
struct ResponseHeadScanner {
    var maxHeadBytes = 64 * 1024

    func scan(_ bytes: UnsafeRawBufferPointer, requestIsHEAD: Bool) -> ResponseHeadScan {
        let count = bytes.count
        guard count >= 14 else { return Self.couldStartStatusLine(bytes) ? .incomplete : .malformed("response does not start with an HTTP/1.x status line") }
        guard bytes[0..<7].elementsEqual("HTTP/1.".utf8), bytes[7] == UInt8(ascii: "1") || bytes[7] == UInt8(ascii: "0"),
              bytes[8] == UInt8(ascii: " "), bytes[9...11].allSatisfy(Self.isDigit),
              bytes[12] == UInt8(ascii: " ") || bytes[12] == UInt8(ascii: "\r") else {  // three digits, no more
            return .malformed("response does not start with an HTTP/1.x status line")
        }
        var head = ScannedResponseHead()
        head.reusable = bytes[7] == UInt8(ascii: "1")
        head.status = bytes[9...11].reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        // llhttp frames "099" as a final response read until close; no such status exists (RFC 9110 §15).
        guard head.status >= 100 else { return .malformed("response status \(head.status) is under 100") }
        var at = 12
        while at < count, bytes[at] != UInt8(ascii: "\r") {
            guard bytes[at] >= 0x20 && bytes[at] != 0x7F || bytes[at] == UInt8(ascii: "\t") else { return .malformed("invalid byte in the status line") }
            at += 1
        }
        head.statusText = 9..<at
        guard at + 1 < count else { return at > maxHeadBytes ? .malformed("response head is over \(maxHeadBytes) bytes") : .incomplete }
        guard bytes[at + 1] == UInt8(ascii: "\n") else { return .malformed("bare CR in the status line") }
        at += 2

        let fieldsStart = at
        var spanStart = at
        var lengths = 0, length = 0, codings = 0
        var chunked = false
        var namesMore = false  // the Connection field names further hop-by-hop fields
        while true {
            guard at < count else { return at > maxHeadBytes ? .malformed("response head is over \(maxHeadBytes) bytes") : .incomplete }
            guard at <= maxHeadBytes else { return .malformed("response head is over \(maxHeadBytes) bytes") }
            if bytes[at] == UInt8(ascii: "\r") {
                guard at + 1 < count else { return .incomplete }
                guard bytes[at + 1] == UInt8(ascii: "\n") else { return .malformed("bare CR in the response head") }
                if spanStart < at { head.keptSpans.append(spanStart..<at) }
                head.length = at + 2
                break
            }
            let lineStart = at
            while at < count, RequestHeadScanner.isTokenByte(bytes[at]) { at += 1 }
            guard at < count else { return .incomplete }
            guard at > lineStart, bytes[at] == UInt8(ascii: ":") else { return .malformed("invalid response header line") }
            let name = lineStart..<at
            at += 1
            while at < count, bytes[at] == UInt8(ascii: " ") || bytes[at] == UInt8(ascii: "\t") { at += 1 }
            let valueStart = at
            var valueEnd = at
            while at < count, bytes[at] != UInt8(ascii: "\r") {
                let value = bytes[at]
                guard value >= 0x20 && value != 0x7F || value == UInt8(ascii: "\t") else { return .malformed("invalid byte in response header \(Self.text(bytes, name))") }
                at += 1
                if value != UInt8(ascii: " ") && value != UInt8(ascii: "\t") { valueEnd = at }
            }
            guard at + 1 < count else { return .incomplete }
            guard bytes[at + 1] == UInt8(ascii: "\n") else { return .malformed("bare CR in response header \(Self.text(bytes, name))") }
            at += 2
            let value = valueStart..<valueEnd
            // llhttp refuses a Content-Length and ignores a chunked coding followed by a tab.
            let trailingTab = bytes[valueEnd..<(at - 2)].contains(UInt8(ascii: "\t"))
            var drop = false
            switch name.count {
            case 14 where bytes.matches(name, "content-length", ignoringCase: true):
                lengths += 1
                guard !value.isEmpty, value.count <= 18, bytes[value].allSatisfy(Self.isDigit), !trailingTab else { return .malformed("invalid Content-Length \"\(Self.text(bytes, value))\"") }
                length = bytes[value].reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            case 17 where bytes.matches(name, "transfer-encoding", ignoringCase: true):
                codings += 1
                chunked = bytes.matches(value, "chunked", ignoringCase: true) && !trailingTab
            case 10 where bytes.matches(name, "connection", ignoringCase: true):
                drop = true
                // What backends send, read without building a String; anything longer is a list.
                if bytes.matches(value, "close", ignoringCase: true) {
                    head.reusable = false
                } else if !bytes.matches(value, "keep-alive", ignoringCase: true) {
                    for token in String(decoding: bytes[value], as: UTF8.self).headerListItems {
                        if token.utf8.equalsLowercaseASCII("close") {
                            head.reusable = false
                        } else if !token.utf8.equalsLowercaseASCII("keep-alive") {
                            namesMore = true
                        }
                    }
                }
            default:
                drop = HeaderRules.isHopByHopExceptFraming(bytes[name])
            }
            if drop {
                if spanStart < lineStart { head.keptSpans.append(spanStart..<lineStart) }
                spanStart = at
            }
        }

        if lengths > 1 { return .malformed("response has \(lengths) Content-Length headers") }
        if codings > 0 && lengths > 0 { return .malformed("response has both Content-Length and Transfer-Encoding") }
        if codings > 1 || (codings == 1 && !chunked) { return .malformed("response Transfer-Encoding is not chunked alone") }
        if namesMore { head.keptSpans = Self.spansWithoutNamedFields(bytes, fieldsStart..<(head.length - 2)) }

        if requestIsHEAD || head.status < 200 || head.status == 204 || head.status == 304 {
            head.framing = .none
        } else if chunked {
            head.framing = .chunked
        } else if lengths == 1 {
            head.framing = .length(length)
        } else {
            head.framing = .untilClose
            head.reusable = false
        }
        return .head(head)
    }

    /// The rare second pass, when the Connection field names other fields: the lines were validated by
    /// the first pass, so this one only splits them and drops every hop-by-hop one.
    private static func spansWithoutNamedFields(_ bytes: UnsafeRawBufferPointer, _ fields: Range<Int>) -> [Range<Int>] {
        var lines: [(line: Range<Int>, name: String, value: String)] = []
        var at = fields.lowerBound
        while at < fields.upperBound {
            let start = at
            while bytes[at] != UInt8(ascii: "\n") { at += 1 }
            at += 1
            // The colon is found among bytes: in a String, ":" followed by a combining mark is one
            // Character, and the name would run on into the value.
            let colon = bytes[start..<(at - 2)].firstIndex(of: UInt8(ascii: ":"))!
            lines.append((start..<at, String(decoding: bytes[start..<colon], as: UTF8.self),
                          String(decoding: bytes[(colon + 1)..<(at - 2)], as: UTF8.self)))
        }
        var named: Set<String> = []
        for line in lines where line.name.utf8.equalsLowercaseASCII("connection") {
            for token in line.value.headerListItems where !token.utf8.equalsLowercaseASCII("close") && !token.utf8.equalsLowercaseASCII("keep-alive") {
                named.insert(token.lowercased())
            }
        }
        var spans: [Range<Int>] = []
        var spanStart = fields.lowerBound
        for line in lines {
            let name = line.name.lowercased()
            // The body goes on framed as it came, so its framing field goes with it even when named.
            let framing = name == "content-length" || name == "transfer-encoding"
            guard name == "connection" || named.contains(name) && !framing || HeaderRules.isHopByHopExceptFraming(name.utf8) else { continue }
            if spanStart < line.line.lowerBound { spans.append(spanStart..<line.line.lowerBound) }
            spanStart = line.line.upperBound
        }
        if spanStart < fields.upperBound { spans.append(spanStart..<fields.upperBound) }
        return spans
    }

    private static func couldStartStatusLine(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.prefix(7).elementsEqual("HTTP/1.".utf8.prefix(min(7, bytes.count)))
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private static func text(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
        String(decoding: bytes[range].prefix(64), as: UTF8.self)
    }
}

/// Follows a chunked body (RFC 9112 §7.1) as it streams past, to find where the message ends. The
/// fast lane passes the bytes on unchanged; the general path's reader also asks where the data and the
/// trailer section lie, to hand on the body without its framing.
struct ChunkedBodyTracker {
    /// Where, in the bytes just given, a run of chunk data or of the trailer section lies (the trailer
    /// run ends with the section's closing empty line once it has come).
    enum Piece: Equatable {
        case data(Range<Int>)
        case trailer(Range<Int>)
    }

    enum Progress: Equatable {
        case needMore
        /// The message ends this many bytes into the bytes just given.
        case ended(at: Int)
        case malformed
    }

    private enum State {
        case size, sizeLF, data, dataCR, dataLF, trailerStart, trailerName, trailerValue, trailerLF, finalLF
        /// `;name`, `=token` or `="quoted"` after a chunk size (RFC 9112 §7.1.1), read strictly: the
        /// lane forwards them as they came, so it takes none that llhttp (the general path) refuses.
        case extensionName, extensionValue, quoted, quotedPair, quotedEnd
    }

    private var state = State.size
    private var size = 0
    /// Data bytes seen so far, framing excluded: what the body weighs.
    private(set) var dataBytes = 0
    private var sizeDigits = 0
    /// Bytes of the extension name or token value being read.
    private var tokenBytes = 0

    mutating func consume(_ bytes: UnsafeRawBufferPointer, pieces: (Piece) -> Void = { _ in }) -> Progress {
        var at = 0
        let count = bytes.count
        var trailerFrom: Int? = isInTrailer ? 0 : nil
        defer { if let from = trailerFrom, from < at, isInTrailer { pieces(.trailer(from..<at)) } }
        while at < count {
            let byte = bytes[at]
            switch state {
            case .size:
                if let digit = Self.hexValue(byte) {
                    guard sizeDigits < 15 else { return .malformed }
                    size = size * 16 + digit
                    sizeDigits += 1
                } else if sizeDigits > 0 && byte == UInt8(ascii: ";") {
                    state = .extensionName
                    tokenBytes = 0
                } else if sizeDigits > 0 && byte == UInt8(ascii: "\r") {
                    state = .sizeLF
                } else {
                    return .malformed
                }
            case .extensionName, .extensionValue:
                if RequestHeadScanner.isTokenByte(byte) {
                    tokenBytes += 1
                } else if state == .extensionValue && tokenBytes == 0 && byte == UInt8(ascii: "\"") {
                    state = .quoted
                } else if tokenBytes > 0 && byte == UInt8(ascii: "=") && state == .extensionName {
                    state = .extensionValue
                    tokenBytes = 0
                } else if tokenBytes > 0 && byte == UInt8(ascii: ";") {
                    state = .extensionName
                    tokenBytes = 0
                } else if tokenBytes > 0 && byte == UInt8(ascii: "\r") {
                    state = .sizeLF
                } else {
                    return .malformed
                }
            case .quoted:
                // qdtext: HTAB, SP and visible ASCII but DQUOTE and backslash.
                if byte == UInt8(ascii: "\"") {
                    state = .quotedEnd
                } else if byte == UInt8(ascii: "\\") {
                    state = .quotedPair
                } else if !(byte == UInt8(ascii: "\t") || (byte >= 0x20 && byte < 0x7F)) {
                    return .malformed
                }
            case .quotedPair:
                guard byte == UInt8(ascii: "\t") || (byte >= 0x20 && byte < 0x7F) else { return .malformed }
                state = .quoted
            case .quotedEnd:
                if byte == UInt8(ascii: ";") {
                    state = .extensionName
                    tokenBytes = 0
                } else if byte == UInt8(ascii: "\r") {
                    state = .sizeLF
                } else {
                    return .malformed
                }
            case .sizeLF:
                guard byte == UInt8(ascii: "\n") else { return .malformed }
                state = size == 0 ? .trailerStart : .data
                if size == 0 { trailerFrom = at + 1 }
                sizeDigits = 0
            case .data:
                let taken = min(size, count - at)
                if taken > 0 { pieces(.data(at..<(at + taken))) }
                dataBytes += taken
                size -= taken
                at += taken
                if size == 0 { state = .dataCR }
                continue
            case .dataCR:
                guard byte == UInt8(ascii: "\r") else { return .malformed }
                state = .dataLF
            case .dataLF:
                guard byte == UInt8(ascii: "\n") else { return .malformed }
                state = .size
            case .trailerStart:
                // A trailer field is a field line like those of the head: token ":" value.
                if byte == UInt8(ascii: "\r") {
                    state = .finalLF
                } else if RequestHeadScanner.isTokenByte(byte) {
                    state = .trailerName
                } else {
                    return .malformed
                }
            case .trailerName:
                if byte == UInt8(ascii: ":") { state = .trailerValue } else if !RequestHeadScanner.isTokenByte(byte) { return .malformed }
            case .trailerValue:
                // As the response head scanner takes values: no control bytes but HTAB.
                if byte == UInt8(ascii: "\r") {
                    state = .trailerLF
                } else if !(byte == UInt8(ascii: "\t") || (byte >= 0x20 && byte != 0x7F)) {
                    return .malformed
                }
            case .trailerLF:
                guard byte == UInt8(ascii: "\n") else { return .malformed }
                state = .trailerStart
            case .finalLF:
                guard byte == UInt8(ascii: "\n") else { return .malformed }
                state = .size
                if let from = trailerFrom { pieces(.trailer(from..<(at + 1))) }
                trailerFrom = nil
                return .ended(at: at + 1)
            }
            at += 1
        }
        return .needMore
    }

    private var isInTrailer: Bool {
        switch state {
        case .trailerStart, .trailerName, .trailerValue, .trailerLF, .finalLF: true
        default: false
        }
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - UInt8(ascii: "A")) + 10
        default: nil
        }
    }
}
