import Foundation
import Testing

/// WebSocket through the gateway: the HTTP/1.1 Upgrade is forwarded, the 101 comes back, and from
/// then on the connection is a byte tunnel. The client here frames messages by hand (RFC 6455: masked
/// client frames, unmasked server frames) so the test sees exactly the bytes on the wire.
@Suite(.timeLimit(.minutes(2)))
struct WebSocketTests {
    struct Client {
        let socket: BlockingSocket
        var random = SystemRandomNumberGenerator()

        /// Connects and upgrades; returns the client and the 101 head.
        static func open(port: Int, host: String = "ws.example.com", path: String = "/chat") throws -> (Client, String) {
            let socket = try BlockingSocket(port: port)
            let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
            socket.send("GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n")
            let head = socket.receive(through: "\r\n\r\n") ?? ""
            return (Client(socket: socket), head)
        }

        mutating func send(opcode: UInt8, _ payload: [UInt8]) {
            var frame: [UInt8] = [0x80 | opcode]
            switch payload.count {
            case ..<126: frame.append(0x80 | UInt8(payload.count))
            case ..<65536: frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
            default: frame += [0x80 | 127] + (0..<8).reversed().map { UInt8((payload.count >> ($0 * 8)) & 0xff) }
            }
            let mask = (0..<4).map { _ in UInt8.random(in: 0...255, using: &random) }
            frame += mask
            frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
            socket.send(frame)
        }

        /// One server frame: (opcode, payload), or nil if the connection ended.
        func receive() -> (opcode: UInt8, payload: [UInt8])? {
            guard let header = socket.receive(exactly: 2) else { return nil }
            #expect(header[1] & 0x80 == 0, "server frames are not masked")
            var length = Int(header[1] & 0x7f)
            if length == 126 {
                guard let extended = socket.receive(exactly: 2) else { return nil }
                length = Int(extended[0]) << 8 | Int(extended[1])
            } else if length == 127 {
                guard let extended = socket.receive(exactly: 8) else { return nil }
                length = extended.reduce(0) { $0 << 8 | Int($1) }
            }
            guard let payload = socket.receive(exactly: length) else { return nil }
            return (header[0] & 0x0f, payload)
        }
    }

    @Test func thousandMessagesBothWaysAndTheTunnelSurvivesAReload() async throws {
        let harness = try await GatewayHarness.startWithOneRoute()
        defer { Task { await harness.stop() } }

        var (client, head) = try Client.open(port: harness.port)
        #expect(head.hasPrefix("HTTP/1.1 101"), "the backend's 101 reaches the client: \(head)")
        #expect(head.lowercased().contains("upgrade: websocket"))
        #expect(head.lowercased().contains("sec-websocket-accept:"), "handshake headers pass through: \(head)")

        for index in 0..<1000 {
            if index == 500 {
                // A configuration change in the middle of the conversation leaves the tunnel alone.
                let generation = await harness.runtime.generation
                try harness.write("extra.yaml", """
                    apiVersion: gateway.networking.k8s.io/v1
                    kind: HTTPRoute
                    metadata: {name: other}
                    spec:
                      parentRefs: [{name: gw}]
                      hostnames: [other.example.com]
                      rules: [{backendRefs: [{name: svc, port: 80}]}]
                    """)
                try await harness.waitForGeneration(atLeast: generation + 1)
            }
            let message = Array("message \(index) ✓".utf8)
            client.send(opcode: 0x1, message)
            let echoed = try #require(client.receive(), "message \(index) got no answer")
            #expect(echoed.opcode == 0x1)
            #expect(echoed.payload == message, "message \(index) came back changed")
        }

        // A 200 KiB binary message (64-bit length) crosses both ways intact.
        let big = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        client.send(opcode: 0x2, big)
        let bigEcho = try #require(client.receive())
        #expect(bigEcho.opcode == 0x2 && bigEcho.payload == big, "the 200 KiB message came back changed")

        // Ping/pong and the closing handshake are relayed too.
        client.send(opcode: 0x9, Array("are you there".utf8))
        let pong = try #require(client.receive())
        #expect(pong.opcode == 0xA && pong.payload == Array("are you there".utf8))
        client.send(opcode: 0x8, [0x03, 0xE8])
        #expect(client.receive()?.opcode == 0x8)
        #expect(client.receive() == nil, "the gateway closes the client side once the backend closed")
    }

    @Test func websocketOverHTTPSListener() async throws {
        // The Upgrade also works on an HTTPS listener (ALPN http/1.1); curl drives the handshake.
        let setup = try await TLSTests.start()
        defer { Task { await setup.harness.stop() } }
        let result = try ExternalTool.curl([
            "--http1.1", "--cacert", setup.certA.path, "--resolve", "a.example.com:\(setup.httpsPort):127.0.0.1",
            "-H", "Upgrade: websocket", "-H", "Connection: Upgrade", "-H", "Sec-WebSocket-Version: 13",
            "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "-o", "/dev/null", "--max-time", "2",
            "-w", "\n@@\n%{http_code}", "https://a.example.com:\(setup.httpsPort)/chat",
        ])
        // curl stops at the 101 (it cannot speak WebSocket) and times out waiting; the status is what counts.
        #expect(result.writeOut == "101", "\(result.writeOut) \(result.stderr)")
    }

    /// A backend whose first frame comes in the same read as its 101: the frame is the tunnel's first
    /// bytes, after the 101, not lost with the HTTP reading of the connection.
    @Test func bytesTheBackendSendsWithIts101ReachTheClient() async throws {
        let backend = ScriptedBackend(["/ws": ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nfirst-frame", false)])
        let harness = try await FastLaneTests.gateway(backend: backend.start)
        defer { Task { await backend.stop(); await harness.stop() } }
        let socket = try BlockingSocket(port: harness.port, timeout: 3)
        socket.send("GET /ws HTTP/1.1\r\nHost: a.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        let head = socket.receive(through: "\r\n\r\n") ?? ""
        #expect(head.hasPrefix("HTTP/1.1 101"), "\(head)")
        #expect(socket.receive(exactly: 11).map { String(decoding: $0, as: UTF8.self) } == "first-frame")
    }

    @Test func aRefusedUpgradeIsAnsweredAndTheConnectionClosed() async throws {
        let harness = try await GatewayHarness.startWithOneRoute()
        defer { Task { await harness.stop() } }
        // An upgrade to something the backend does not speak: it answers an ordinary 200.
        let socket = try BlockingSocket(port: harness.port)
        socket.send("GET /plain HTTP/1.1\r\nHost: ws.example.com\r\nUpgrade: something-else\r\nConnection: Upgrade\r\n\r\n")
        let reply = String(decoding: socket.receiveAll(), as: UTF8.self)
        #expect(reply.hasPrefix("HTTP/1.1 200"), "\(reply)")
        #expect(reply.lowercased().contains("connection: close"), "the request stream cannot continue after an Upgrade request")
    }
}
