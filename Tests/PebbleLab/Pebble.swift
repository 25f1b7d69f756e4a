import ACME
import AsyncHTTPClient
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOFoundationCompat

/// Pebble (the ACME test CA) and pebble-challtestsrv (the DNS server Pebble resolves names through),
/// both from the Debian package `pebble`, on free loopback ports of their own; or Pebble alone, resolving
/// through a DNS server the test runs (named, for RFC 2136).
public struct Pebble {
    public struct Options {
        /// Where the test's HTTP-01 and TLS-ALPN-01 servers listen: Pebble validates there.
        public var httpPort = 0
        public var tlsPort = 0
        public var externalAccountMACKeys: [String: String]?
        /// `host:port` of the DNS server Pebble resolves through; nil: a challtestsrv of its own.
        public var dnsServer: String?
        /// Percentage of orders that reuse a valid authorization instead of validating again
        /// (PEBBLE_AUTHZREUSE); nil: Pebble's default.
        public var authorizationReuse: Int?
        public init(httpPort: Int = 0, tlsPort: Int = 0, externalAccountMACKeys: [String: String]? = nil, dnsServer: String? = nil,
                    authorizationReuse: Int? = nil) {
            self.httpPort = httpPort
            self.tlsPort = tlsPort
            self.externalAccountMACKeys = externalAccountMACKeys
            self.dnsServer = dnsServer
            self.authorizationReuse = authorizationReuse
        }
    }

    public let directoryURL: String
    public let managementURL: String
    /// nil when the test runs the DNS server (`Options.dnsServer`).
    public let challengeServerManagementURL: String?
    /// The root Pebble's own TLS certificate chains to (not the root it issues under).
    public let tlsTrustRootPEM: String
    public let workDirectory: URL

