@testable import DataPlane
import Foundation
import NIOCore
import NIOEmbedded
import NIOSSL
import RoutingTable
import Testing

/// TLS-ALPN-01 (RFC 8737) on a TLS port: the ClientHello's ALPN read in place on real ClientHello
/// bytes (never crashing on broken ones), and the port's choice between the challenge certificate and
/// the listener's own.
@Suite struct ACMEChallengeTLSTests {
    /// `openssl s_client -connect … -servername app.example.test -alpn acme-tls/1`, as it arrived (OpenSSL 3.0).
    static let opensslACMEHello = hex("""
        160301014e0100014a03034b807e368dfc34346f775cbf5bdae2a28b36b0e7eda19af8743de9414bd4829620aebf5709
        b80a916bf742986085fc9b881ca49057652f777648504ea3fbd22076003e130213031301c02cc030009fcca9cca8ccaa
        c02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d003c0035002f00ff010000c3
        0000001500130000106170702e6578616d706c652e74657374000b000403000102000a00160014001d0017001e001900
        1801000101010201030104002300000010000d000b0a61636d652d746c732f310016000000170000000d002a00280403
        05030603080708080809080a080b080408050806040105010601030303010302040205020602002b0009080304030303
        020301002d00020101003300260024001d002054f117ec02192156d7018b68d154c342a569a0b80df637f74ca0497b9a
        1e3603
        """)
    /// The same with `-alpn h2,http/1.1`.
    static let opensslHTTPHello = hex("""
        160301014f0100014b0303c7816dd4b78729f3a770e70dfec5da994a4d8175c5d7e4c6ad6466da070ce04720de80d032
        31d02a1ec802fe4569c5240cf1036fdbd00fc512bbc3e6b47142b6e8003e130213031301c02cc030009fcca9cca8ccaa
        c02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d003c0035002f00ff010000c4
        0000001500130000106170702e6578616d706c652e74657374000b000403000102000a00160014001d0017001e001900
        1801000101010201030104002300000010000e000c02683208687474702f312e310016000000170000000d002a002804
        0305030603080708080809080a080b080408050806040105010601030303010302040205020602002b00090803040303
        03020301002d00020101003300260024001d0020d4b1edd68897937a0f81ec80f4a1bf9b5321ad32ea67be14ccea0fcf
        a3f29f11
        """)

