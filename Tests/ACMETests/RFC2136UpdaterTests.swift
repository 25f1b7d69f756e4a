@testable import ACME
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

/// RFC2136Updater against a real BIND 9 named (what it is for), and against a scripted UDP server for
/// what named will not do on demand (stay silent, answer unsigned or not as an answer).
@Suite(.timeLimit(.minutes(1)))
struct RFC2136UpdaterTests {
    static let owner = ChallengeResponse.dns01RecordName(for: "*.apps.example.test")

    @Test func setAndRemoveTXTWithTheZoneFoundBySOA() async throws {
        try await Named.with { named in
            let updater = RFC2136Updater(server: named.server, tsig: named.key)
            #expect(try await updater.findZone(for: Self.owner) == "example.test")
            #expect(try await updater.txtValues(name: Self.owner).isEmpty)
            try await updater.setTXT(name: Self.owner, value: "first", ttl: 60)
            try await updater.setTXT(name: Self.owner, value: "second", ttl: 60)
            #expect(Set(try await updater.txtValues(name: Self.owner)) == ["first", "second"])
            try await updater.removeTXT(name: Self.owner, value: "first")
            #expect(try await updater.txtValues(name: Self.owner) == ["second"])
            try await updater.removeTXT(name: Self.owner, value: "second")
            try await updater.removeTXT(name: Self.owner, value: "second")  // already gone: no error
            #expect(try await updater.txtValues(name: Self.owner).isEmpty)
        }
    }

    @Test func anHMACSHA512KeyAndAGivenZone() async throws {
        try await Named.with { named in
            let updater = RFC2136Updater(server: named.server, zone: "example.test", tsig: named.sha512Key)
            try await updater.setTXT(name: "_acme-challenge.example.test", value: "sha512", ttl: 30)
            #expect(try await updater.txtValues(name: "_acme-challenge.example.test") == ["sha512"])
        }
    }

