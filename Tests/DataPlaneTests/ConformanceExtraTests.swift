import Foundation
import GatewayAPI
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

/// Upstream conformance tests whose backends are not HTTP/1 echo servers: an HTTP/2-only backend
/// behind an h2c appProtocol, a gRPC server behind a BackendTLSPolicy, and a DNS server behind a
/// UDPRoute. Each backend is real and started here; the clients are real (curl, grpcio, dig).
@Suite(.timeLimit(.minutes(2)))
struct ConformanceExtraTests {
    static let peers = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers").path

    /// An HTTP/2-only backend (`Peers/h2c_echo.py`): it closes any connection that does not start
    /// with the HTTP/2 preface, so an answer from it means the gateway spoke h2c with prior knowledge.
    final class H2CBackend {
        let process = Process()
        let port: Int

        init(name: String) throws {
            port = try GRPCTests.PeerServer.freePort()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", ConformanceExtraTests.peers + "/h2c_echo.py", String(port), name]
            // Not the test's own stdout/stderr: a peer left running would hold `swift test` open.
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            for _ in 0..<100 {
                if (try? BlockingSocket(port: port)) != nil { return }
                usleep(50_000)
            }
            stop()
            throw HarnessError.timeout("h2c backend \(name) did not start on port \(port)")
        }

        func stop() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Conformance: HTTPRouteBackendProtocolH2C
    @Test func httpRouteBackendProtocolH2C() async throws {
        let backend = try H2CBackend(name: "infra-backend-v1")
        defer { backend.stop() }
        let harness = GatewayHarness()
        defer { Task { await harness.stop() } }
        try await harness.startBackend("http1")
        // The suite's infra-backend-v1 Service: an HTTP/1 port, and port 8081 whose appProtocol says h2c.
        try harness.write("gw.yaml", Manifests.join(Manifests.gateway(), """
            apiVersion: v1
            kind: Service
            metadata: {name: infra-backend-v1}
            spec:
              ports:
              - {name: first-port, protocol: TCP, port: 8080, targetPort: 3000}
              - {name: second-port, protocol: TCP, appProtocol: kubernetes.io/h2c, port: 8081, targetPort: 3001}
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: infra-backend-v1-1, labels: {kubernetes.io/service-name: infra-backend-v1}}
            addressType: IPv4
            ports:
            - {name: first-port, port: \(harness.backendPorts["http1"]!), protocol: TCP}
            - {name: second-port, port: \(backend.port), protocol: TCP, appProtocol: kubernetes.io/h2c}
            endpoints:
            - addresses: [127.0.0.1]
              conditions: {ready: true}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: backend-protocol-h2c}
            spec:
              parentRefs: [{name: gw}]
              rules: [{backendRefs: [{name: infra-backend-v1, port: 8081}]}]
            """))
        try await harness.start()
        let route = await harness.runtime.statuses?.httpRoutes[NamespacedName("default", "backend-protocol-h2c")]
        #expect(route?.parents.first?.conditions.contains { $0.type == "Accepted" && $0.status == "True" } == true)

        // Upstream's request: HTTP/2 with prior knowledge from the client too.
        let url = "http://127.0.0.1:\(harness.port)/"
        let h2 = try await ExternalTool.curlOffThePool(["--http2-prior-knowledge", "-w", "\n@@\n%{http_code} %{http_version}", url])
        #expect(h2.writeOut == "200 2", "\(h2.writeOut) \(h2.stderr)")
        let answer = (try? JSONSerialization.jsonObject(with: Data(h2.body.utf8))) as? [String: Any] ?? [:]
        #expect(answer["name"] as? String == "infra-backend-v1" && answer["protocol"] as? String == "HTTP/2", "\(h2.body)")
        #expect(answer["path"] as? String == "/")
        // An HTTP/1.1 client is carried over HTTP/2 the same way: the Service port's appProtocol, not
        // the client's version, decides what the backend is spoken to in.
        let h1 = try await ExternalTool.curlOffThePool(["--http1.1", "-w", "\n@@\n%{http_code} %{http_version}", url + "one"])
        #expect(h1.writeOut == "200 1.1" && h1.body.contains("\"protocol\": \"HTTP/2\""), "\(h1.writeOut) \(h1.body) \(h1.stderr)")
    }

