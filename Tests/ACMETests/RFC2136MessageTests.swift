@testable import ACME
import Crypto
import Foundation
import Testing

/// The RFC 2136 UPDATE and its TSIG as bytes, without sockets. The vectors are what nsupdate (BIND
/// 9.18) sent for the same update, captured off a UDP socket:
/// `nsupdate -y hmac-sha256:archway:c2Vj…MTI=` with `zone example.test`,
/// `update add _acme-challenge.apps.example.test. 60 TXT "hello"` (and `update delete … TXT "hello"`).
struct RFC2136MessageTests {
    static let secret = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI="
    static let nsupdateAddSHA256 = "60d428000001000000010001076578616d706c65047465737400000600010f5f61636d652d6368616c6c656e67650461707073076578616d706c65047465737400001000010000003c00060568656c6c6f07617263687761790000fa00ff00000000003d0b686d61632d7368613235360000006b1564dd012c00200fa43e88ca84cd8f2efaf4838f82a4082e72c8dbaf8ee27611ba3bf1a4fac37860d400000000"
    static let nsupdateAddSHA512 = "145628000001000000010001076578616d706c65047465737400000600010f5f61636d652d6368616c6c656e67650461707073076578616d706c65047465737400001000010000003c00060568656c6c6f07617263687761790000fa00ff00000000005d0b686d61632d7368613531320000006b1564df012c004083c4492c9a2d05e9681847ddd45ff716bca41c6f32eb8b6c081881d972603dfd38dbaa76031c12fb1df2f1704c1b37edfa36b056d65379440bdf5e3c7b408c5a145600000000"
    static let nsupdateDeleteSHA256 = "a82328000001000000010001076578616d706c65047465737400000600010f5f61636d652d6368616c6c656e67650461707073076578616d706c65047465737400001000fe0000000000060568656c6c6f07617263687761790000fa00ff00000000003d0b686d61632d7368613235360000006b1564e3012c0020db533a447538f970f16834ee04d29a569034a4dcbbc3347ce1deaea699055199a82300000000"

    static let zone = DNSName("example.test")!
    static let owner = DNSName(ChallengeResponse.dns01RecordName(for: "*.apps.example.test"))!

    static func add(_ value: String = "hello", ttl: UInt32 = 60) -> DNSRecord {
        DNSRecord(name: owner, type: DNSType.txt, recordClass: DNSClass.internet, ttl: ttl, rdata: DNSMessageBuilder.txtRData(value))
    }

    static func delete(_ value: String = "hello") -> DNSRecord {
        DNSRecord(name: owner, type: DNSType.txt, recordClass: DNSClass.none, ttl: 0, rdata: DNSMessageBuilder.txtRData(value))
    }

    @Test func aWildcardsRecordIsAtItsBaseName() {
        #expect(Self.owner.description == "_acme-challenge.apps.example.test")
        #expect(Self.owner.isSubdomain(of: Self.zone))
        #expect(DNSName("EXAMPLE.Test.") == Self.zone)
        #expect(DNSName("a..b") == nil)
        #expect(DNSName(String(repeating: "x", count: 64) + ".test") == nil)
    }

    @Test func anAddUpdateIsZoneThenOneRecordField_by_field() throws {
        let bytes = DNSMessageBuilder.update(id: 0x1234, zone: Self.zone, updates: [Self.add()])
        var reader = DNSReader(bytes)
        #expect(try reader.u16() == 0x1234)
        #expect(try reader.u16() == 0x2800)  // QR 0, opcode 5 (UPDATE), no flags
        #expect(try [reader.u16(), reader.u16(), reader.u16(), reader.u16()] == [1, 0, 1, 0])  // ZO, PR, UP, AD counts
        // Zone section: the zone's name, SOA, IN.
        #expect(try reader.name() == Self.zone)
        #expect(try reader.u16() == 6)
        #expect(try reader.u16() == 1)
        // No prerequisites; the update: owner, TXT, class IN, TTL, RDATA one character-string.
        #expect(try reader.name().description == "_acme-challenge.apps.example.test")
        #expect(try reader.u16() == 16)
        #expect(try reader.u16() == 1)
        #expect(try reader.u32() == 60)
        #expect(try reader.u16() == 6)
        #expect(try reader.take(6) == [5] + Array("hello".utf8))
        #expect(reader.offset == bytes.count)
    }

