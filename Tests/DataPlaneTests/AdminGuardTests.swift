import Foundation
import NIOCore
import NIOPosix
@testable import Observability
import Testing

/// The admin endpoint shows and changes the whole configuration: beyond /metrics, /healthz and
/// /readyz it answers only loopback callers (kubectl port-forward) or callers with the admin token.
struct AdminGuardTests {
    static let peer = try! SocketAddress(ipAddress: "10.244.1.7", port: 40000)

    @Test func aCallerFromElsewhereNeedsTheTokenAndOnlyTheToken() throws {
        let guarded = AdminServer(metrics: GatewayMetrics(), controlToken: "s3cret-token")
        #expect(!guarded.mayControl(peer: Self.peer, authorization: nil))
        #expect(!guarded.mayControl(peer: Self.peer, authorization: "Bearer s3cret-tokeX"))
        #expect(!guarded.mayControl(peer: Self.peer, authorization: "Bearer s3cret-token-longer"))
        #expect(!guarded.mayControl(peer: Self.peer, authorization: "Basic s3cret-token"))
        #expect(guarded.mayControl(peer: Self.peer, authorization: "Bearer s3cret-token"))
        // Loopback: what kubectl port-forward arrives as, and the local CLI.
        for address in ["127.0.0.1", "127.0.0.53", "::1"] {
            #expect(guarded.mayControl(peer: try SocketAddress(ipAddress: address, port: 1), authorization: nil), "\(address)")
        }
        // Without a token configured, only loopback.
        let open = AdminServer(metrics: GatewayMetrics())
        #expect(!open.mayControl(peer: Self.peer, authorization: "Bearer "))
        #expect(!open.mayControl(peer: Self.peer, authorization: nil))
    }

    /// `serve --metrics-address`: Prometheus and the kubelet get their three paths there, and nothing else.
    @Test func theMetricsPortServesMetricsAndProbesAlone() async throws {
        let server = AdminServer(metrics: GatewayMetrics())
        server.setReady(true)
        let group = MultiThreadedEventLoopGroup.singleton
        let probes = try #require(try await server.startProbes(host: "127.0.0.1", port: 0, group: group)?.port)
        defer { Task { await server.stop() } }
        for (path, expected) in [("/metrics", "200"), ("/healthz", "200"), ("/readyz", "200"), ("/status", "404"), ("/dashboard", "404")] {
            let code = try await ExternalTool.runOffThePool("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(probes)\(path)"]).stdout
            #expect(code == expected, "\(path) on the metrics port: \(code)")
        }
        let control = try await ExternalTool.runOffThePool("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "http://127.0.0.1:\(probes)/rollouts/default/api/abort"]).stdout
        #expect(control == "404", "no control on the metrics port: \(control)")
    }
}