    @Test func aWrongSecretIsBADSIGAndChangesNothing() async throws {
        try await Named.with { named in
            let wrong = try TSIGKey(name: "archway", secret: Data(repeating: 1, count: 32))
            for zone in ["example.test", nil] as [String?] {  // the UPDATE itself, and the SOA query before it
                let error = await #expect(throws: RFC2136Error.self) {
                    try await RFC2136Updater(server: named.server, zone: zone, tsig: wrong).setTXT(name: Self.owner, value: "x", ttl: 60)
                }
                #expect(error?.rcode == "NOTAUTH/BADSIG")
                let description = "\(error.map { "\($0)" } ?? "")"
                #expect(description.contains(named.server) && description.contains(Self.owner) && description.contains("BADSIG"))
            }
            #expect(try await RFC2136Updater(server: named.server).txtValues(name: Self.owner).isEmpty)
        }
    }

    @Test func anUnknownKeyIsBADKEYAndNoKeyIsREFUSED() async throws {
        try await Named.with { named in
            let unknown = try TSIGKey(name: "stranger", secret: Data(repeating: 1, count: 32))
            let badKey = await #expect(throws: RFC2136Error.self) {
                try await RFC2136Updater(server: named.server, zone: "example.test", tsig: unknown).setTXT(name: Self.owner, value: "x")
            }
            #expect(badKey?.rcode == "NOTAUTH/BADKEY")
            let unsigned = await #expect(throws: RFC2136Error.self) {
                try await RFC2136Updater(server: named.server, zone: "example.test").setTXT(name: Self.owner, value: "x")
            }
            #expect(unsigned?.rcode == "REFUSED")
        }
    }

    /// Signed an hour off named's clock (fudge is 300 s): named refuses with BADTIME and nothing changes.
    @Test func aSkewedClockIsBADTIME() async throws {
        try await Named.with { named in
            var skewed = RFC2136Updater(server: named.server, zone: "example.test", tsig: named.key)
            skewed.clockSkew = -3600
            let updater = skewed
            do {
                try await updater.setTXT(name: Self.owner, value: "late")
                Issue.record("named took an update signed an hour ago")
            } catch let error as RFC2136Error {
                #expect(error.rcode == "NOTAUTH/BADTIME")
            }
            #expect(try await RFC2136Updater(server: named.server).txtValues(name: Self.owner).isEmpty)
        }
    }

    @Test func aNameOutsideTheZoneIsNOTZONEAndWithoutAZoneNoneIsFound() async throws {
        try await Named.with { named in
            let outside = "_acme-challenge.shop.example.org"
            let notZone = await #expect(throws: RFC2136Error.self) {
                try await RFC2136Updater(server: named.server, zone: "example.test", tsig: named.key).setTXT(name: outside, value: "x")
            }
            #expect(notZone?.rcode == "NOTZONE")
            #expect("\(notZone.map { "\($0)" } ?? "")".contains("_acme-challenge.shop.example.org in zone example.test: NOTZONE"))
            let notFound = await #expect(throws: RFC2136Error.self) {
                try await RFC2136Updater(server: named.server, tsig: named.key).setTXT(name: outside, value: "x")
            }
            #expect(notFound == .zoneNotFound(server: named.server, name: outside, lastRCode: "REFUSED"))
            // A zone named does not serve: it is not authoritative for it.
            let otherZone = await #expect(throws: RFC2136Error.self) {
                try await RFC2136Updater(server: named.server, zone: "example.org", tsig: named.key).setTXT(name: outside, value: "x")
            }
            #expect(otherZone?.rcode == "NOTAUTH")
        }
    }

    /// A 700-byte value: the UPDATE does not fit 512 bytes, so it goes by TCP; the TXT answer does not
    /// either, so named answers the UDP query truncated (TC, no records: we send no EDNS) and the query is
    /// asked again by TCP. Without the fallback the value would not be read back.
    @Test func whatDoesNotFitUDPGoesByTCP() async throws {
        let value = String(repeating: "v", count: 700)
        try await Named.with { named in
            let updater = RFC2136Updater(server: named.server, tsig: named.key)
            try await updater.setTXT(name: Self.owner, value: value)
            #expect(try await updater.txtValues(name: Self.owner) == [value])
            try await updater.removeTXT(name: Self.owner, value: value)
            #expect(try await updater.txtValues(name: Self.owner).isEmpty)
        }
        // A UDP-only server never sees the big UPDATE; the error says TCP found nobody.
        try await withServer(try await ScriptedDNSServer { _ in nil }) { server in
            let updater = RFC2136Updater(server: "127.0.0.1:\(server.port)", zone: "example.test", timeout: .milliseconds(300))
            let error = await #expect(throws: RFC2136Error.self) { try await updater.setTXT(name: Self.owner, value: value) }
            guard case .noAnswer = error else { Issue.record("\(String(describing: error))"); return }
            #expect(server.received.isEmpty)
        }
    }

    @Test func aWildcardOwnerIsRefusedBeforeAnythingIsSent() async throws {
        let error = await #expect(throws: RFC2136Error.self) {
            try await RFC2136Updater(server: "127.0.0.1:9").setTXT(name: "*.apps.example.test", value: "x")
        }
        #expect("\(error.map { "\($0)" } ?? "")".contains("dns01RecordName"))
    }

    @Test func aSilentServerGetsTheUpdateTwiceThenTheErrorNamesIt() async throws {
        try await withServer(try await ScriptedDNSServer { _ in nil }) { server in
            let updater = RFC2136Updater(server: "127.0.0.1:\(server.port)", zone: "example.test", timeout: .milliseconds(300))
            let error = await #expect(throws: RFC2136Error.self) { try await updater.setTXT(name: Self.owner, value: "x") }
            guard case .noAnswer(let address, let name, _) = error else { Issue.record("\(String(describing: error))"); return }
            #expect(address == "127.0.0.1:\(server.port)" && name == Self.owner)
            let received = server.received
            #expect(received.count == 2 && received[0] == received[1])
        }
    }

    @Test func answersThatAreNotSignedAnswersAreNotTaken() async throws {
        let key = try TSIGKey(name: "archway", base64Secret: RFC2136MessageTests.secret)
        // The request echoed back: QR clear.
        try await withServer(try await ScriptedDNSServer { $0 }) { server in
            let updater = RFC2136Updater(server: "127.0.0.1:\(server.port)", zone: "example.test", tsig: key, timeout: .milliseconds(500))
            let error = await #expect(throws: RFC2136Error.self) { try await updater.setTXT(name: Self.owner, value: "x") }
            #expect("\(error.map { "\($0)" } ?? "")".contains("QR false"))
        }
        // NOERROR without a TSIG, and NOERROR signed with another secret.
        let otherKey = try TSIGKey(name: "archway", secret: Data(repeating: 9, count: 32))
        for signer in [nil, otherKey] as [TSIGKey?] {
            try await withServer(try await ScriptedDNSServer { request in
                var answer = Array(request[..<12]) + Array(request[12..<(12 + 14 + 4)])  // header + zone section
                (answer[2], answer[3]) = (0xa8, 0x00)
                (answer[6], answer[7], answer[8], answer[9], answer[10], answer[11]) = (0, 0, 0, 0, 0, 0)
                guard let signer, let parsed = try? DNSMessage(parsing: request), let mac = parsed.tsig?.record.mac else { return answer }
                return signAnswer(answer, key: signer, requestMAC: mac, time: UInt64(Date().timeIntervalSince1970))
            }) { server in
                let updater = RFC2136Updater(server: "127.0.0.1:\(server.port)", zone: "example.test", tsig: key, timeout: .milliseconds(500))
                let error = await #expect(throws: RFC2136Error.self) { try await updater.setTXT(name: Self.owner, value: "x") }
                guard case .badAnswer(_, _, let reason) = error else { Issue.record("\(String(describing: error))"); return }
                #expect(reason == (signer == nil ? TSIG.Failure.unsigned : TSIG.Failure.badMAC).description)
            }
        }
    }
}

/// A UDP DNS server whose answer to each datagram is `answer(request)` (nil: silence); it keeps what it got.
final class ScriptedDNSServer: LoopbackTestServer {
    let port: Int
    private let log: NIOLockedValueBox<[[UInt8]]>
    private let channel: any Channel

    var received: [[UInt8]] { log.withLockedValue { $0 } }

    init(answer: @escaping @Sendable ([UInt8]) -> [UInt8]?) async throws {
        let log = NIOLockedValueBox<[[UInt8]]>([])
        channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Responder(log: log, answer: answer))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
        self.log = log
    }

    func close() async { try? await channel.close() }

    private final class Responder: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>
        let log: NIOLockedValueBox<[[UInt8]]>
        let answer: @Sendable ([UInt8]) -> [UInt8]?
        init(log: NIOLockedValueBox<[[UInt8]]>, answer: @escaping @Sendable ([UInt8]) -> [UInt8]?) {
            (self.log, self.answer) = (log, answer)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            let request = Array(envelope.data.readableBytesView)
            log.withLockedValue { $0.append(request) }
            guard let reply = answer(request) else { return }
            context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: ByteBuffer(bytes: reply))),
                                  promise: nil)
        }
    }
}