    @Test func aDeleteIsClassNONEWithTTLZeroAndTheValue() throws {
        let bytes = DNSMessageBuilder.update(id: 7, zone: Self.zone, updates: [Self.delete()])
        let message = try DNSMessage(parsing: bytes)
        #expect(message.opcode == 5 && !message.isResponse)
        #expect(message.questions.count == 1 && message.questions[0].type == DNSType.soa)
        #expect(message.answers.isEmpty)  // prerequisites
        let record = try #require(message.authority.first)  // the update section
        #expect(record.recordClass == 254 && record.ttl == 0 && record.type == 16)
        #expect(DNSMessageBuilder.txtValue(record.rdata) == "hello")
    }

    @Test(arguments: [
        (nsupdateAddSHA256, TSIGKey.Algorithm.hmacSHA256, false),
        (nsupdateAddSHA512, TSIGKey.Algorithm.hmacSHA512, false),
        (nsupdateDeleteSHA256, TSIGKey.Algorithm.hmacSHA256, true),
    ])
    func theSignedUpdateIsByteForByteWhatNsupdateSends(vector: String, algorithm: TSIGKey.Algorithm, delete: Bool) throws {
        let expected = hex(vector)
        let id = UInt16(expected[0]) << 8 | UInt16(expected[1])
        let parsed = try DNSMessage(parsing: expected)
        let tsig = try #require(parsed.tsig?.record)
        let key = try TSIGKey(name: "archway", algorithm: algorithm, base64Secret: Self.secret)
        let unsigned = DNSMessageBuilder.update(id: id, zone: Self.zone, updates: [delete ? Self.delete() : Self.add()])
        let (signed, mac) = TSIG.sign(unsigned, key: key, timeSigned: tsig.timeSigned)
        #expect(signed == expected)
        #expect(mac == tsig.mac)
    }

    @Test func theTSIGRecordsFieldsAndTheDataItsMACCovers() throws {
        let key = try TSIGKey(name: "archway", base64Secret: Self.secret)
        let unsigned = DNSMessageBuilder.update(id: 0xbeef, zone: Self.zone, updates: [Self.add()])
        let (signed, mac) = TSIG.sign(unsigned, key: key, timeSigned: 1_700_000_000)
        #expect(signed[10...11] == [0, 1])  // ARCOUNT now counts the TSIG
        var reader = DNSReader(signed, offset: unsigned.count)
        #expect(try reader.name().description == "archway")
        #expect(try reader.u16() == 250)  // TSIG
        #expect(try reader.u16() == 255)  // ANY
        #expect(try reader.u32() == 0)
        _ = try reader.u16()  // RDLENGTH
        #expect(try reader.name().description == "hmac-sha256")
        #expect(try reader.u48() == 1_700_000_000)
        #expect(try reader.u16() == 300)  // fudge
        #expect(try reader.u16() == 32)
        #expect(try reader.take(32) == mac)
        #expect(try reader.u16() == 0xbeef)  // original ID
        #expect(try reader.u16() == 0)  // error
        #expect(try reader.u16() == 0)  // other len
        #expect(reader.offset == signed.count)

        // RFC 8945 §4.3.3: the message as it was, then key name, class ANY, TTL 0, algorithm, time, fudge, error, other len.
        var variables = DNSWriter()
        variables.append(Array("\u{7}archway\u{0}".utf8))
        variables.u16(255)
        variables.u32(0)
        variables.append(Array("\u{b}hmac-sha256\u{0}".utf8))
        variables.u48(1_700_000_000)
        variables.u16(300)
        variables.u16(0)
        variables.u16(0)
        let expected = HMAC<SHA256>.authenticationCode(for: unsigned + variables.bytes,
                                                       using: SymmetricKey(data: Data(base64Encoded: Self.secret)!))
        #expect(mac == Array(expected))
    }

