import Foundation

/// Publishes DNS-01 TXT records by RFC 2136 dynamic update to the zone's primary (BIND, Knot, PowerDNS,
/// Windows DNS...), signed with TSIG (RFC 8945) when a key is given. The one DNS-01 mechanism that needs
/// no cloud SDK. Hand-written (this folder, about 750 lines) because no Swift package in Package.swift
/// speaks DNS.
///
/// `name` is the record's owner name: `ChallengeResponse.dns01RecordName(for:)`, which turns
/// `*.apps.example.com` into `_acme-challenge.apps.example.com`.
public struct RFC2136Updater: Sendable {
    /// `host:port`, `[IPv6]:port`, or a host alone for port 53.
    public let server: String
    /// The zone to update; nil: the closest enclosing zone, found by SOA queries to `server`.
    public let zone: String?
    public let tsig: TSIGKey?
    /// How long each UDP attempt (two in all) and the TCP fallback wait.
    public let timeout: Duration
    /// Seconds added to our clock for TSIG's time signed: only tests set it, to see BADTIME.
    var clockSkew: Int64 = 0

    public init(server: String, zone: String? = nil, tsig: TSIGKey? = nil, timeout: Duration = .seconds(3)) {
        self.server = server
        self.zone = zone
        self.tsig = tsig
        self.timeout = timeout
    }

    /// Adds `value` to the TXT RRset at `name` (other values stay: a wildcard and its base name both
    /// put a record at the same name).
    public func setTXT(name: String, value: String, ttl: Int = 60) async throws {
        let owner = try recordName(name)
        let rdata = DNSMessageBuilder.txtRData(value)
        try await update(owner, DNSRecord(name: owner, type: DNSType.txt, recordClass: DNSClass.internet,
                                          ttl: UInt32(clamping: ttl), rdata: rdata))
    }

    /// Deletes exactly this value from the TXT RRset at `name` (RFC 2136 §2.5.4); absent is not an error.
    public func removeTXT(name: String, value: String) async throws {
        let owner = try recordName(name)
        try await update(owner, DNSRecord(name: owner, type: DNSType.txt, recordClass: DNSClass.none, ttl: 0,
                                          rdata: DNSMessageBuilder.txtRData(value)))
    }

    /// The TXT values the server itself answers for `name` (no recursion): to see a record is in place.
    public func txtValues(name: String) async throws -> [String] {
        guard let owner = DNSName(name) else { throw RFC2136Error.invalidName(name) }
        let answer = try await exchange(DNSMessageBuilder.query(id: .random(in: .min ... .max), name: owner, type: DNSType.txt),
                                        name: owner)
        guard answer.rcode == DNSRCode.noError || answer.rcode == DNSRCode.nxDomain else {
            throw RFC2136Error.rejected(server: server, name: owner.description, zone: zone ?? "?", rcode: DNSRCode.name(answer.rcode))
        }
        return answer.answers.filter { $0.type == DNSType.txt && $0.name == owner }.compactMap { DNSMessageBuilder.txtValue($0.rdata) }
    }

    /// The zone `zone` names, else the closest enclosing zone `server` is authoritative for: an SOA query
    /// for the name, then each parent, until an answer holds the SOA (or an NXDOMAIN/NODATA names it).
    public func findZone(for name: String) async throws -> String {
        try await zoneName(for: try recordName(name)).description
    }

    // MARK: -

    private func recordName(_ name: String) throws -> DNSName {
        guard let owner = DNSName(name), !owner.isRoot else { throw RFC2136Error.invalidName(name) }
        // A TXT record at `*.x` is never DNS-01's: the challenge for `*.x` lives at `_acme-challenge.x`.
        guard !owner.hasWildcardLabel else {
            throw RFC2136Error.invalidName("\(name) (use ChallengeResponse.dns01RecordName(for:) for a wildcard)")
        }
        return owner
    }

    private func zoneName(for owner: DNSName) async throws -> DNSName {
        if let zone {
            guard let zoneName = DNSName(zone) else { throw RFC2136Error.invalidName(zone) }
            return zoneName
        }
        var candidate: DNSName? = owner
        var lastRCode: String?
        while let current = candidate, !current.isRoot {
            let answer = try await exchange(DNSMessageBuilder.query(id: .random(in: .min ... .max), name: current, type: DNSType.soa),
                                            name: owner)
            if answer.rcode == DNSRCode.noError || answer.rcode == DNSRCode.nxDomain {
                if answer.answers.contains(where: { $0.type == DNSType.soa && $0.name == current }) { return current }
                if let soa = answer.authority.first(where: { $0.type == DNSType.soa }), current.isSubdomain(of: soa.name) {
                    return soa.name
                }
            }
            lastRCode = DNSRCode.name(answer.rcode)
            candidate = current.parent
        }
        throw RFC2136Error.zoneNotFound(server: server, name: owner.description, lastRCode: lastRCode)
    }

