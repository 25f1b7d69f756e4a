import ArchwayCore
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Testing

/// TCPRoute, UDPRoute and TLSRoute (passthrough and terminate) over real sockets.
@Suite(.timeLimit(.minutes(2)))
struct StreamRouteTests {
    /// Says its name on connect ("name\n"), then echoes every byte.
    final class TCPEcho: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let name: String
        init(name: String) { self.name = name }
        func channelActive(context: ChannelHandlerContext) {
            context.writeAndFlush(NIOAny(context.channel.allocator.buffer(string: name + "\n")), promise: nil)
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { context.writeAndFlush(data, promise: nil) }
    }

    /// Answers each datagram with "name:" + the datagram.
    final class UDPEcho: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let name: String
        init(name: String) { self.name = name }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            var reply = context.channel.allocator.buffer(string: name + ":")
            reply.writeImmutableBuffer(envelope.data)
            context.writeAndFlush(NIOAny(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: reply)), promise: nil)
        }
    }

    static func tcpEcho(_ name: String, group: any EventLoopGroup) async throws -> (any Channel, Int) {
        let channel = try await ServerBootstrap(group: group)
            .childChannelInitializer { $0.pipeline.addHandler(TCPEcho(name: name)) }
            .bind(host: "127.0.0.1", port: 0).get()
        return (channel, channel.localAddress!.port!)
    }

    static func udpEcho(_ name: String, group: any EventLoopGroup) async throws -> (any Channel, Int) {
        let channel = try await DatagramBootstrap(group: group)
            .channelInitializer { $0.pipeline.addHandler(UDPEcho(name: name)) }
            .bind(host: "127.0.0.1", port: 0).get()
        return (channel, channel.localAddress!.port!)
    }

    @Test func tcpRouteSplitsConnectionsByWeightAndEchoesBytes() async throws {
        let harness = GatewayHarness()
        defer { Task { await harness.stop() } }
        harness.extraPortMap = [5432: 0]
        let (a, aPort) = try await Self.tcpEcho("alpha", group: harness.group)
        let (b, bPort) = try await Self.tcpEcho("beta", group: harness.group)
        defer { a.close(promise: nil); b.close(promise: nil) }
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(listeners: ["{name: db, protocol: TCP, port: 5432}"]),
            Manifests.service("alpha", targetPort: aPort), Manifests.service("beta", targetPort: bPort),
            """
            apiVersion: gateway.networking.k8s.io/v1alpha2
            kind: TCPRoute
            metadata: {name: db}
            spec:
              parentRefs: [{name: gw, sectionName: db}]
              rules: [{backendRefs: [{name: alpha, port: 80, weight: 3}, {name: beta, port: 80, weight: 1}]}]
            """))
        try await harness.start()
        let port = await harness.hostPort(5432)

        var counts: [String: Int] = [:]
        for index in 0..<200 {
            let socket = try BlockingSocket(port: port)
            let greeting = try #require(socket.receive(through: "\n"), "connection \(index) got no greeting")
            counts[greeting.trimmingCharacters(in: .newlines), default: 0] += 1
            // Arbitrary bytes, including ones no text protocol would send, come back unchanged.
            let payload = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ index) }
            socket.send(payload)
            let echoed = socket.receive(exactly: payload.count)
            #expect(echoed == payload, "connection \(index): \(echoed?.count ?? 0) of \(payload.count) bytes came back, equal: \(echoed == payload)")
            if echoed != payload { break }
        }
        #expect((120...180).contains(counts["alpha"] ?? 0), "3:1 weights over 200 connections: \(counts)")
        #expect((counts["alpha"] ?? 0) + (counts["beta"] ?? 0) == 200)
    }

    @Test func udpRouteForwardsDatagramsPerClientFlow() async throws {
        let harness = GatewayHarness()
        defer { Task { await harness.stop() } }
        harness.extraPortMap = [5353: 0]
        let (echo, echoPort) = try await Self.udpEcho("dns", group: harness.group)
        defer { echo.close(promise: nil) }
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(listeners: ["{name: dns, protocol: UDP, port: 5353}"]),
            Manifests.service("dns", targetPort: echoPort, protocol: "UDP"),
            """
            apiVersion: gateway.networking.k8s.io/v1alpha2
            kind: UDPRoute
            metadata: {name: dns}
            spec:
              parentRefs: [{name: gw}]
              rules: [{backendRefs: [{name: dns, port: 80}]}]
            """))
        try await harness.start()
        let port = await harness.hostPort(5353)
        // Two clients, interleaved: each gets exactly its own answers back.
        let first = try BlockingSocket(port: port, udp: true, timeout: 3)
        let second = try BlockingSocket(port: port, udp: true, timeout: 3)
        for index in 0..<50 {
            first.send("first-\(index)")
            second.send("second-\(index)")
            #expect(first.receiveOnce().map { String(decoding: $0, as: UTF8.self) } == "dns:first-\(index)")
            #expect(second.receiveOnce().map { String(decoding: $0, as: UTF8.self) } == "dns:second-\(index)")
        }
    }

    @Test func tlsPassthroughRoutesBySNIWithoutTerminatingAndTerminateModeDecrypts() async throws {
        let harness = GatewayHarness()
        defer { Task { await harness.stop() } }
        harness.extraPortMap = [443: 0]
        // The backend holds its own certificate; the gateway never sees it.
        let backendCert = try TestCertificate(names: ["secure.example.com"], in: harness.directory)
        var serverTLS = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(backendCert.chainPEM.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(backendCert.keyPEM.utf8), format: .pem)))
        serverTLS.applicationProtocols = ["http/1.1"]
        let tlsBackend = try await EchoServer.start(name: "tls-backend", host: "127.0.0.1", port: 0, group: harness.group,
                                                    tls: try NIOSSLContext(configuration: serverTLS))
        defer { tlsBackend.close(promise: nil) }
        try await harness.startBackend("plain")
        let gatewayCert = try TestCertificate(names: ["edge.example.com"], in: harness.directory)
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(listeners: [
                "{name: pass, protocol: TLS, port: 443, hostname: secure.example.com, tls: {mode: Passthrough}}",
                "{name: term, protocol: TLS, port: 443, hostname: edge.example.com, tls: {mode: Terminate, certificateRefs: [{name: edge}]}}",
            ]),
            gatewayCert.secret("edge"),
            Manifests.service("secure", targetPort: tlsBackend.localAddress!.port!),
            Manifests.service("plain", targetPort: harness.backendPorts["plain"]!),
            """
            apiVersion: gateway.networking.k8s.io/v1alpha2
            kind: TLSRoute
            metadata: {name: secure}
            spec:
              parentRefs: [{name: gw, sectionName: pass}]
              hostnames: [secure.example.com]
              rules: [{backendRefs: [{name: secure, port: 80}]}]
            ---
            apiVersion: gateway.networking.k8s.io/v1alpha2
            kind: TLSRoute
            metadata: {name: edge}
            spec:
              parentRefs: [{name: gw, sectionName: term}]
              hostnames: [edge.example.com]
              rules: [{backendRefs: [{name: plain, port: 80}]}]
            """))
        try await harness.start()
        let port = await harness.hostPort(443)

        // Passthrough: curl verifies the backend's own certificate, so TLS ended at the backend.
        let pass = try ExternalTool.curl(["--cacert", backendCert.path, "--resolve", "secure.example.com:\(port):127.0.0.1",
                                          "-w", "\n@@\n%{http_code}", "https://secure.example.com:\(port)/through"])
        #expect(pass.status == 0, "\(pass.stderr)")
        #expect(pass.body.contains("\"name\":\"tls-backend\""), "\(pass.body)")

        // Terminate: the gateway's certificate, and the plain backend receives the decrypted bytes.
        let term = try ExternalTool.curl(["--cacert", gatewayCert.path, "--resolve", "edge.example.com:\(port):127.0.0.1",
                                          "-w", "\n@@\n%{http_code} %{http_version}", "https://edge.example.com:\(port)/decrypted"])
        #expect(term.status == 0, "\(term.stderr)")
        #expect(term.writeOut == "200 1.1", "no h2 is offered on a TLSRoute listener: \(term.writeOut)")
        #expect(term.body.contains("\"name\":\"plain\""), "\(term.body)")

        // An SNI name no listener takes reaches no backend: the handshake falls back to the port's
        // terminating certificate (which a verifying client refuses) and the gateway answers 404 itself.
        let unknown = try ExternalTool.curl(["-k", "--resolve", "other.example.com:\(port):127.0.0.1",
                                             "-w", "\n@@\n%{http_code}", "https://other.example.com:\(port)/"])
        #expect(unknown.writeOut == "404", "\(unknown.writeOut) \(unknown.stderr)")
        #expect(unknown.body.contains("no listener"), "\(unknown.body)")
    }
}
