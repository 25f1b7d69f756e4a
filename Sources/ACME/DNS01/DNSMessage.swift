/// One resource record as read from or written to the wire.
struct DNSRecord: Sendable {
    var name: DNSName
    var type: UInt16
    var recordClass: UInt16
    var ttl: UInt32
    var rdata: [UInt8]
}

/// The messages RFC2136Updater sends: an UPDATE (RFC 2136 §2) and a plain query, both unsigned here
/// (TSIG.sign appends the signature).
enum DNSMessageBuilder {
    /// Header, zone section (the zone's SOA, class IN), no prerequisites, `updates` as the update section.
    static func update(id: UInt16, zone: DNSName, updates: [DNSRecord]) -> [UInt8] {
        var writer = DNSWriter()
        writer.u16(id)
        writer.u16(UInt16(DNSOpcode.update) << 11)
        writer.u16(1)  // ZOCOUNT
        writer.u16(0)  // PRCOUNT
        writer.u16(UInt16(updates.count))  // UPCOUNT
        writer.u16(0)  // ADCOUNT (TSIG adds itself)
        writer.name(zone)
        writer.u16(DNSType.soa)
        writer.u16(DNSClass.internet)
        for record in updates { append(record, to: &writer) }
        return writer.bytes
    }

    /// A query without recursion desired: the server asked is the authoritative one.
    static func query(id: UInt16, name: DNSName, type: UInt16) -> [UInt8] {
        var writer = DNSWriter()
        writer.u16(id)
        writer.u16(0)
        writer.u16(1)
        writer.u16(0)
        writer.u16(0)
        writer.u16(0)
        writer.name(name)
        writer.u16(type)
        writer.u16(DNSClass.internet)
        return writer.bytes
    }

    static func append(_ record: DNSRecord, to writer: inout DNSWriter) {
        writer.name(record.name)
        writer.u16(record.type)
        writer.u16(record.recordClass)
        writer.u32(record.ttl)
        writer.u16(UInt16(record.rdata.count))
        writer.append(record.rdata)
    }

    /// TXT RDATA (RFC 1035 §3.3.14): the value as character-strings of at most 255 bytes each.
    static func txtRData(_ value: String) -> [UInt8] {
        let bytes = Array(value.utf8)
        guard !bytes.isEmpty else { return [0] }
        var rdata: [UInt8] = []
        var start = 0
        while start < bytes.count {
            let chunk = bytes[start..<min(start + 255, bytes.count)]
            rdata.append(UInt8(chunk.count))
            rdata += chunk
            start += 255
        }
        return rdata
    }

    /// The character-strings of TXT RDATA joined, as a DNS-01 validator reads them.
    static func txtValue(_ rdata: [UInt8]) -> String? {
        var reader = DNSReader(rdata)
        var value: [UInt8] = []
        while reader.offset < rdata.count {
            guard let length = try? reader.u8(), let chunk = try? reader.take(Int(length)) else { return nil }
            value += chunk
        }
        return String(decoding: value, as: UTF8.self)
    }
}

/// A parsed message. UPDATE's zone/prerequisite/update sections sit where a query's
/// question/answer/authority sections do (RFC 2136 §2), so one parser reads both.
struct DNSMessage: Sendable {
    var id: UInt16
    var flags: UInt16
    var questions: [(name: DNSName, type: UInt16, recordClass: UInt16)]
    var answers: [DNSRecord]
    var authority: [DNSRecord]
    var additional: [DNSRecord]
    /// The TSIG record when it is the last additional record (RFC 8945 §5.1), and where it starts.
    var tsig: (record: TSIGRecord, offset: Int)?

    var isResponse: Bool { flags & 0x8000 != 0 }
    var opcode: UInt8 { UInt8((flags >> 11) & 0xf) }
    var isTruncated: Bool { flags & 0x0200 != 0 }
    var rcode: UInt16 { flags & 0xf }

    init(parsing bytes: [UInt8]) throws(DNSParseError) {
        var reader = DNSReader(bytes)
        id = try reader.u16()
        flags = try reader.u16()
        let counts = [try reader.u16(), try reader.u16(), try reader.u16(), try reader.u16()]
        questions = []
        for _ in 0..<counts[0] { questions.append((try reader.name(), try reader.u16(), try reader.u16())) }
        var sections: [[DNSRecord]] = [[], [], []]
        var lastRecordOffset = 0
        for section in 0..<3 {
            for _ in 0..<counts[section + 1] {
                lastRecordOffset = reader.offset
                let name = try reader.name()
                let type = try reader.u16(), recordClass = try reader.u16(), ttl = try reader.u32()
                let length = try reader.u16()
                let rdataStart = reader.offset
                let rdata = try reader.take(Int(length))
                if section == 2, type == DNSType.tsig {
                    tsig = (try TSIGRecord(keyName: name, bytes: bytes, rdataStart: rdataStart, rdataEnd: reader.offset),
                            lastRecordOffset)
                    guard reader.offset == bytes.count else { throw DNSParseError(description: "TSIG is not the last record") }
                }
                sections[section].append(DNSRecord(name: name, type: type, recordClass: recordClass, ttl: ttl, rdata: rdata))
            }
        }
        (answers, authority, additional) = (sections[0], sections[1], sections[2])
    }
}
