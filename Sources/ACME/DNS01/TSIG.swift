import Crypto
import Foundation

/// A TSIG key (RFC 8945) shared with the DNS server: its name and algorithm as in the server's
/// `key "NAME" { algorithm hmac-sha256; secret "BASE64"; };`.
public struct TSIGKey: Sendable {
    public enum Algorithm: String, Sendable, CaseIterable {
        case hmacSHA256 = "hmac-sha256"
        case hmacSHA512 = "hmac-sha512"

        var name: DNSName { DNSName(labels: [Array(rawValue.utf8)]) }
        var macSize: Int { self == .hmacSHA256 ? 32 : 64 }
    }

    public let name: String
    public let algorithm: Algorithm
    let keyName: DNSName
    let secret: SymmetricKey

    public init(name: String, algorithm: Algorithm = .hmacSHA256, secret: Data) throws {
        guard let keyName = DNSName(name), !keyName.isRoot else { throw RFC2136Error.invalidName(name) }
        self.name = name
        self.algorithm = algorithm
        self.keyName = keyName
        self.secret = SymmetricKey(data: secret)
    }

    /// `secret` as BIND and nsupdate write it: standard base64.
    public init(name: String, algorithm: Algorithm = .hmacSHA256, base64Secret: String) throws {
        guard let secret = Data(base64Encoded: base64Secret.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw RFC2136Error.invalidTSIGSecret(keyName: name)
        }
        try self.init(name: name, algorithm: algorithm, secret: secret)
    }

    func mac(_ data: [UInt8]) -> [UInt8] {
        switch algorithm {
        case .hmacSHA256: Array(HMAC<SHA256>.authenticationCode(for: data, using: secret))
        case .hmacSHA512: Array(HMAC<SHA512>.authenticationCode(for: data, using: secret))
        }
    }

    func isValid(mac: [UInt8], for data: [UInt8]) -> Bool {
        switch algorithm {
        case .hmacSHA256: HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: data, using: secret)
        case .hmacSHA512: HMAC<SHA512>.isValidAuthenticationCode(mac, authenticating: data, using: secret)
        }
    }
}

/// The RDATA of a TSIG record (RFC 8945 §4.2).
struct TSIGRecord: Sendable {
    var keyName: DNSName
    var algorithm: DNSName
    var timeSigned: UInt64
    var fudge: UInt16
    var mac: [UInt8]
    var originalID: UInt16
    var error: UInt16
    var otherData: [UInt8]

    init(keyName: DNSName, algorithm: DNSName, timeSigned: UInt64, fudge: UInt16, mac: [UInt8], originalID: UInt16,
         error: UInt16, otherData: [UInt8]) {
        (self.keyName, self.algorithm, self.timeSigned, self.fudge) = (keyName, algorithm, timeSigned, fudge)
        (self.mac, self.originalID, self.error, self.otherData) = (mac, originalID, error, otherData)
    }

    init(keyName: DNSName, bytes: [UInt8], rdataStart: Int, rdataEnd: Int) throws(DNSParseError) {
        var reader = DNSReader(Array(bytes[..<rdataEnd]), offset: rdataStart)
        self.keyName = keyName
        algorithm = try reader.name()
        timeSigned = try reader.u48()
        fudge = try reader.u16()
        mac = try reader.take(Int(try reader.u16()))
        originalID = try reader.u16()
        error = try reader.u16()
        otherData = try reader.take(Int(try reader.u16()))
        guard reader.offset == rdataEnd else { throw DNSParseError(description: "TSIG RDATA has trailing bytes") }
    }

    /// The "TSIG variables" the MAC covers after the message (RFC 8945 §4.3.3), names in canonical form.
    var variables: [UInt8] {
        var writer = DNSWriter()
        writer.name(keyName.canonical)
        writer.u16(DNSClass.any)
        writer.u32(0)
        writer.name(algorithm.canonical)
        writer.u48(timeSigned)
        writer.u16(fudge)
        writer.u16(error)
        writer.u16(UInt16(otherData.count))
        writer.append(otherData)
        return writer.bytes
    }