    static func hex(_ lines: String) -> [UInt8] {
        let text = lines.filter(\.isHexDigit)
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(UInt8(text[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    static func offersACME(_ bytes: [UInt8]) -> Bool {
        ClientHelloALPN.offers(ClientHelloALPN.acmeTLS1, in: ByteBuffer(bytes: bytes))
    }

    /// The first bytes BoringSSL (NIOSSL's client) sends for `alpn` and `serverName`, taken from an
    /// embedded channel: a second, independent ClientHello layout (TLS 1.3 key shares, GREASE).
    static func boringSSLHello(alpn: [String], serverName: String = "app.example.test") throws -> [UInt8] {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.applicationProtocols = alpn
        configuration.certificateVerification = .none
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish() }
        try channel.pipeline.syncOperations.addHandler(
            NIOSSLClientHandler(context: try NIOSSLContext(configuration: configuration), serverHostname: serverName))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).wait()
        var hello: [UInt8] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { hello += buffer.readableBytesView }
        return hello
    }

    @Test func aClientHelloOfferingACMETLS1IsToldFromOthers() throws {
        #expect(Self.offersACME(Self.opensslACMEHello))
        #expect(!Self.offersACME(Self.opensslHTTPHello))
        #expect(Self.offersACME(try Self.boringSSLHello(alpn: ["acme-tls/1"])))
        #expect(Self.offersACME(try Self.boringSSLHello(alpn: ["h2", "acme-tls/1"])), "found wherever it stands in the list")
        #expect(!Self.offersACME(try Self.boringSSLHello(alpn: ["h2", "http/1.1"])))
        #expect(!Self.offersACME(try Self.boringSSLHello(alpn: [])), "no ALPN extension at all")
        #expect(!Self.offersACME(try Self.boringSSLHello(alpn: ["acme-tls/10", "acme-tls"])), "only the exact protocol name counts")
    }

    /// A hello cut anywhere (a short first read) counts as not offering it: the connection takes the
    /// ordinary path, whatever the rest would have said.
    @Test func everyTruncatedHelloCountsAsNotOffering() {
        let hello = Self.opensslACMEHello
        for length in 0..<hello.count {
            #expect(!Self.offersACME(Array(hello.prefix(length))), "cut at \(length)")
        }
        // Bytes after the record (the client's next flight, read together) change nothing.
        #expect(Self.offersACME(hello + [0x14, 0x03, 0x03, 0x00, 0x01, 0x01]))
    }

    /// The handshake message split over two TLS records (legal, rare): not read, so not a challenge.
    @Test func aHelloSplitOverRecordsCountsAsNotOffering() {
        let handshake = Array(Self.opensslACMEHello.dropFirst(5))
        func record(_ fragment: ArraySlice<UInt8>) -> [UInt8] { [0x16, 0x03, 0x01, UInt8(fragment.count >> 8), UInt8(fragment.count & 0xff)] + fragment }
        let split = record(handshake[..<100]) + record(handshake[100...])
        #expect(!Self.offersACME(split))
    }

    /// Garbage, and every single byte of a real hello overwritten with values that break its lengths:
    /// an answer every time, never a crash or a hang (the cursor never reads past a length it checked).
    @Test func malformedInputNeverCrashes() throws {
        let hello = Self.opensslACMEHello
        for position in hello.indices {
            for value: UInt8 in [0x00, 0x01, 0x7f, 0xff] {
                var broken = hello
                broken[position] = value
                _ = Self.offersACME(broken)
            }
        }
        var generator = SplitMix64(seed: 0x8737)
        for length in 0..<600 {
            var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            if length > 6 { bytes[0] = 0x16; bytes[5] = 0x01 }  // past the first checks, into the lengths
            #expect(!Self.offersACME(bytes))
        }
        // An ALPN extension whose list claims more than the extension holds.
        var lying = hello
        let alpn = try #require(Self.range(of: [0x00, 0x10, 0x00, 0x0d, 0x00, 0x0b], in: lying))
        lying[alpn.lowerBound + 5] = 0x20
        #expect(!Self.offersACME(lying))
    }

    static func range(of needle: [UInt8], in haystack: [UInt8]) -> Range<Int>? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where Array(haystack[start..<(start + needle.count)]) == needle {
            return start..<(start + needle.count)
        }
        return nil
    }

    // MARK: The port's choice

    static func port(listenerCertificate: TestCertificate?, challenge: TestCertificate?) -> PortTable {
        let listener = ListenerTable(
            refs: [.init(gatewayNamespace: "default", gatewayName: "web", listenerName: "https")], hostname: "app.example.test", virtualHosts: [],
            tls: ListenerTLS(mode: .terminate, certificates: listenerCertificate.map {
                [CertificatePair(source: "default/app-tls", chainPEM: $0.chainPEM, keyPEM: $0.keyPEM)]
            } ?? []))
        return PortTable(port: 443, protocol: "TLS", listeners: [listener], acmeChallenges: challenge.map {
            [ACMEChallengeCertificate(name: "App.Example.Test", certificate: CertificatePair(source: "acme", chainPEM: $0.chainPEM, keyPEM: $0.keyPEM))]
        })
    }

    static func context(_ disposition: TLSDisposition) -> (kind: String, context: NIOSSLContext?) {
        switch disposition {
        case .terminate(let tls): ("terminate", tls.context)
        case .answerACMEChallenge(let context): ("challenge", context)
        case .passthrough: ("passthrough", nil)
        case .refuse: ("refuse", nil)
        }
    }

    /// While a challenge is pending, only a hello that offers acme-tls/1 for its name gets the
    /// challenge certificate; a normal client for the same name still gets the listener's own.
    @Test func onlyTheACMEHandshakeForTheNameGetsTheChallengeCertificate() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("acme-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let own = try TestCertificate(names: ["app.example.test"], in: directory)
        let challenge = try TestCertificate(names: ["app.example.test"], in: directory)
        let cache = TLSContextCache()
        let table = try TLSPortTable(Self.port(listenerCertificate: own, challenge: challenge), cache: cache)
        #expect(table.answersACMEChallenges)
        let ownContext = try cache.context(for: CertificatePair(source: "default/app-tls", chainPEM: own.chainPEM, keyPEM: own.keyPEM))

        let normal = Self.context(table.disposition(serverName: "app.example.test"))
        #expect(normal.kind == "terminate" && normal.context === ownContext, "a normal client keeps the listener's certificate")
        let acme = Self.context(table.disposition(serverName: "APP.example.test", offersACMEProtocol: true))
        #expect(acme.kind == "challenge" && acme.context !== ownContext)
        let otherName = Self.context(table.disposition(serverName: "other.example.test", offersACMEProtocol: true))
        #expect(otherName.kind == "terminate" && otherName.context === ownContext, "no challenge for that name: the ordinary choice")
        #expect(Self.context(table.disposition(serverName: nil, offersACMEProtocol: true)).kind == "terminate", "no SNI: never a challenge")

        // The challenge context negotiates acme-tls/1 only; the listener's still offers h2 and http/1.1.
        let challengeConfiguration = try ServerTLSPolicy.configuration(
            for: CertificatePair(source: "acme", chainPEM: challenge.chainPEM, keyPEM: challenge.keyPEM), acmeChallenge: true)
        #expect(challengeConfiguration.applicationProtocols == ["acme-tls/1"])
    }

    /// Before the first certificate the listener has none: a normal client is refused as before, the
    /// CA gets the challenge certificate. A port with no challenge never needs the ALPN read.
    @Test func beforeTheFirstCertificateOnlyTheCAIsAnswered() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("acme-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let challenge = try TestCertificate(names: ["app.example.test"], in: directory)
        let table = try TLSPortTable(Self.port(listenerCertificate: nil, challenge: challenge), cache: TLSContextCache())
        #expect(Self.context(table.disposition(serverName: "app.example.test")).kind == "refuse")
        #expect(Self.context(table.disposition(serverName: "app.example.test", offersACMEProtocol: true)).kind == "challenge")

        let quiet = try TLSPortTable(Self.port(listenerCertificate: challenge, challenge: nil), cache: TLSContextCache())
        #expect(!quiet.answersACMEChallenges)
        #expect(Self.context(quiet.disposition(serverName: "app.example.test", offersACMEProtocol: true)).kind == "terminate")
    }

    /// The peek handler passes the first read on untouched and leaves the pipeline.
    @Test func thePeekPassesTheBytesOnAndLeaves() throws {
        let peek = ACMEChallengePeek()
        let channel = EmbeddedChannel(handler: peek)
        defer { _ = try? channel.finish() }
        try channel.writeInbound(ByteBuffer(bytes: Self.opensslACMEHello))
        #expect(peek.offersACMEProtocol)
        let passed = try #require(try channel.readInbound(as: ByteBuffer.self))
        #expect(Array(passed.readableBytesView) == Self.opensslACMEHello)
        #expect(throws: (any Error).self) { try channel.pipeline.syncOperations.context(handlerType: ACMEChallengePeek.self) }
    }
}

/// A small deterministic generator, so a failing input can be reproduced.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