    /// Starts both, runs `body` and stops them, also when `body` throws.
    public static func with<Result>(_ options: Options, _ body: (Pebble) async throws -> Result) async throws -> Result {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("archway-pebble-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let serverCertificate = try ACMETestServerCertificate()
        try serverCertificate.certificatePEM.write(to: work.appendingPathComponent("cert.pem"), atomically: true, encoding: .utf8)
        try serverCertificate.privateKeyPEM.write(to: work.appendingPathComponent("key.pem"), atomically: true, encoding: .utf8)

        let (acmePort, managementPort, dnsPort, challengeManagementPort) = (try freeLoopbackPort(), try freeLoopbackPort(),
                                                                            try freeLoopbackPort(), try freeLoopbackPort())
        var pebbleSettings: [String: Any] = [
            "listenAddress": "127.0.0.1:\(acmePort)",
            "managementListenAddress": "127.0.0.1:\(managementPort)",
            "certificate": work.appendingPathComponent("cert.pem").path,
            "privateKey": work.appendingPathComponent("key.pem").path,
            "httpPort": options.httpPort,
            "tlsPort": options.tlsPort,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": options.externalAccountMACKeys != nil,
        ]
        if let keys = options.externalAccountMACKeys { pebbleSettings["externalAccountMACKeys"] = keys }
        let configPath = work.appendingPathComponent("pebble-config.json")
        try JSONSerialization.data(withJSONObject: ["pebble": pebbleSettings]).write(to: configPath)

        let challengeServer = options.dnsServer != nil ? nil : try launch("/usr/bin/pebble-challtestsrv", [
            "-dns01", "127.0.0.1:\(dnsPort)", "-http01", "", "-https01", "", "-tlsalpn01", "",
            "-management", "127.0.0.1:\(challengeManagementPort)", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
        ], log: work.appendingPathComponent("challtestsrv.log"), environment: [:])
        defer { if let challengeServer { stop(challengeServer) } }
        let pebble = try launch("/usr/bin/pebble", ["-config", configPath.path, "-dnsserver", options.dnsServer ?? "127.0.0.1:\(dnsPort)"],
                                log: work.appendingPathComponent("pebble.log"),
                                // No artificial validation delays, and no nonces refused at random: the tests are about
                                // archway's client, not about surviving Pebble's chaos settings.
                                environment: ["PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"]
                                    .merging(options.authorizationReuse.map { ["PEBBLE_AUTHZREUSE": "\($0)"] } ?? [:]) { $1 })
        defer { stop(pebble) }

        let lab = Pebble(directoryURL: "https://127.0.0.1:\(acmePort)/dir",
                         managementURL: "https://127.0.0.1:\(managementPort)",
                         challengeServerManagementURL: challengeServer == nil ? nil : "http://127.0.0.1:\(challengeManagementPort)",
                         tlsTrustRootPEM: serverCertificate.caPEM, workDirectory: work)
        try await lab.waitUntilServing()
        let result = try await body(lab)
        try? FileManager.default.removeItem(at: work)
        return result
    }

    /// A client of `httpClient` for a key, as archway would make one.
    public func client(accountKey: ACMEAccountKey, httpClient: HTTPClient) -> ACMEClient {
        ACMEClient(directoryURL: directoryURL, accountKey: accountKey, httpClient: httpClient,
                   polling: PollingPolicy(interval: .milliseconds(200), maximumInterval: .seconds(2), timeout: .seconds(30)))
    }

    /// The root and intermediate Pebble issues under (its management API; they change every start).
    public func issuingCertificatesPEM(httpClient: HTTPClient) async throws -> (root: String, intermediate: String) {
        (try await get(managementURL + "/roots/0", httpClient: httpClient),
         try await get(managementURL + "/intermediates/0", httpClient: httpClient))
    }

    /// Publishes a DNS-01 TXT record through challtestsrv's management API (it has no RFC 2136 UPDATE).
    public func setTXT(name: String, value: String, httpClient: HTTPClient) async throws {
        guard let challengeServerManagementURL else { throw PebbleError.notServing("no challtestsrv: the test runs the DNS server") }
        var request = HTTPClientRequest(url: challengeServerManagementURL + "/set-txt")
        request.method = .POST
        let body = try JSONSerialization.data(withJSONObject: ["host": name + ".", "value": value])
        request.body = .bytes(ByteBuffer(data: body))
        let response = try await httpClient.execute(request, timeout: .seconds(5))
        guard response.status == .ok else { throw PebbleError.notServing("set-txt answered \(response.status)") }
    }

    /// Makes challtestsrv resolve `host` to `address` (instead of 127.0.0.1), so Pebble validates there.
    public func resolve(_ host: String, to address: String) async throws {
        guard let challengeServerManagementURL else { throw PebbleError.notServing("no challtestsrv: the test runs the DNS server") }
        var request = HTTPClientRequest(url: challengeServerManagementURL + "/add-a")
        request.method = .POST
        request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: ["host": host + ".", "addresses": [address]])))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
        guard response.status == .ok else { throw PebbleError.notServing("add-a answered \(response.status)") }
    }

    /// The root Pebble issues under, read with a client of its own.
    public func issuingRootPEM() async throws -> String {
        let httpClient = try ACMEClient.makeHTTPClient(trustRootsPEM: tlsTrustRootPEM)
        defer { _ = httpClient.shutdown() }
        return try await issuingCertificatesPEM(httpClient: httpClient).root
    }

    public func log() -> String {
        ["pebble.log", "challtestsrv.log"].map {
            (try? String(contentsOf: workDirectory.appendingPathComponent($0), encoding: .utf8)) ?? ""
        }.joined(separator: "\n")
    }

    private func get(_ url: String, httpClient: HTTPClient) async throws -> String {
        let response = try await httpClient.execute(HTTPClientRequest(url: url), timeout: .seconds(5))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else { throw PebbleError.notServing("\(url) answered \(response.status)") }
        return String(buffer: body)
    }

    private func waitUntilServing() async throws {
        let httpClient = try ACMEClient.makeHTTPClient(trustRootsPEM: tlsTrustRootPEM)
        defer { _ = httpClient.shutdown() }
        let deadline = ContinuousClock.now + .seconds(20)
        for url in [directoryURL] + (challengeServerManagementURL.map { [$0 + "/clear-request-history"] } ?? []) {
            while true {
                var request = HTTPClientRequest(url: url)
                if url.hasPrefix("http:") {
                    request.method = .POST
                    request.body = .bytes(ByteBuffer(string: #"{"host":"x.example.com.","type":"http"}"#))
                }
                if let response = try? await httpClient.execute(request, timeout: .seconds(2)) {
                    _ = try? await response.body.collect(upTo: 1 << 20)
                    break
                }
                guard ContinuousClock.now < deadline else { throw PebbleError.notServing("\(url) did not answer:\n\(log())") }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    public static func launch(_ path: String, _ arguments: [String], log: URL, environment: [String: String]) throws -> Process {
        guard FileManager.default.createFile(atPath: log.path, contents: nil) else { throw PebbleError.notServing("cannot write \(log.path)") }
        let output = try FileHandle(forWritingTo: log)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = output
        process.standardError = output
        try process.run()
        return process
    }

    public static func stop(_ process: Process) {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }
}

public enum PebbleError: Error {
    case notServing(String)
}

/// Ports handed out already in this process: never handed out twice, so two servers of one test
/// never race for the same one.
private let handedOut = NIOLockedValueBox<Set<Int>>([])

/// A port nothing listens on now (TCP and UDP, for the DNS server); the kernel picks it.
public func freeLoopbackPort() throws -> Int {
    for _ in 0..<20 {
        let port = try kernelChosenPort()
        if handedOut.withLockedValue({ $0.insert(port).inserted }) { return port }
    }
    return try kernelChosenPort()
}

private func kernelChosenPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw PebbleError.notServing("socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
            bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
        }
    }
    guard bound else { throw PebbleError.notServing("bind() failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}