    /// Conformance: BackendTLSPolicyGRPCRoute
    @Test func backendTLSPolicyGRPCRoute() async throws {
        let harness = GatewayHarness()
        defer { Task { await harness.stop() } }
        // As upstream: one gRPC server whose certificate (abc.example.com) the tls-checks CA signed,
        // behind three Services whose policies differ in the hostname or the CA they verify it with.
        let checks = try TestCertificate.authority("tls-checks CA", in: harness.directory)
        let other = try TestCertificate.authority("mismatch CA", in: harness.directory)
        let server = try GRPCTests.PeerServer(name: "grpc-infra-backend-v1", tls: try checks.issue(["abc.example.com"], in: harness.directory),
                                              directory: harness.directory)
        defer { server.stop() }
        func service(_ name: String) -> String {
            """
            apiVersion: v1
            kind: Service
            metadata: {name: \(name)}
            spec: {ports: [{name: btls, protocol: TCP, port: 443, targetPort: 8443}]}
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: \(name)-1, labels: {kubernetes.io/service-name: \(name)}}
            addressType: IPv4
            ports: [{name: btls, port: \(server.port), protocol: TCP}]
            endpoints:
            - addresses: [127.0.0.1]
              conditions: {ready: true}
            """
        }
        func policy(_ name: String, service: String, configMap: String, hostname: String) -> String {
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: BackendTLSPolicy
            metadata: {name: \(name)}
            spec:
              targetRefs: [{group: "", kind: Service, name: \(service), sectionName: btls}]
              validation: {caCertificateRefs: [{group: "", kind: ConfigMap, name: \(configMap)}], hostname: \(hostname)}
            """
        }
        let echo = "gateway_api_conformance.echo_basic.grpcecho.GrpcEcho"
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(), checks.caConfigMap("tls-checks-ca-certificate"), other.caConfigMap("mismatch-ca-certificate"),
            service("backendtlspolicy-grpc-test"), service("backendtlspolicy-grpc-host-mismatch-test"), service("backendtlspolicy-grpc-cert-mismatch-test"),
            policy("grpc-normative-test", service: "backendtlspolicy-grpc-test", configMap: "tls-checks-ca-certificate", hostname: "abc.example.com"),
            policy("grpc-host-mismatch", service: "backendtlspolicy-grpc-host-mismatch-test", configMap: "tls-checks-ca-certificate", hostname: "mismatch.example.com"),
            policy("grpc-cert-mismatch", service: "backendtlspolicy-grpc-cert-mismatch-test", configMap: "mismatch-ca-certificate", hostname: "abc.example.com"),
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: GRPCRoute
            metadata: {name: backendtlspolicy-grpcroute}
            spec:
              parentRefs: [{name: gw}]
              hostnames: [abc.example.com]
              rules:
              - matches: [{method: {service: \(echo), method: Echo}}]
                backendRefs: [{name: backendtlspolicy-grpc-test, port: 443}]
              - matches: [{method: {service: \(echo), method: EchoTwo}}]
                backendRefs: [{name: backendtlspolicy-grpc-host-mismatch-test, port: 443}]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: GRPCRoute
            metadata: {name: backendtlspolicy-grpcroute-cert-mismatch}
            spec:
              parentRefs: [{name: gw}]
              hostnames: [cert-mismatch.example.com]
              rules:
              - matches: [{method: {service: \(echo), method: Echo}}]
                backendRefs: [{name: backendtlspolicy-grpc-cert-mismatch-test, port: 443}]
            """))
        try await harness.start()
        let statuses = try #require(await harness.runtime.statuses)
        for name in ["backendtlspolicy-grpcroute", "backendtlspolicy-grpcroute-cert-mismatch"] {
            let conditions = statuses.grpcRoutes[NamespacedName("default", name)]?.parents.first?.conditions ?? []
            #expect(conditions.contains { $0.type == "Accepted" && $0.status == "True" }, "\(name): \(conditions.map { "\($0.type)=\($0.status)" })")
        }
        // Every policy is valid as written (its CA resolves), so each is Accepted with ResolvedRefs
        // for the Gateway; a mismatch shows only when the backend's certificate is checked.
        for name in ["grpc-normative-test", "grpc-host-mismatch", "grpc-cert-mismatch"] {
            let ancestor = statuses.backendTLSPolicies[NamespacedName("default", name)]?.ancestors.first { $0.ancestorRef.name == "gw" }
            let conditions = ancestor?.conditions ?? []
            #expect(conditions.contains { $0.type == "Accepted" && $0.status == "True" && $0.reason == "Accepted" }
                    && conditions.contains { $0.type == "ResolvedRefs" && $0.status == "True" && $0.reason == "ResolvedRefs" },
                    "\(name): \(conditions.map { "\($0.type)=\($0.status)/\($0.reason)" })")
        }

