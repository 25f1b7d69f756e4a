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
        for (path, expected) in [("/metrics", "200"), ("/healthz", "200"), ("/readyz", "200"), ("/status", "404"), ("/dashboard", "404"), ("/events", "404"), ("/describe?kind=gateway&name=web", "404")] {
            let code = try await ExternalTool.runOffThePool("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(probes)\(path)"]).stdout
            #expect(code == expected, "\(path) on the metrics port: \(code)")
        }
        let control = try await ExternalTool.runOffThePool("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "http://127.0.0.1:\(probes)/rollouts/default/api/abort"]).stdout
        #expect(control == "404", "no control on the metrics port: \(control)")
    }
}

/// The guard over a real network: archway in one namespace with its admin endpoint on the LAN
/// address, a client in another. The client reads /metrics and the probes; /status, the dashboard
/// and a rollout command get 401 and change nothing, until it presents the admin token.
@Suite(.serialized, .timeLimit(.minutes(2)), .enabled(if: NetnsLab.available))
struct AdminGuardNetnsTests {
    @Test func fromAnotherHostOnlyTheOpenPathsAnswerWithoutTheToken() async throws {
        let lab = try NetnsLab(tag: "admin")
        defer { lab.tearDown() }
        let client = try lab.namespace("client"), node = try lab.namespace("node")
        try lab.link((client, "lan0", "02:00:00:00:a1:01", ["10.98.0.1/24"]), (node, "lan0", "02:00:00:00:a1:02", ["10.98.0.2/24"]))
        let config = lab.directory.appendingPathComponent("config")
        try FileManager.default.createDirectory(at: config, withIntermediateDirectories: true)
        try Manifests.join(Manifests.gateway(), """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: app}
            spec:
              parentRefs: [{name: gw}]
              rules: [{backendRefs: [{name: stable, port: 80}, {name: canary, port: 80, weight: 0}]}]
            ---
            apiVersion: archway.dev/v1alpha1
            kind: Rollout
            metadata: {name: ship}
            spec:
              targetRef: {name: app}
              stable: {name: stable}
              canary: {name: canary}
              steps: [{weight: 10, duration: 600s}]
            """).write(to: config.appendingPathComponent("gw.yaml"), atomically: true, encoding: .utf8)
        let token = lab.directory.appendingPathComponent("admin-token")
        try "t0ken-for-tests\n".write(to: token, atomically: true, encoding: .utf8)
        try lab.start(node, [CLITests.binary, "serve", "--config", config.path, "--port-map", "80=127.0.0.1:18080", "--admin", "10.98.0.2:9901",
                         "--admin-token-file", token.path], log: "archway.log")
        func code(_ path: String, _ extra: [String] = []) async throws -> String {
            try await lab.runOffThePool(client, "curl", ["-s", "-m", "3", "-o", "/dev/null", "-w", "%{http_code}"] + extra + ["http://10.98.0.2:9901\(path)"]).stdout
        }
        let up = try await NetnsLab.eventually(seconds: 15) { (try? lab.run(client, "curl", ["-s", "-m", "1", "http://10.98.0.2:9901/healthz"]).stdout) == "ok\n" }
        try #require(up, "archway never answered: \(lab.log("archway.log").suffix(2000))")
        /// Whether the rollout serves its first step (10%), read with the token.
        func servesTheFirstStep() -> Bool {
            let status = (try? lab.run(client, "curl", ["-s", "-m", "2", "-H", "Authorization: Bearer t0ken-for-tests", "http://10.98.0.2:9901/status"]).stdout) ?? ""
            return status.replacingOccurrences(of: " ", with: "").contains("\"canaryWeight\":10")
        }
        let started = try await NetnsLab.eventually(seconds: 10) { servesTheFirstStep() }
        try #require(started, "the rollout never started: \(lab.log("archway.log").suffix(2000))")
        #expect(try await code("/metrics") == "200")
        #expect(try await code("/readyz") == "200")
        for path in ["/status", "/dashboard", "/dashboard/topology", "/slo", "/events", "/describe?kind=gateway&name=gw"] {
            #expect(try await code(path) == "401", "\(path) from another host without the token")
        }
        #expect(try await code("/rollouts/default/ship/abort", ["-X", "POST"]) == "401")
        #expect(try await code("/rollouts/default/ship/abort", ["-X", "POST", "-H", "Authorization: Bearer wrong"]) == "401")
        // Nothing changed: the rollout still serves its step (read with the token).
        #expect(servesTheFirstStep(), "the refused abort changed the rollout")
        #expect(try await code("/rollouts/default/ship/abort", ["-X", "POST", "-H", "Authorization: Bearer t0ken-for-tests"]) == "200")
    }
}