    var rdata: [UInt8] {
        var writer = DNSWriter()
        writer.name(algorithm)
        writer.u48(timeSigned)
        writer.u16(fudge)
        writer.u16(UInt16(mac.count))
        writer.append(mac)
        writer.u16(originalID)
        writer.u16(error)
        writer.u16(UInt16(otherData.count))
        writer.append(otherData)
        return writer.bytes
    }
}

/// Signing a request and checking the signed answer (RFC 8945 §5.1, §5.3).
enum TSIG {
    static let fudge: UInt16 = 300

    /// `message` with the TSIG record appended and ARCOUNT raised by one; the MAC covers the message as
    /// it was (its ID is the original ID) and the TSIG variables. Returns the MAC too: the answer's MAC covers it.
    static func sign(_ message: [UInt8], key: TSIGKey, timeSigned: UInt64, fudge: UInt16 = fudge) -> (message: [UInt8], mac: [UInt8]) {
        var record = TSIGRecord(keyName: key.keyName, algorithm: key.algorithm.name, timeSigned: timeSigned, fudge: fudge,
                                mac: [], originalID: UInt16(message[0]) << 8 | UInt16(message[1]), error: 0, otherData: [])
        record.mac = key.mac(message + record.variables)
        var signed = message
        let additional = (UInt16(signed[10]) << 8 | UInt16(signed[11])) + 1
        (signed[10], signed[11]) = (UInt8(additional >> 8), UInt8(additional & 0xff))
        var writer = DNSWriter()
        DNSMessageBuilder.append(DNSRecord(name: key.keyName, type: DNSType.tsig, recordClass: DNSClass.any, ttl: 0,
                                           rdata: record.rdata), to: &writer)
        return (signed + writer.bytes, record.mac)
    }

    enum Failure: Error, Equatable, CustomStringConvertible {
        case unsigned
        case otherKey(String)
        case badMAC
        /// The answer was signed more than `fudge` seconds away from our clock.
        case badTime(serverTime: UInt64)

        var description: String {
            switch self {
            case .unsigned: "the answer carries no TSIG record"
            case .otherKey(let name): "the answer is signed with another key (\(name))"
            case .badMAC: "the answer's TSIG MAC does not verify"
            case .badTime(let time): "the answer was signed at \(time), outside the fudge of our clock"
            }
        }
    }

    /// Checks an answer's TSIG against the request's MAC (RFC 8945 §5.3.4): key and algorithm, MAC over
    /// request MAC + answer without its TSIG (original ID, ARCOUNT one lower) + variables, time within fudge.
    static func verify(_ bytes: [UInt8], parsed: DNSMessage, key: TSIGKey, requestMAC: [UInt8], now: UInt64) throws(Failure) {
        guard let (record, offset) = parsed.tsig else { throw .unsigned }
        guard record.keyName == key.keyName, record.algorithm == key.algorithm.name else {
            throw .otherKey("\(record.keyName) \(record.algorithm)")
        }
        var covered = Array(bytes[..<offset])
        covered[0] = UInt8(record.originalID >> 8)
        covered[1] = UInt8(record.originalID & 0xff)
        let additional = (UInt16(covered[10]) << 8 | UInt16(covered[11])) - 1
        (covered[10], covered[11]) = (UInt8(additional >> 8), UInt8(additional & 0xff))
        var prefix = DNSWriter()
        prefix.u16(UInt16(requestMAC.count))
        prefix.append(requestMAC)
        // Only full-length MACs: a truncated one (RFC 8945 §5.2.2.1) is never sent by us, so never accepted back.
        guard record.mac.count == key.algorithm.macSize,
              key.isValid(mac: record.mac, for: prefix.bytes + covered + record.variables) else { throw .badMAC }
        let drift = now > record.timeSigned ? now - record.timeSigned : record.timeSigned - now
        guard drift <= UInt64(record.fudge) else { throw .badTime(serverTime: record.timeSigned) }
    }
}