        func call(_ authority: String, _ method: String) async throws -> [String: String] {
            let run = try await ExternalTool.runOffThePool("python3", [GRPCTests.peer, "unary", String(harness.port), authority, "/\(echo)/\(method)"])
            return try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: String], "\(run.stdout) \(run.stderr)")
        }
        let valid = try await call("abc.example.com", "Echo")
        #expect(valid["reply"] == "grpc-infra-backend-v1", "the call reached the backend over verified TLS: \(valid)")
        let wrongName = try await call("abc.example.com", "EchoTwo")
        #expect(wrongName["reply"] == nil && wrongName["code"] == "UNAVAILABLE",
                "the certificate does not name mismatch.example.com, so the call must fail: \(wrongName)")
        let wrongCA = try await call("cert-mismatch.example.com", "Echo")
        #expect(wrongCA["reply"] == nil && wrongCA["code"] == "UNAVAILABLE",
                "the certificate is not signed by the mismatch CA, so the call must fail: \(wrongCA)")
    }

    /// A DNS server for one name, as upstream's coredns serves foo.bar.com with its whoami plugin:
    /// an A query for `name` gets one A record, `address`; any other name is NXDOMAIN. It keeps the
    /// names it was asked, so a test can tell its answer from anyone else's.
    final class DNSResponder: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let name: String
        let address: [UInt8]
        let asked = NIOLockedValueBox<[String]>([])
        init(name: String, address: [UInt8]) { self.name = name; self.address = address }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            let query = Array(envelope.data.readableBytesView)
            // Header (12 bytes), then the question: length-prefixed labels, a zero, type and class.
            guard query.count > 12, query[4] == 0, query[5] == 1 else { return }
            var offset = 12, labels: [String] = []
            while offset < query.count, query[offset] != 0 {
                let length = Int(query[offset])
                guard length < 64, offset + 1 + length < query.count else { return }
                labels.append(String(decoding: query[(offset + 1)...(offset + length)], as: UTF8.self))
                offset += 1 + length
            }
            let questionEnd = offset + 5
            guard questionEnd <= query.count else { return }
            let asked = labels.joined(separator: ".").lowercased() + "."
            self.asked.withLockedValue { $0.append(asked) }
            let isA = query[offset + 1] == 0 && query[offset + 2] == 1
            let known = asked == name
            // Same id; QR and AA set, RD as asked; NXDOMAIN (3) for a name it does not serve.
            var reply: [UInt8] = [query[0], query[1], 0x84 | (query[2] & 0x01), known ? 0 : 3,
                                  0, 1, 0, known && isA ? 1 : 0, 0, 0, 0, 0]
            reply += query[12..<questionEnd]
            if known && isA {
                // A pointer to the question's name, type A, class IN, TTL 60, four bytes of address.
                reply += [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4] + address
            }
            let buffer = context.channel.allocator.buffer(bytes: reply)
            context.writeAndFlush(NIOAny(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: buffer)), promise: nil)
        }
    }

    /// Conformance: UDPRoute
    @Test func udpRoute() async throws {
        let harness = GatewayHarness()
        defer { Task { await harness.stop() } }
        harness.extraPortMap = [5300: 0]
        let dns = DNSResponder(name: "foo.bar.com.", address: [192, 0, 2, 53])
        let server = try await DatagramBootstrap(group: harness.group)
            .channelInitializer { $0.pipeline.addHandler(dns) }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { server.close(promise: nil) }
        // Upstream's udp-gateway listener (UDP, port 5300, UDPRoutes only) and route to the coredns Service.
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(listeners: ["{name: coredns, protocol: UDP, port: 5300, allowedRoutes: {kinds: [{kind: UDPRoute}]}}"]),
            Manifests.service("coredns", targetPort: server.localAddress!.port!, protocol: "UDP"),
            """
            apiVersion: gateway.networking.k8s.io/v1alpha2
            kind: UDPRoute
            metadata: {name: udp-coredns}
            spec:
              parentRefs: [{name: gw, sectionName: coredns}]
              rules: [{backendRefs: [{name: coredns, port: 80}]}]
            """))
        try await harness.start()
        let route = await harness.runtime.statuses?.streamRoutes[.udp]?[NamespacedName("default", "udp-coredns")]
        #expect(route?.parents.first?.conditions.contains { $0.type == "Accepted" && $0.status == "True" } == true,
                "\(route?.parents.first?.conditions.map { "\($0.type)=\($0.status)" } ?? [])")

        // dig, a real resolver client, through the gateway's UDP listener.
        let port = String(await harness.hostPort(5300))
        let answer = try await ExternalTool.runOffThePool("dig", ["@127.0.0.1", "-p", port, "foo.bar.com", "A", "+time=3", "+tries=2"])
        #expect(answer.status == 0 && answer.stdout.contains("status: NOERROR"), "\(answer.stdout) \(answer.stderr)")
        let records = answer.stdout.split(separator: "\n").filter { !$0.hasPrefix(";") }.map { $0.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
        #expect(records.contains("foo.bar.com. 60 IN A 192.0.2.53"), "\(answer.stdout)")
        // A name the server does not serve: its NXDOMAIN comes back, so the answers are the server's.
        let missing = try await ExternalTool.runOffThePool("dig", ["@127.0.0.1", "-p", port, "nothing.example", "A", "+time=3", "+tries=2"])
        #expect(missing.stdout.contains("status: NXDOMAIN"), "\(missing.stdout) \(missing.stderr)")
        #expect(dns.asked.withLockedValue { $0 } == ["foo.bar.com.", "nothing.example."])
    }
}
