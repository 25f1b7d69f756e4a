import Foundation
import NIOCore
import Testing

/// Upstream Gateway API conformance tests of TCPRoute and UDPRoute traffic: each serves the upstream
/// test's manifest verbatim (conformance/tests/*.yaml, without its Deployments) with every backend
/// Service given an EndpointSlice to an echo server that says the Service's name (a TCP echo greets
/// "name\n"; a UDP echo answers "name:" + the datagram), as upstream's echo pods identify themselves,
/// then connects through each listener the upstream test uses. Their statuses are fixtures 103-112.
@Suite(.timeLimit(.minutes(2)))
struct UpstreamStreamConformanceTests {
    /// Archway serving `manifest` on `ports`, each Service in `backends` ("namespace/name") backed by
    /// an echo server of that name on the Service port named `portName`.
    /// `backends` are TCP (or, with `udp`, UDP) echo servers; `udpBackends` are UDP ones beside TCP ones.
    static func start(_ manifest: String, udp: Bool = false, backends: [String], udpBackends: [String] = [], ports: [Int]) async throws -> (GatewayHarness, [any Channel]) {
        let harness = GatewayHarness()
        harness.extraPortMap = Dictionary(uniqueKeysWithValues: ports.map { ($0, 0) })
        var channels: [any Channel] = []
        var documents = ["""
            apiVersion: gateway.networking.k8s.io/v1
            kind: GatewayClass
            metadata: {name: archway}
            spec: {controllerName: archway.dev/gateway-controller}
            """]
        for (backend, udp) in backends.map({ ($0, udp) }) + udpBackends.map({ ($0, true) }) {
            let parts = backend.split(separator: "/").map(String.init)
            let (channel, port) = udp ? try await StreamRouteTests.udpEcho(parts[1], group: harness.group)
                                      : try await StreamRouteTests.tcpEcho(parts[1], group: harness.group)
            channels.append(channel)
            documents.append("""
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: \(parts[1])-1, namespace: \(parts[0]), labels: {kubernetes.io/service-name: \(parts[1])}}
                addressType: IPv4
                ports: [{name: \(udp ? "udp" : "tcp"), port: \(port), protocol: \(udp ? "UDP" : "TCP")}]
                endpoints:
                - addresses: [127.0.0.1]
                  conditions: {ready: true}
                """)
        }
        documents.append(manifest)
        try harness.write("gw.yaml", documents.joined(separator: "\n---\n") + "\n")
        try await harness.start()
        return (harness, channels)
    }

    static func stop(_ harness: GatewayHarness, _ channels: [any Channel]) {
        for channel in channels { channel.close(promise: nil) }
        Task { await harness.stop() }
    }

    /// The name the TCP backend behind `listenerPort` greets a new connection with.
    static func tcpBackend(_ harness: GatewayHarness, _ listenerPort: Int, address: String? = nil) async throws -> String? {
        let socket = try BlockingSocket(host: address ?? "127.0.0.1", port: await harness.hostPort(listenerPort, address: address), timeout: 3)
        return socket.receive(through: "\n")?.trimmingCharacters(in: .newlines)
    }

    /// The name of the UDP backend that answers a datagram sent to `listenerPort` from a new client port.
    /// The client socket is connected, so only an answer from the address it sent to counts.
    static func udpBackend(_ harness: GatewayHarness, _ listenerPort: Int, address: String? = nil) async throws -> String? {
        let socket = try BlockingSocket(host: address ?? "127.0.0.1", port: await harness.hostPort(listenerPort, address: address), udp: true, timeout: 3)
        socket.send("ping")
        guard let answer = socket.receiveOnce().map({ String(decoding: $0, as: UTF8.self) }), answer.hasSuffix(":ping") else { return nil }
        return String(answer.dropLast(":ping".count))
    }
}