    private func update(_ owner: DNSName, _ record: DNSRecord) async throws {
        let zone = try await zoneName(for: owner)
        let request = DNSMessageBuilder.update(id: .random(in: .min ... .max), zone: zone, updates: [record])
        let answer = try await exchange(request, name: owner, zone: zone)
        guard answer.rcode == DNSRCode.noError else {
            throw RFC2136Error.rejected(server: server, name: owner.description, zone: zone.description, rcode: DNSRCode.name(answer.rcode))
        }
    }

    /// Signs `request` when there is a key, sends it, and returns the answer once it is ours: same ID,
    /// QR set, same opcode, and (with a key) a TSIG that verifies. A TSIG error from the server
    /// (BADSIG, BADKEY, BADTIME: it could not check our signature) is a rejection whatever the rest says.
    private func exchange(_ request: [UInt8], name: DNSName, zone: DNSName? = nil) async throws -> DNSMessage {
        let (host, port) = try hostAndPort()
        var wire = request
        var requestMAC: [UInt8] = []
        if let tsig {
            (wire, requestMAC) = TSIG.sign(request, key: tsig, timeSigned: UInt64(Int64(Date().timeIntervalSince1970) + clockSkew))
        }
        let bytes: [UInt8]
        do {
            bytes = try await DNSTransport(host: host, port: port, timeout: timeout).exchange(wire)
        } catch is CancellationError {
            throw CancellationError()
        } catch let failure as DNSTransport.Failure {
            throw RFC2136Error.noAnswer(server: server, name: name.description, reason: failure.description)
        } catch {
            throw RFC2136Error.noAnswer(server: server, name: name.description, reason: "\(error)")
        }
        let answer: DNSMessage
        do { answer = try DNSMessage(parsing: bytes) } catch {
            throw RFC2136Error.badAnswer(server: server, name: name.description, reason: error.description)
        }
        let requestOpcode = (request[2] >> 3) & 0xf
        guard answer.id == UInt16(request[0]) << 8 | UInt16(request[1]), answer.isResponse, answer.opcode == requestOpcode else {
            throw RFC2136Error.badAnswer(server: server, name: name.description,
                                         reason: "ID \(answer.id), QR \(answer.isResponse), opcode \(answer.opcode) is no answer to our request")
        }
        guard let tsig else { return answer }
        let zoneText = zone?.description ?? "?"
        if let record = answer.tsig?.record, record.error != 0 {
            throw RFC2136Error.rejected(server: server, name: name.description, zone: zoneText,
                                        rcode: DNSRCode.name(answer.rcode) + "/" + DNSRCode.name(record.error))
        }
        // An unsigned error answer is what a server that does not know the key may send: report its RCODE.
        if answer.tsig == nil, answer.rcode != DNSRCode.noError {
            throw RFC2136Error.rejected(server: server, name: name.description, zone: zoneText,
                                        rcode: DNSRCode.name(answer.rcode) + " (unsigned answer)")
        }
        do {
            try TSIG.verify(bytes, parsed: answer, key: tsig, requestMAC: requestMAC, now: UInt64(Date().timeIntervalSince1970))
        } catch {
            throw RFC2136Error.badAnswer(server: server, name: name.description, reason: error.description)
        }
        return answer
    }

    private func hostAndPort() throws -> (String, Int) {
        if server.hasPrefix("["), let close = server.firstIndex(of: "]") {
            let host = String(server[server.index(after: server.startIndex)..<close])
            let rest = server[server.index(after: close)...]
            if rest.isEmpty { return (host, 53) }
            guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()), (1...65535).contains(port) else {
                throw RFC2136Error.invalidServer(server)
            }
            return (host, port)
        }
        let parts = server.split(separator: ":", omittingEmptySubsequences: false)
        switch parts.count {
        case 1 where !server.isEmpty: return (server, 53)
        case 2:
            guard !parts[0].isEmpty, let port = Int(parts[1]), (1...65535).contains(port) else { throw RFC2136Error.invalidServer(server) }
            return (String(parts[0]), port)
        default:
            guard server.contains("::") || parts.count > 2 else { throw RFC2136Error.invalidServer(server) }
            return (server, 53)  // a bare IPv6 address
        }
    }
}