    /// An answer signed the way a server signs it: over the request's MAC, the answer, the variables.
    @Test func anAnswersTSIGVerifiesOnlyOverTheRequestMACAndUntouchedBytes() throws {
        let key = try TSIGKey(name: "archway", base64Secret: Self.secret)
        let (_, requestMAC) = TSIG.sign(DNSMessageBuilder.update(id: 42, zone: Self.zone, updates: [Self.add()]),
                                        key: key, timeSigned: 1_700_000_000)
        var answer = DNSWriter()
        answer.u16(42)
        answer.u16(0xa800)  // QR, UPDATE, NOERROR
        answer.u16(1); answer.u16(0); answer.u16(0); answer.u16(0)
        answer.name(Self.zone); answer.u16(6); answer.u16(1)
        let signed = signAnswer(answer.bytes, key: key, requestMAC: requestMAC, time: 1_700_000_001)
        let parsed = try DNSMessage(parsing: signed)
        #expect(parsed.isResponse && parsed.opcode == 5 && parsed.rcode == 0)
        try TSIG.verify(signed, parsed: parsed, key: key, requestMAC: requestMAC, now: 1_700_000_002)

        #expect(throws: TSIG.Failure.badMAC) {
            try TSIG.verify(signed, parsed: parsed, key: key, requestMAC: [UInt8](repeating: 1, count: 32), now: 1_700_000_002)
        }
        var tampered = signed
        tampered[3] |= 0x05  // REFUSED in place of NOERROR
        #expect(throws: TSIG.Failure.badMAC) {
            try TSIG.verify(tampered, parsed: try DNSMessage(parsing: tampered), key: key, requestMAC: requestMAC, now: 1_700_000_002)
        }
        let otherSecret = try TSIGKey(name: "archway", secret: Data(repeating: 7, count: 32))
        #expect(throws: TSIG.Failure.badMAC) {
            try TSIG.verify(signed, parsed: parsed, key: otherSecret, requestMAC: requestMAC, now: 1_700_000_002)
        }
        #expect(throws: TSIG.Failure.badTime(serverTime: 1_700_000_001)) {
            try TSIG.verify(signed, parsed: parsed, key: key, requestMAC: requestMAC, now: 1_700_001_000)
        }
        #expect(throws: TSIG.Failure.unsigned) {
            try TSIG.verify(answer.bytes, parsed: try DNSMessage(parsing: answer.bytes), key: key, requestMAC: requestMAC, now: 1_700_000_002)
        }
    }

    @Test func longTXTValuesAreSplitIntoCharacterStrings() {
        let value = String(repeating: "a", count: 300)
        let rdata = DNSMessageBuilder.txtRData(value)
        #expect(rdata.count == 302 && rdata[0] == 255 && rdata[256] == 45)
        #expect(DNSMessageBuilder.txtValue(rdata) == value)
    }

    @Test func compressedNamesInAnswersAreFollowed() throws {
        // "example.test" at 12, then "ns1" + pointer to 12; a pointer forward or to itself is refused.
        let bytes: [UInt8] = Array(repeating: 0, count: 12) + [7] + Array("example".utf8) + [4] + Array("test".utf8) + [0]
            + [3] + Array("ns1".utf8) + [0xc0, 12]
        var reader = DNSReader(bytes, offset: 26)
        #expect(try reader.name().description == "ns1.example.test")
        #expect(reader.offset == bytes.count)
        var loop = DNSReader(bytes + [0xc0, UInt8(bytes.count)], offset: bytes.count)
        #expect(throws: DNSParseError.self) { try loop.name() }
    }
}

func hex(_ text: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = text.startIndex
    while index < text.endIndex {
        let next = text.index(index, offsetBy: 2)
        bytes.append(UInt8(text[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

/// Signs `answer` as a server answers a signed request (RFC 8945 §5.3.1): the request's MAC (with its
/// length) comes first in what the MAC covers.
func signAnswer(_ answer: [UInt8], key: TSIGKey, requestMAC: [UInt8], time: UInt64, error: UInt16 = 0) -> [UInt8] {
    var record = TSIGRecord(keyName: key.keyName, algorithm: key.algorithm.name, timeSigned: time, fudge: 300, mac: [],
                            originalID: UInt16(answer[0]) << 8 | UInt16(answer[1]), error: error, otherData: [])
    var covered = DNSWriter()
    covered.u16(UInt16(requestMAC.count))
    covered.append(requestMAC)
    covered.append(answer)
    record.mac = key.mac(covered.bytes + record.variables)
    var signed = answer
    signed[11] += 1
    var tail = DNSWriter()
    DNSMessageBuilder.append(DNSRecord(name: key.keyName, type: DNSType.tsig, recordClass: DNSClass.any, ttl: 0, rdata: record.rdata),
                             to: &tail)
    return signed + tail.bytes
}
