// DNS wire format (RFC 1035 §3-4): just what an RFC 2136 UPDATE, its TSIG and an SOA/TXT look-up need.
// Hand-written, and kept small, because no Swift package in Package.swift speaks DNS. Names are written
// uncompressed (as nsupdate writes them); names read from answers may be compressed.

enum DNSType {
    static let soa: UInt16 = 6
    static let txt: UInt16 = 16
    static let tsig: UInt16 = 250
}

enum DNSClass {
    static let internet: UInt16 = 1
    /// RFC 2136 §2.5.4: "delete an RR from an RRset".
    static let none: UInt16 = 254
    static let any: UInt16 = 255
}

enum DNSOpcode {
    static let query: UInt8 = 0
    static let update: UInt8 = 5
}

/// RCODEs (RFC 1035, RFC 2136 §2.2) and TSIG errors (RFC 8945 §5.3), by their mnemonic.
enum DNSRCode {
    static let noError: UInt16 = 0
    static let nxDomain: UInt16 = 3

    static func name(_ code: UInt16) -> String {
        switch code {
        case 0: "NOERROR"
        case 1: "FORMERR"
        case 2: "SERVFAIL"
        case 3: "NXDOMAIN"
        case 4: "NOTIMP"
        case 5: "REFUSED"
        case 6: "YXDOMAIN"
        case 7: "YXRRSET"
        case 8: "NXRRSET"
        case 9: "NOTAUTH"
        case 10: "NOTZONE"
        case 16: "BADSIG"
        case 17: "BADKEY"
        case 18: "BADTIME"
        case 22: "BADTRUNC"
        default: "RCODE\(code)"
        }
    }
}

/// A domain name as labels; compared without regard to ASCII case (RFC 4343).
struct DNSName: Hashable, Sendable, CustomStringConvertible {
    let labels: [[UInt8]]

    static let root = DNSName(labels: [])

    init(labels: [[UInt8]]) { self.labels = labels }

    /// Dotted text, one trailing dot allowed; no escapes (ACME names are host names).
    init?(_ text: String) {
        var text = Substring(text)
        if text.hasSuffix(".") { text = text.dropLast() }
        if text.isEmpty { self = .root; return }
        let labels = text.split(separator: ".", omittingEmptySubsequences: false).map { Array($0.utf8) }
        guard labels.allSatisfy({ (1...63).contains($0.count) }),
              labels.reduce(1, { $0 + $1.count + 1 }) <= 255 else { return nil }
        self.labels = labels
    }

    var isRoot: Bool { labels.isEmpty }
    var parent: DNSName? { isRoot ? nil : DNSName(labels: Array(labels.dropFirst())) }
    var hasWildcardLabel: Bool { labels.contains([UInt8(ascii: "*")]) }

    /// Lower-case ASCII labels: the canonical form TSIG's MAC covers (RFC 8945 §4.3.3).
    var canonical: DNSName {
        DNSName(labels: labels.map { $0.map { (65...90).contains($0) ? $0 + 32 : $0 } })
    }

    func isSubdomain(of other: DNSName) -> Bool {
        labels.count >= other.labels.count && DNSName(labels: Array(labels.suffix(other.labels.count))) == other
    }

    var wire: [UInt8] {
        var bytes: [UInt8] = []
        for label in labels { bytes.append(UInt8(label.count)); bytes += label }
        return bytes + [0]
    }

    var description: String { isRoot ? "." : labels.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ".") }

    static func == (lhs: DNSName, rhs: DNSName) -> Bool { lhs.canonical.labels == rhs.canonical.labels }
    func hash(into hasher: inout Hasher) { hasher.combine(canonical.labels) }
}

struct DNSWriter {
    private(set) var bytes: [UInt8] = []

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u16(_ value: UInt16) { bytes += [UInt8(value >> 8), UInt8(value & 0xff)] }
    mutating func u32(_ value: UInt32) { u16(UInt16(value >> 16)); u16(UInt16(value & 0xffff)) }
    mutating func u48(_ value: UInt64) { u16(UInt16((value >> 32) & 0xffff)); u32(UInt32(value & 0xffff_ffff)) }
    mutating func name(_ name: DNSName) { bytes += name.wire }
    mutating func append(_ more: [UInt8]) { bytes += more }
}

struct DNSParseError: Error, CustomStringConvertible {
    let description: String
}

struct DNSReader {
    let bytes: [UInt8]
    var offset: Int

    init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    mutating func u8() throws(DNSParseError) -> UInt8 {
        guard offset < bytes.count else { throw DNSParseError(description: "message ends at byte \(offset)") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16() throws(DNSParseError) -> UInt16 { UInt16(try u8()) << 8 | UInt16(try u8()) }
    mutating func u32() throws(DNSParseError) -> UInt32 { UInt32(try u16()) << 16 | UInt32(try u16()) }
    mutating func u48() throws(DNSParseError) -> UInt64 { UInt64(try u16()) << 32 | UInt64(try u32()) }

    mutating func take(_ count: Int) throws(DNSParseError) -> [UInt8] {
        guard count >= 0, offset + count <= bytes.count else { throw DNSParseError(description: "message ends inside a field at byte \(offset)") }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    /// A name, following compression pointers (RFC 1035 §4.1.4) backwards only, so a loop cannot form.
    mutating func name() throws(DNSParseError) -> DNSName {
        var labels: [[UInt8]] = []
        var position = offset
        var resumeAt: Int?
        while true {
            guard position < bytes.count else { throw DNSParseError(description: "name runs past the message") }
            let length = bytes[position]
            if length & 0xc0 == 0xc0 {
                guard position + 1 < bytes.count else { throw DNSParseError(description: "truncated compression pointer") }
                let target = Int(length & 0x3f) << 8 | Int(bytes[position + 1])
                guard target < position else { throw DNSParseError(description: "forward compression pointer") }
                if resumeAt == nil { resumeAt = position + 2 }
                position = target
            } else if length == 0 {
                offset = resumeAt ?? position + 1
                return DNSName(labels: labels)
            } else {
                guard length <= 63, position + 1 + Int(length) <= bytes.count else { throw DNSParseError(description: "bad label") }
                labels.append(Array(bytes[position + 1...position + Int(length)]))
                position += 1 + Int(length)
            }
        }
    }
}
