@testable import ACME
import PebbleLab
import Foundation

/// BIND 9's named (Debian `bind9`) in the foreground on a free loopback port, primary for `example.test`
/// with dynamic updates allowed to two TSIG keys: the RFC 2136 target of the DNS-01 tests (challtestsrv
/// answers UPDATE with NOTIMP). Its names (the zone apex, `apps`, `*.apps`, `ns1`) resolve to 127.0.0.1,
/// so Pebble can use it as its only DNS server. Zone file, journal and keys live in a temporary directory.
struct Named {
    static let zone = "example.test"

    let port: Int
    /// The key `allow-update` names, HMAC-SHA256.
    let key: TSIGKey
    /// Its secret as named.conf and a TSIG Secret manifest hold it (base64).
    let keySecret: String
    /// A second allowed key, HMAC-SHA512.
    let sha512Key: TSIGKey
    let workDirectory: URL

    var server: String { "127.0.0.1:\(port)" }

    /// Starts named, waits until it answers, runs `body` and stops it, also when `body` throws.
    static func with<Result>(_ body: (Named) async throws -> Result) async throws -> Result {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("archway-named-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let secret256 = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        let secret512 = Data((0..<64).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        let port = try freeLoopbackPort()
        // No rndc channel (`controls {}`), no pid file, every file in `work`: nothing of the host's BIND is used.
        let configuration = """
            options {
                directory "\(work.path)";
                listen-on port \(port) { 127.0.0.1; };
                listen-on-v6 { none; };
                pid-file none;
                session-keyfile "\(work.path)/session.key";
                managed-keys-directory "\(work.path)";
                recursion no;
                dnssec-validation no;
                notify no;
            };
            controls { };
            key "archway" { algorithm hmac-sha256; secret "\(secret256)"; };
            key "archway-512" { algorithm hmac-sha512; secret "\(secret512)"; };
            zone "\(zone)" {
                type primary;
                file "\(zone).zone";
                allow-update { key "archway"; key "archway-512"; };
            };
            """
        let zoneFile = """
            $TTL 60
            @       IN SOA ns1.\(zone). hostmaster.\(zone). 1 60 60 600 60
            @       IN NS  ns1.\(zone).
            @       IN A   127.0.0.1
            ns1     IN A   127.0.0.1
            apps    IN A   127.0.0.1
            *.apps  IN A   127.0.0.1

            """
        let configPath = work.appendingPathComponent("named.conf")
        try configuration.write(to: configPath, atomically: true, encoding: .utf8)
        try zoneFile.write(to: work.appendingPathComponent("\(zone).zone"), atomically: true, encoding: .utf8)

        // -g: foreground, log to stderr; -4: IPv4 only; -n 1: one worker thread (the machine is shared).
        // As root no -u is needed; named then keeps running as root, which is fine for a test.
        let process = try Pebble.launch("/usr/sbin/named", ["-g", "-4", "-n", "1", "-c", configPath.path],
                                        log: work.appendingPathComponent("named.log"), environment: [:])
        defer { Pebble.stop(process) }
        let named = Named(port: port,
                          key: try TSIGKey(name: "archway", algorithm: .hmacSHA256, base64Secret: secret256), keySecret: secret256,
                          sha512Key: try TSIGKey(name: "archway-512", algorithm: .hmacSHA512, base64Secret: secret512),
                          workDirectory: work)
        try await named.waitUntilServing(process)
        return try await body(named)
    }

    func log() -> String {
        (try? String(contentsOf: workDirectory.appendingPathComponent("named.log"), encoding: .utf8)) ?? ""
    }

    private func waitUntilServing(_ process: Process) async throws {
        let probe = RFC2136Updater(server: server, timeout: .milliseconds(200))
        let deadline = ContinuousClock.now + .seconds(15)
        while (try? await probe.findZone(for: Self.zone)) != Self.zone {
            guard process.isRunning, ContinuousClock.now < deadline else {
                throw PebbleError.notServing("named did not answer on \(server):\n\(log())")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
