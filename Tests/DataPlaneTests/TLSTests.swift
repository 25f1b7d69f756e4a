import Foundation
import NIOCore
import Testing

/// HTTPS listeners with real clients: curl for SNI, ALPN and HTTP/2; an NIOSSL client for rotation.
@Suite(.timeLimit(.minutes(2)))
struct TLSTests {
    /// Gateway `gw`: HTTP on 80, HTTPS on 443 for a.example.com and *.b.example.com, each with its own
    /// certificate; one echo backend `svc` behind route `r` on every listener.
    struct Setup {
        let harness: GatewayHarness
        let certA: TestCertificate
        let certB: TestCertificate
        var httpsPort: Int
    }

    static let listeners = [
        "{name: http, protocol: HTTP, port: 80}",
        "{name: a, protocol: HTTPS, port: 443, hostname: a.example.com, tls: {certificateRefs: [{name: a-cert}]}}",
        "{name: b, protocol: HTTPS, port: 443, hostname: \"*.b.example.com\", tls: {certificateRefs: [{name: b-cert}]}}",
    ]

    static func start() async throws -> Setup {
        let harness = GatewayHarness()
        harness.extraPortMap = [443: 0]
        let certA = try TestCertificate(names: ["a.example.com"], in: harness.directory)
        let certB = try TestCertificate(names: ["*.b.example.com"], in: harness.directory)
        try await harness.startBackend("svc")
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(listeners: listeners), Manifests.service("svc", targetPort: harness.backendPorts["svc"]!),
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: r}
            spec:
              parentRefs: [{name: gw}]
              rules: [{backendRefs: [{name: svc, port: 80}]}]
            """))
        try harness.write("certs.yaml", Manifests.join(certA.secret("a-cert"), certB.secret("b-cert")))
        try await harness.start()
        return Setup(harness: harness, certA: certA, certB: certB, httpsPort: await harness.hostPort(443))
    }

    static func curlHTTPS(_ setup: Setup, host: String, trusting cert: TestCertificate, extra: [String] = [])
        throws -> (status: Int32, body: String, writeOut: String, stderr: String) {
        try ExternalTool.curl(extra + ["--cacert", cert.path, "--resolve", "\(host):\(setup.httpsPort):127.0.0.1",
                                       "-w", "\n@@\n%{http_code} %{http_version}", "https://\(host):\(setup.httpsPort)/tls-test"])
    }

    @Test func certificatesAreChosenBySNIOnOnePort() async throws {
        let setup = try await Self.start()
        defer { Task { await setup.harness.stop() } }

        let a = try Self.curlHTTPS(setup, host: "a.example.com", trusting: setup.certA)
        #expect(a.status == 0, "curl a.example.com: \(a.stderr)")
        #expect(a.writeOut.hasPrefix("200"))
        let b = try Self.curlHTTPS(setup, host: "api.b.example.com", trusting: setup.certB)
        #expect(b.status == 0, "curl api.b.example.com (wildcard listener): \(b.stderr)")
        #expect(b.writeOut.hasPrefix("200"))
        // The backend learns that the client came over TLS.
        let echo = (try? JSONSerialization.jsonObject(with: Data(b.body.utf8))) as? [String: Any]
        #expect((echo?["headers"] as? [String: String])?["x-forwarded-proto"] == "https")

        // The wildcard listener's certificate is not offered for a.example.com: curl trusting only B refuses.
        let wrong = try Self.curlHTTPS(setup, host: "a.example.com", trusting: setup.certB)
        #expect(wrong.status == 60, "a.example.com must present certificate A, curl said: \(wrong.stderr)")
    }

    /// A connection whose SNI chose listener `a` cannot carry a request for a host of listener `b`
    /// (a client reusing it, as HTTP/2 coalescing does): 421, on HTTP/1.1 (the fast lane) and HTTP/2.
    @Test(arguments: [[], ["--http2"]]) func aHostOfAnotherListenerIsMisdirected(_ protocolFlags: [String]) async throws {
        let setup = try await Self.start()
        defer { Task { await setup.harness.stop() } }
        let misdirected = try Self.curlHTTPS(setup, host: "a.example.com", trusting: setup.certA, extra: protocolFlags + ["-H", "Host: api.b.example.com"])
        #expect(misdirected.writeOut.hasPrefix("421"), "\(protocolFlags): \(misdirected.writeOut) \(misdirected.body) \(misdirected.stderr)")
        #expect(misdirected.body.contains("another listener"), "\(misdirected.body)")
        let own = try Self.curlHTTPS(setup, host: "a.example.com", trusting: setup.certA, extra: protocolFlags + ["-H", "Host: a.example.com"])
        #expect(own.writeOut.hasPrefix("200"), "\(protocolFlags): \(own.writeOut)")
    }

    @Test func tlsVersionsBelow12AreRefused() async throws {
        let setup = try await Self.start()
        defer { Task { await setup.harness.stop() } }
        let old = try Self.curlHTTPS(setup, host: "a.example.com", trusting: setup.certA, extra: ["--tlsv1.1", "--tls-max", "1.1"])
        #expect(old.status != 0, "a TLS 1.1 handshake must fail")
        let modern = try Self.curlHTTPS(setup, host: "a.example.com", trusting: setup.certA, extra: ["--tlsv1.2", "--tls-max", "1.2"])
        #expect(modern.status == 0, "TLS 1.2: \(modern.stderr)")
        let samples = try await MetricsTests.scrape(setup.harness)
        #expect(samples["gateway_tls_handshakes_total"] == 1, "the TLS 1.2 handshake")
        #expect(samples["gateway_tls_handshake_errors_total"] == 1, "the refused TLS 1.1 handshake")
    }

    @Test func http2OverALPNAndPriorKnowledgeCleartext() async throws {
        let setup = try await Self.start()
        defer { Task { await setup.harness.stop() } }

        let overTLS = try Self.curlHTTPS(setup, host: "a.example.com", trusting: setup.certA, extra: ["--http2"])
        #expect(overTLS.status == 0, "\(overTLS.stderr)")
        #expect(overTLS.writeOut == "200 2", "curl --http2 over TLS negotiated: \(overTLS.writeOut)")

        let url = "http://127.0.0.1:\(setup.harness.port)/h2c"
        let h2c = try ExternalTool.curl(["--http2-prior-knowledge", "-w", "\n@@\n%{http_code} %{http_version}", url])
        #expect(h2c.writeOut == "200 2", "prior-knowledge h2c: \(h2c.writeOut) \(h2c.stderr)")
        let plain = try ExternalTool.curl(["-w", "\n@@\n%{http_code} %{http_version}", url])
        #expect(plain.writeOut == "200 1.1", "the same port still speaks HTTP/1.1: \(plain.writeOut)")

        // Several streams multiplexed on one connection, with request bodies, all answered.
        let urls = (0..<8).flatMap { ["-d", "body-\($0)", "https://a.example.com:\(setup.httpsPort)/stream/\($0)"] }
        let multi = try ExternalTool.curl(["--http2", "--parallel", "--parallel-immediate", "--cacert", setup.certA.path,
                                           "--resolve", "a.example.com:\(setup.httpsPort):127.0.0.1", "-w", "%{http_code}\n"] + urls)
        #expect(multi.status == 0, "\(multi.stderr)")
        #expect(multi.body.components(separatedBy: "\n").filter { $0.hasSuffix("200") }.count == 8, "\(multi.body)")
    }

    @Test func rotatedSecretServesNewHandshakesWithoutDroppingOpenConnections() async throws {
        let setup = try await Self.start()
        defer { Task { await setup.harness.stop() } }
        let harness = setup.harness

        let before = try await TestHTTPClient.connect(port: setup.httpsPort, group: harness.group,
                                                      tls: (setup.certA.chainPEM, "a.example.com"))
        #expect(try await before.request(.GET, "/1", host: "a.example.com").status == 200)

        let rotated = try TestCertificate(names: ["a.example.com"], in: harness.directory)
        let generation = await harness.runtime.generation
        try harness.write("certs.yaml", Manifests.join(rotated.secret("a-cert"), setup.certB.secret("b-cert")))
        try await harness.waitForGeneration(atLeast: generation + 1)

        // The open connection keeps its session and goes on serving requests.
        for index in 0..<20 {
            #expect(try await before.request(.GET, "/still-\(index)", host: "a.example.com").status == 200)
        }
        // New handshakes get the new certificate: a client trusting only the old one is refused.
        let after = try await TestHTTPClient.connect(port: setup.httpsPort, group: harness.group,
                                                     tls: (rotated.chainPEM, "a.example.com"))
        #expect(try await after.request(.GET, "/new", host: "a.example.com").status == 200)
        let stale = try Self.curlHTTPS(setup, host: "a.example.com", trusting: setup.certA)
        #expect(stale.status == 60, "the old certificate must no longer be offered: \(stale.stderr)")
        await before.close()
        await after.close()
    }

    @Test func aKeyThatDoesNotMatchItsCertificateIsReportedAndTheListenerNotServed() async throws {
        let setup = try await Self.start()
        defer { Task { await setup.harness.stop() } }
        let harness = setup.harness
        let generation = await harness.runtime.generation
        // B's certificate with A's key: a classic copy-paste mistake during rotation.
        try harness.write("certs.yaml", Manifests.join(setup.certA.secret("a-cert"), setup.certB.secret("b-cert", key: setup.certA.keyPEM)))
        try await harness.waitForGeneration(atLeast: generation + 1)

        let statuses = try #require(await harness.runtime.statuses)
        let listener = statuses.gateways.values.first?.listeners.first { $0.name == "b" }
        let resolved = listener?.conditions.first { $0.type == "ResolvedRefs" }
        #expect(resolved?.status == "False")
        #expect(resolved?.reason == "InvalidCertificateRef")
        #expect(resolved?.message.contains("default/b-cert") == true, "\(resolved?.message ?? "")")
        // The other listener on the port keeps serving.
        let a = try Self.curlHTTPS(setup, host: "a.example.com", trusting: setup.certA)
        #expect(a.writeOut.hasPrefix("200"), "\(a.stderr)")
    }

    @Test func httpListenerRedirectsToHTTPS() async throws {
        let setup = try await Self.start()
        defer { Task { await setup.harness.stop() } }
        let harness = setup.harness
        let generation = await harness.runtime.generation
        try harness.write("redirect.yaml", """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: to-https}
            spec:
              parentRefs: [{name: gw, sectionName: http}]
              hostnames: [shop.example.com]
              rules:
              - filters: [{type: RequestRedirect, requestRedirect: {scheme: https, statusCode: 301}}]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: to-https-found}
            spec:
              parentRefs: [{name: gw, sectionName: http}]
              hostnames: [legacy.example.com]
              rules:
              - filters: [{type: RequestRedirect, requestRedirect: {scheme: https}}]
            """)
        try await harness.waitForGeneration(atLeast: generation + 1)
        let permanent = try await harness.send("/cart?id=7", host: "shop.example.com")
        #expect(permanent.status == 301)
        #expect(permanent.headers.first(name: "location") == "https://shop.example.com/cart?id=7", "https's default port is left out")
        let found = try await harness.send("/", host: "legacy.example.com:80")
        #expect(found.status == 302)
        #expect(found.headers.first(name: "location") == "https://legacy.example.com/")
    }
}
