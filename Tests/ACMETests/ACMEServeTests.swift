import PebbleLab
import ACME
import AsyncHTTPClient
import Foundation
import Glibc
import Testing

/// `archway serve` obtaining its own certificate from a real Pebble, as a user runs it: an ACMEIssuer,
/// a Gateway annotated with it (an HTTP listener on 80 whose catch-all route redirects to HTTPS, an
/// HTTPS listener whose Secret does not exist), and a state directory. Pebble validates HTTP-01 on
/// archway's port-80 socket, through which every other request is redirected.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ACMEServeTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let binary = repository.appendingPathComponent(".build/debug/archway").path

    /// `secondSecret`: a second HTTPS listener (www.example.test) with a Secret of its own.
    /// `tlsALPN01`: the issuer proves names by TLS-ALPN-01 and the Gateway has only its HTTPS listener
    /// (no port 80 at all, which is why a user picks that challenge).
    /// `directory`: the ACME directory URL when not Pebble's own (a front that adds renewalInfo).
    static func config(pebble: Pebble, renewBefore: String? = nil, secondSecret: Bool = false, tlsALPN01: Bool = false,
                       directory: String? = nil) -> String {
        let bundle = pebble.tlsTrustRootPEM.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n")
        let manifests = """
            apiVersion: gateway.networking.k8s.io/v1
            kind: GatewayClass
            metadata: {name: archway}
            spec: {controllerName: archway.dev/gateway-controller}
            ---
            apiVersion: archway.dev/v1alpha1
            kind: ACMEIssuer
            metadata: {name: pebble}
            spec:
              server: \(directory ?? pebble.directoryURL)
              email: ops@example.test
              termsOfServiceAgreed: true
            \(tlsALPN01 ? "  challenge: TLS-ALPN-01\n" : "")\(renewBefore.map { "  renewBefore: \($0)\n" } ?? "")  caBundle: |
            \(bundle)
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata:
              name: web
              namespace: default
              annotations: {archway.dev/acme-issuer: pebble}
            spec:
              gatewayClassName: archway
              listeners:
              - {name: http, protocol: HTTP, port: 80}
              - name: https
                protocol: HTTPS
                port: 443
                hostname: app.example.test
                tls: {certificateRefs: [{name: app-tls}]}
            \(secondSecret ? "  - {name: www, protocol: HTTPS, port: 443, hostname: www.example.test, tls: {certificateRefs: [{name: www-tls}]}}\n" : "")---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: to-https, namespace: default}
            spec:
              parentRefs: [{name: web, sectionName: http}]
              rules: [{filters: [{type: RequestRedirect, requestRedirect: {scheme: https, statusCode: 301}}]}]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: app, namespace: default}
            spec:
              parentRefs: [{name: web, sectionName: https}]
              rules: [{filters: [{type: RequestRedirect, requestRedirect: {hostname: served.example, statusCode: 302}}]}]
            """
        guard tlsALPN01 else { return manifests }
        return manifests.replacingOccurrences(of: "  - {name: http, protocol: HTTP, port: 80}\n", with: "")
            .components(separatedBy: "\n---\n").filter { !$0.contains("name: to-https") }.joined(separator: "\n---\n")
    }

    /// One `archway serve` with its ports and directories.
    final class Archway {
        let config: URL, state: URL, log: URL
        let http: Int, https: Int, admin: Int
        private(set) var process: Process?

        /// `https`: the host port archway's 443 listens on (Pebble's TLS-ALPN-01 port); a free one when nil.
        init(work: URL, http: Int, https: Int? = nil) throws {
            config = work.appendingPathComponent("config")
            state = work.appendingPathComponent("state")
            log = work.appendingPathComponent("archway.log")
            try FileManager.default.createDirectory(at: config, withIntermediateDirectories: true)
            self.http = http
            self.https = try https ?? freeLoopbackPort()
            admin = try freeLoopbackPort()
        }

        func write(_ manifests: String) throws {
            try manifests.write(to: config.appendingPathComponent("gateway.yaml"), atomically: true, encoding: .utf8)
        }

        func start() throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: ACMEServeTests.binary)
            process.arguments = ["serve", "--config", config.path, "--state-dir", state.path, "--threads", "1",
                                 "--port-map", "80=127.0.0.1:\(http)", "--port-map", "443=127.0.0.1:\(https)",
                                 "--admin", "127.0.0.1:\(admin)", "--ingress-http-port", "0"]
            if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
            let handle = try FileHandle(forWritingTo: log)
            handle.seekToEndOfFile()
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
            self.process = process
        }

        func stop() {
            guard let process, process.isRunning else { return }
            process.terminate()
            process.waitUntilExit()
        }

        func get(_ path: String) -> String {
            (try? run("/usr/bin/curl", ["-s", "-m", "5", "http://127.0.0.1:\(admin)\(path)"]).stdout) ?? ""
        }

        /// The certificate states the ACMEIssuer's status lists, by Secret.
        func certificateStates() -> [String: [String: Any]] {
            guard let data = get("/status").data(using: .utf8),
                  let document = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let items = document["items"] as? [[String: Any]] else { return [:] }
            var result: [String: [String: Any]] = [:]
            for item in items where item["kind"] as? String == "ACMEIssuer" {
                for certificate in ((item["status"] as? [String: Any])?["certificates"] as? [[String: Any]]) ?? [] {
                    result[certificate["secret"] as? String ?? ""] = certificate
                }
            }
            return result
        }

        var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
    }

    /// The leaf archway serves for `name`, as openssl sees it verified against `caFile`: its serial,
    /// and openssl's verdict.
    static func served(port: Int, name: String, caFile: String) throws -> (serial: String, verified: Bool, output: String) {
        let handshake = try run("/bin/sh", ["-c", "openssl s_client -connect 127.0.0.1:\(port) -servername \(name) -verify_hostname \(name) "
                                            + "-CAfile \(caFile) -verify_return_error </dev/null 2>&1"])
        let leaf = try run("/bin/sh", ["-c", "openssl s_client -connect 127.0.0.1:\(port) -servername \(name) </dev/null 2>/dev/null "
                                       + "| openssl x509 -noout -serial"])
        return (leaf.stdout.trimmingCharacters(in: .whitespacesAndNewlines), handshake.stdout.contains("Verify return code: 0 (ok)"), handshake.stdout)
    }

    /// Seconds as a Gateway API duration, which allows at most five digits per part.
    static func duration(seconds: Int) -> String { "\(seconds / 3600)h\(seconds % 3600 / 60)m\(seconds % 60)s" }

    static func eventually(seconds: Double, _ condition: () -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return condition()
    }

    @Test func itObtainsServesReusesAndRenewsItsCertificate() async throws {
        let http = try freeLoopbackPort()
        try await Pebble.with(.init(httpPort: http)) { pebble in
            let work = pebble.workDirectory.appendingPathComponent("archway")
            let archway = try Archway(work: work, http: http)
            defer { archway.stop() }
            try archway.write(Self.config(pebble: pebble, secondSecret: true))
            try archway.start()

            let issued = await Self.eventually(seconds: 60) {
                let states = archway.certificateStates()
                return states["default/app-tls"]?["state"] as? String == "Issued" && states["default/www-tls"]?["state"] as? String == "Issued"
            }
            try #require(issued, "never issued: \(archway.certificateStates()) \(archway.logText.suffix(2000))")
            let root = try await withACMEHTTPClient(trusting: pebble) { try await pebble.issuingCertificatesPEM(httpClient: $0).root }
            let caFile = work.appendingPathComponent("pebble-root.pem").path
            try root.write(toFile: caFile, atomically: true, encoding: .utf8)
            let first = try Self.served(port: archway.https, name: "app.example.test", caFile: caFile)
            #expect(first.verified, "served without a restart, chaining to Pebble's root: \(first.output.suffix(1500))")
            // The catch-all redirect kept answering everything but the challenge.
            let redirect = try run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: app.example.test",
                                                    "http://127.0.0.1:\(http)/.well-known/acme-challenge/unknown"])
            #expect(redirect.stdout == "301")
            let metrics = archway.get("/metrics")
            #expect(metrics.contains("archway_acme_orders_total{issuer=\"pebble\",result=\"issued\"} 2\n"), "\(metrics.suffix(1500))")
            // Two orders at once, one account: a CA limits new accounts.
            #expect(archway.logText.components(separatedBy: "ACME account opened").count == 2, "\(archway.logText.suffix(1500))")
            // The dashboard lists the certificate with its expiry (rendered by headless Chromium when installed).
            let topology = archway.get("/dashboard/topology")
            #expect(topology.contains("default/app-tls") || topology.contains("default\\/app-tls"), "\(topology.suffix(600))")
            if let browser = ["chromium", "chromium-browser"].first(where: { (try? run("/usr/bin/which", [$0]).status) == 0 }) {
                let path = try run("/usr/bin/which", [browser]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                let dom = try run(path, ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
                                         "--dump-dom", "http://127.0.0.1:\(archway.admin)/dashboard"]).stdout
                let row = dom.range(of: "<tr data-certificate=\"default/app-tls\">").map { String(dom[$0.lowerBound...].prefix(600)) } ?? ""
                #expect(row.contains("app.example.test") && row.contains("Issued") && row.contains(" d)"), "the dashboard's certificate row: \(row)")
            }
            #expect(metrics.contains("gateway_tls_certificate_expiry_seconds{namespace=\"default\",secret=\"app-tls\"}"))

            // A restart serves the stored certificate and orders nothing.
            archway.stop()
            try archway.start()
            let again = await Self.eventually(seconds: 20) { archway.certificateStates()["default/app-tls"]?["state"] as? String == "Issued" }
            #expect(again)
            let restarted = try Self.served(port: archway.https, name: "app.example.test", caFile: caFile)
            #expect(restarted.serial == first.serial && restarted.verified, "\(restarted.serial) vs \(first.serial)")
            #expect(!archway.get("/metrics").contains("archway_acme_orders_total{issuer=\"pebble\",result=\"issued\"}"), "ordered again")

            // A renewal window that has begun: renewed, and the new certificate served without a restart.
            let notAfter = try #require(archway.certificateStates()["default/app-tls"]?["notAfter"] as? String)
            let lifetime = try #require(ISO8601DateFormatter().date(from: notAfter)).timeIntervalSinceNow
            try archway.write(Self.config(pebble: pebble, renewBefore: Self.duration(seconds: Int(lifetime) - 2), secondSecret: true))
            let renewed = await Self.eventually(seconds: 60) {
                (try? Self.served(port: archway.https, name: "app.example.test", caFile: caFile).serial).map { $0 != first.serial } ?? false
            }
            #expect(renewed, "not renewed: \(archway.certificateStates()) \(archway.logText.suffix(1500))")
            // Each of the two certificates renewed once, not in a loop.
            let renewals = archway.get("/metrics").split(separator: "\n").first { $0.hasPrefix("archway_acme_renewals_total{issuer=\"pebble\"} ") }
                .flatMap { Double($0.split(separator: " ").last ?? "") }
            #expect(renewals.map { (1...2).contains($0) } == true, "renewals: \(String(describing: renewals))")
        }
    }

    /// ACME Renewal Information (RFC 9773) where the directory offers it: archway asks the CA about the
    /// certificate it holds and, when the CA's window is already open (what it answers after revoking),
    /// renews at once instead of waiting for two thirds of the lifetime; a window far ahead changes nothing.
    @Test func aRenewalWindowFromTheCABringsRenewalForward() async throws {
        let http = try freeLoopbackPort()
        try await Pebble.with(.init(httpPort: http)) { pebble in
            let front = try await RenewalInfoFront(pebble: pebble, window: (Date().addingTimeInterval(400 * 86400), Date().addingTimeInterval(401 * 86400)),
                                                   firstWindow: (Date().addingTimeInterval(-120), Date().addingTimeInterval(-60)))
            let work = pebble.workDirectory.appendingPathComponent("archway")
            let archway = try Archway(work: work, http: http)
            defer { archway.stop() }
            try archway.write(Self.config(pebble: pebble, directory: front.directoryURL))
            try archway.start()
            let renewed = await Self.eventually(seconds: 60) {
                archway.get("/metrics").contains("archway_acme_renewals_total{issuer=\"pebble\"} 1\n")
            }
            #expect(renewed, "the first certificate, whose window is open, was not renewed: \(archway.certificateStates()) \(archway.logText.suffix(2000))")
            #expect(archway.logText.contains("renewal window from the CA"))
            // The new certificate is asked about in turn; its window is far ahead, so renewal stays at two thirds of its lifetime.
            #expect(await Self.eventually(seconds: 10) { Set(front.certificatesAsked).count == 2 }, "asked: \(front.certificatesAsked)")
            let planned = try #require(archway.certificateStates()["default/app-tls"]?["renewalTime"] as? String)
            let plannedDate = try #require(ISO8601DateFormatter().date(from: planned))
            #expect(plannedDate.timeIntervalSinceNow > 3600, "a window far ahead must not bring renewal forward: \(planned)")
            try await Task.sleep(for: .seconds(2))
            #expect(archway.get("/metrics").contains("archway_acme_renewals_total{issuer=\"pebble\"} 1\n"), "renewed more than once")
            await front.close()
        }
    }

    /// A wildcard by DNS-01: archway writes the TXT records into a real BIND over RFC 2136 (TSIG key
    /// from a Secret), at a CA that requires external account binding (its key from a Secret too).
    @Test func aWildcardByDNS01ThroughRFC2136AtACAThatRequiresAccountBinding() async throws {
        let macKey = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
        try await Named.with { named in
            try await Pebble.with(.init(externalAccountMACKeys: ["kid-1": macKey], dnsServer: named.server)) { pebble in
                let work = pebble.workDirectory.appendingPathComponent("archway")
                let archway = try Archway(work: work, http: try freeLoopbackPort())
                defer { archway.stop() }
                var config = Self.config(pebble: pebble)
                    .replacingOccurrences(of: "  termsOfServiceAgreed: true\n", with: """
                          termsOfServiceAgreed: true
                          challenge: DNS-01
                          dns01: {rfc2136: {nameserver: "\(named.server)", tsigKeyName: archway, tsigSecretRef: {namespace: default, name: tsig, key: secret}}}
                          externalAccountBinding: {keyID: kid-1, keySecretRef: {namespace: default, name: eab, key: key}}

                        """)
                    .replacingOccurrences(of: "hostname: app.example.test", with: "hostname: \"*.apps.example.test\"")
                config += """

                    ---
                    apiVersion: v1
                    kind: Secret
                    metadata: {name: tsig, namespace: default}
                    stringData: {secret: "\(named.keySecret)"}
                    ---
                    apiVersion: v1
                    kind: Secret
                    metadata: {name: eab, namespace: default}
                    stringData: {key: "\(macKey)"}
                    """
                try archway.write(config)
                try archway.start()
                let issued = await Self.eventually(seconds: 60) { archway.certificateStates()["default/app-tls"]?["state"] as? String == "Issued" }
                try #require(issued, "never issued: \(archway.certificateStates()) \(archway.logText.suffix(2000)) \(named.log().suffix(1000))")
                let root = try await withACMEHTTPClient(trusting: pebble) { try await pebble.issuingCertificatesPEM(httpClient: $0).root }
                let caFile = work.appendingPathComponent("pebble-root.pem").path
                try root.write(toFile: caFile, atomically: true, encoding: .utf8)
                let served = try Self.served(port: archway.https, name: "web.apps.example.test", caFile: caFile)
                #expect(served.verified, "the wildcard is served for a name under it: \(served.output.suffix(1500))")
                // The challenge records are gone from the zone afterwards.
                let left = try await RFC2136Updater(server: named.server, tsig: named.key).txtValues(name: "_acme-challenge.apps.example.test")
                #expect(left.isEmpty, "\(left)")
            }
        }
    }

    /// TLS-ALPN-01 answered by archway on its HTTPS port: Pebble connects to archway's 443 with ALPN
    /// acme-tls/1 and gets the challenge certificate, though the listener has no certificate yet (its
    /// socket is bound for the challenge). The issued certificate is served and chains to Pebble's root;
    /// once validated no acme-tls/1 handshake is answered any more.
    @Test func itObtainsItsCertificateByTLSALPN01OnItsHTTPSPort() async throws {
        let https = try freeLoopbackPort()
        try await Pebble.with(.init(tlsPort: https)) { pebble in
            let work = pebble.workDirectory.appendingPathComponent("archway")
            let archway = try Archway(work: work, http: try freeLoopbackPort(), https: https)
            defer { archway.stop() }
            try archway.write(Self.config(pebble: pebble, tlsALPN01: true))
            try archway.start()

            let issued = await Self.eventually(seconds: 60) { archway.certificateStates()["default/app-tls"]?["state"] as? String == "Issued" }
            try #require(issued, "never issued: \(archway.certificateStates()) \(archway.logText.suffix(2000)) \(pebble.log().suffix(2000))")
            #expect(archway.logText.contains("answering TLS-ALPN-01 on the HTTPS listeners"), "validated by TLS-ALPN-01: \(archway.logText.suffix(1500))")
            let root = try await withACMEHTTPClient(trusting: pebble) { try await pebble.issuingCertificatesPEM(httpClient: $0).root }
            let caFile = work.appendingPathComponent("pebble-root.pem").path
            try root.write(toFile: caFile, atomically: true, encoding: .utf8)
            let served = try Self.served(port: https, name: "app.example.test", caFile: caFile)
            #expect(served.verified, "served without a restart, chaining to Pebble's root: \(served.output.suffix(1500))")
            #expect(archway.get("/metrics").contains("archway_acme_orders_total{issuer=\"pebble\",result=\"issued\"} 1"))

            // The challenge is withdrawn: an acme-tls/1 handshake now meets the listener's own context,
            // which never negotiates that protocol.
            let late = try run("/bin/sh", ["-c", "openssl s_client -connect 127.0.0.1:\(https) -servername app.example.test "
                                           + "-alpn acme-tls/1 </dev/null 2>&1"])
            #expect(!late.stdout.contains("ALPN protocol: acme-tls/1"), "\(late.stdout.suffix(1500))")
        }
    }

    /// What openssl sees of archway's HTTPS port for app.example.test, offering ALPN acme-tls/1 as
    /// the CA does or not at all as a browser's first protocols would not.
    static func handshake(port: Int, acme: Bool) throws -> String {
        try run("/bin/sh", ["-c", "timeout 10 openssl s_client -connect 127.0.0.1:\(port) -servername app.example.test "
                            + (acme ? "-alpn acme-tls/1 " : "") + "</dev/null 2>&1"]).stdout
    }

    /// While a TLS-ALPN-01 challenge is pending, only a handshake offering acme-tls/1 gets the
    /// challenge certificate. Pebble reaches archway through a relay that holds its connections, so
    /// the challenge stays pending while the test looks: before the first certificate a normal
    /// client is refused as before; during a renewal it gets the listener's current certificate.
    @Test func whileAChallengeIsPendingANormalClientNeverGetsTheChallengeCertificate() async throws {
        // The relay binds a port the kernel picks, which may be the one just found free for archway's 443.
        var https: Int
        var relay: HeldTCPRelay
        repeat {
            https = try freeLoopbackPort()
            relay = try HeldTCPRelay(to: https)
            if relay.port == https { relay.stop() }
        } while relay.port == https
        defer { relay.stop() }
        try await Pebble.with(.init(tlsPort: relay.port, authorizationReuse: 0)) { pebble in
            let work = pebble.workDirectory.appendingPathComponent("archway")
            let archway = try Archway(work: work, http: try freeLoopbackPort(), https: https)
            defer { archway.stop() }
            try archway.write(Self.config(pebble: pebble, tlsALPN01: true))
            try archway.start()

            let validating = await Self.eventually(seconds: 60) { relay.accepted > 0 }
            try #require(validating, "Pebble never came to validate: \(archway.logText.suffix(2000))")
            let asked = Date()
            let refused = try Self.handshake(port: https, acme: false)
            #expect(!refused.contains("BEGIN CERTIFICATE"), "no certificate yet, so none for a normal client: \(refused.suffix(1500))")
            #expect(Date().timeIntervalSince(asked) < 5, "refused at once, not left open (openssl gives up after 10 s)")
            let answered = try Self.handshake(port: https, acme: true)
            #expect(answered.contains("ALPN protocol: acme-tls/1") && answered.contains("BEGIN CERTIFICATE"), "\(answered.suffix(1500))")
            relay.release()
            let issued = await Self.eventually(seconds: 60) { archway.certificateStates()["default/app-tls"]?["state"] as? String == "Issued" }
            try #require(issued, "never issued: \(archway.certificateStates()) \(archway.logText.suffix(2000))")
            let root = try await withACMEHTTPClient(trusting: pebble) { try await pebble.issuingCertificatesPEM(httpClient: $0).root }
            let caFile = work.appendingPathComponent("pebble-root.pem").path
            try root.write(toFile: caFile, atomically: true, encoding: .utf8)
            let first = try Self.served(port: https, name: "app.example.test", caFile: caFile)
            #expect(first.verified, "\(first.output.suffix(1500))")

            // A renewal, validated again (Pebble reuses no authorization here): held the same way.
            relay.hold()
            let notAfter = try #require(archway.certificateStates()["default/app-tls"]?["notAfter"] as? String)
            let lifetime = try #require(ISO8601DateFormatter().date(from: notAfter)).timeIntervalSinceNow
            try archway.write(Self.config(pebble: pebble, renewBefore: Self.duration(seconds: Int(lifetime) - 2), tlsALPN01: true))
            let revalidating = await Self.eventually(seconds: 60) { relay.accepted > 0 }
            try #require(revalidating, "Pebble never came to validate the renewal: \(archway.logText.suffix(2000))")
            let meanwhile = try Self.served(port: https, name: "app.example.test", caFile: caFile)
            #expect(meanwhile.verified && meanwhile.serial == first.serial, "a normal client keeps the listener's certificate: \(meanwhile.output.suffix(1500))")
            let renewalAnswered = try Self.handshake(port: https, acme: true)
            #expect(renewalAnswered.contains("ALPN protocol: acme-tls/1"), "\(renewalAnswered.suffix(1500))")
            relay.release()
            let renewed = await Self.eventually(seconds: 60) {
                (try? Self.served(port: https, name: "app.example.test", caFile: caFile).serial).map { $0 != first.serial } ?? false
            }
            #expect(renewed, "not renewed: \(archway.certificateStates()) \(archway.logText.suffix(1500))")
        }
    }

    /// Pebble cannot reach the challenge (its HTTP-01 port is not archway's): the order fails, the
    /// ACME error is on the issuer's status and the listener's condition, and the next attempt waits.
    @Test func aFailedChallengeShowsTheACMEErrorAndBacksOff() async throws {
        let unreachable = try freeLoopbackPort()
        try await Pebble.with(.init(httpPort: unreachable)) { pebble in
            let work = pebble.workDirectory.appendingPathComponent("archway")
            let archway = try Archway(work: work, http: try freeLoopbackPort())
            defer { archway.stop() }
            try archway.write(Self.config(pebble: pebble))
            try archway.start()
            let failed = await Self.eventually(seconds: 60) { archway.certificateStates()["default/app-tls"]?["state"] as? String == "Failed" }
            try #require(failed, "\(archway.certificateStates()) \(archway.logText.suffix(2000))")
            let state = archway.certificateStates()["default/app-tls"] ?? [:]
            let message = state["message"] as? String ?? ""
            #expect(message.contains("urn:ietf:params:acme:error:connection"), "names the ACME error: \(message)")
            #expect(state["nextAttempt"] is String, "says when it tries again: \(state)")
            let status = archway.get("/status")
            #expect(status.contains("archway obtains it from ACMEIssuer pebble: Failed"), "the listener says so too")
            // Backing off: no second order in the next seconds.
            try await Task.sleep(for: .seconds(3))
            #expect(archway.get("/metrics").contains("archway_acme_orders_total{issuer=\"pebble\",result=\"failed\"} 1\n"))
        }
    }
}

/// Runs a tool to the end.
func run(_ path: String, _ arguments: [String]) throws -> (status: Int32, stdout: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
