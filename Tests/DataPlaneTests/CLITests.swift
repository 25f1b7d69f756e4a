import Foundation
import Glibc
import NIOCore
import NIOPosix
import Testing

/// The archway binary as a user runs it: what `--help`, `slo status`, `status --admin` and a busy
/// port say, and the bundled example's script stopping what it started.
@Suite(.timeLimit(.minutes(2)))
struct CLITests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let binary = repository.appendingPathComponent(".build/debug/archway").path

    @Test func helpShowsAddressDefaultsAsTheyAreTyped() throws {
        let help = try ExternalTool.run(Self.binary, ["serve", "--help"])
        #expect(help.stdout.contains("(default: 127.0.0.1:9901)") && !help.stdout.contains("HostPort("), "\(help.stdout)")
    }

    @Test func sloStatusAndStatusReadARunningArchway() async throws {
        let harness = try await GatewayHarness.startWithOneRoute()
        defer { Task { await harness.stop() } }
        let admin = "127.0.0.1:\(harness.adminPort)"
        let slo = try ExternalTool.run(Self.binary, ["slo", "status", "--admin", admin])
        #expect(slo.status == 0, "slo status: \(slo.stderr)")
        let status = try ExternalTool.run(Self.binary, ["status", "--admin", admin, "-o", "json"])
        #expect(status.status == 0 && status.stdout.contains("\"name\" : \"r\""), "\(status.stdout.prefix(300)) \(status.stderr)")
        let nobody = try ExternalTool.run(Self.binary, ["slo", "status", "--admin", "127.0.0.1:1"])
        #expect(nobody.status == 1 && nobody.stderr.contains("is `archway serve` running with --admin 127.0.0.1:1?"), "\(nobody.stderr)")
    }

    @Test func aBusyAdminPortIsNamed() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { group.shutdownGracefully { _ in } }
        let holder = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        defer { holder.close(promise: nil) }
        let port = holder.localAddress!.port!
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("archway-busy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Manifests.gateway().write(to: directory.appendingPathComponent("gw.yaml"), atomically: true, encoding: .utf8)
        let run = try ExternalTool.run(Self.binary, ["serve", "--config", directory.path, "--port-map", "80=127.0.0.1:0",
                                                     "--admin", "127.0.0.1:\(port)"])
        #expect(run.status == 1 && run.stderr.contains("cannot bind the admin endpoint to 127.0.0.1:\(port)"), "exit \(run.status): \(run.stderr)")
    }

    /// A state directory inside the configuration would be read back as manifests: refused at start,
    /// naming both, as is one in Kubernetes mode (where state lives on the objects).
    @Test func aStateDirectoryInsideTheConfigurationIsRefused() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("archway-state-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let inside = try ExternalTool.run(Self.binary, ["serve", "--config", directory.path, "--state-dir", directory.path + "/state"])
        #expect(inside.status != 0 && inside.stderr.contains("--state-dir \(directory.path)/state is inside --config \(directory.path)"), "\(inside.stderr)")
        let cluster = try ExternalTool.run(Self.binary, ["serve", "--kubernetes", "--state-dir", "/tmp/x"])
        #expect(cluster.status != 0 && cluster.stderr.contains("--state-dir is for file mode"), "\(cluster.stderr)")
    }

    /// The status writer's rate flags: listed with their defaults, and a rate that could never send refused.
    @Test func theStatusWriteRateFlagsAreListedAndChecked() throws {
        let help = try ExternalTool.run(Self.binary, ["serve", "--help"])
        let text = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        let qps = try #require(text.range(of: "--kube-api-qps <kube-api-qps>"), "\(help.stdout)")
        let burst = try #require(text.range(of: "--kube-api-burst <kube-api-burst>"), "\(help.stdout)")
        #expect(text[qps.upperBound..<burst.lowerBound].contains("(default: 20"), "\(text[qps.upperBound..<burst.lowerBound])")
        #expect(text[burst.upperBound...].prefix(200).contains("(default: 40)"), "\(text[burst.upperBound...].prefix(200))")
        let zero = try ExternalTool.run(Self.binary, ["serve", "--kubernetes", "--kube-api-qps", "0"])
        #expect(zero.status != 0 && zero.stderr.contains("--kube-api-qps must be a positive number"), "\(zero.stderr)")
        let noBurst = try ExternalTool.run(Self.binary, ["serve", "--kubernetes", "--kube-api-burst", "0"])
        #expect(noBurst.status != 0 && noBurst.stderr.contains("--kube-api-burst must be at least 1"), "\(noBurst.stderr)")
    }

    /// `archway status` on manifests lists the certificates Gateways ask of an ACMEIssuer, each with
    /// why it is not there yet, on the issuer and on the listener waiting for it.
    @Test func statusListsTheCertificatesAskedOfAnIssuer() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("archway-acme-status-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try """
            apiVersion: gateway.networking.k8s.io/v1
            kind: GatewayClass
            metadata: {name: archway}
            spec: {controllerName: archway.dev/gateway-controller}
            ---
            apiVersion: archway.dev/v1alpha1
            kind: ACMEIssuer
            metadata: {name: letsencrypt}
            spec: {server: "https://acme-v02.api.letsencrypt.org/directory", termsOfServiceAgreed: true}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: web, namespace: default, annotations: {archway.dev/acme-issuer: letsencrypt}}
            spec:
              gatewayClassName: archway
              listeners:
              - {name: http, protocol: HTTP, port: 80}
              - {name: https, protocol: HTTPS, port: 443, hostname: app.example.com, tls: {certificateRefs: [{name: app-tls}]}}
            """.write(to: directory.appendingPathComponent("gw.yaml"), atomically: true, encoding: .utf8)
        let table = try ExternalTool.run(Self.binary, ["status", "--config", directory.path])
        #expect(table.stdout.contains("certificate default/app-tls [app.example.com]: NotOrdered: not ordered by `archway status`"), "\(table.stdout)")
        let json = try ExternalTool.run(Self.binary, ["status", "--config", directory.path, "-o", "json"])
        #expect(json.stdout.contains("Secret default/app-tls") && json.stdout.contains("not ordered by `archway status`"), "\(json.stdout.prefix(3000))")
    }

    /// `examples/run.sh` serves the example, and stopping the script (its pid, as a user's `kill`
    /// would) stops archway and the backends with it: the ports are free again.
    @Test func theExampleScriptStopsWhatItStarted() async throws {
        let script = Process()
        // Through python only to start bash with no signal blocked, as from a terminal: a test runner's
        // threads block SIGTERM, and a child inherits that mask (bash cannot trap a blocked signal).
        script.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        script.arguments = ["python3", "-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv('/bin/bash', ['bash', sys.argv[1]])",
                            Self.repository.appendingPathComponent("examples/run.sh").path]
        script.environment = ProcessInfo.processInfo.environment.merging(["ARCHWAY_BIN": Self.binary]) { _, new in new }
        script.standardOutput = FileHandle.nullDevice
        script.standardError = FileHandle.nullDevice
        try script.run()
        defer { if script.isRunning { kill(script.processIdentifier, SIGKILL) } }
        try await Self.waitUntil(seconds: 30) {
            (try? ExternalTool.curl(["-H", "Host: frontend.example.com", "-w", "\n@@\n%{http_code}", "http://127.0.0.1:8080/"]).writeOut) == "200"
        }
        kill(script.processIdentifier, SIGTERM)
        try await Self.waitUntil(seconds: 20) { !script.isRunning }
        for port in [8080, 9901, 9101] {
            try await Self.waitUntil(seconds: 10) {
                (try? ExternalTool.curl(["-w", "\n@@\n%{http_code}", "http://127.0.0.1:\(port)/"]).writeOut) == "000"
            }
        }
    }

    /// Polls every 100 ms; records a failure (naming `what`) if the condition never holds.
    static func waitUntil(seconds: Int, _ what: String = #function, _ condition: () -> Bool) async throws {
        for _ in 0..<(seconds * 10) where !condition() { try await Task.sleep(for: .milliseconds(100)) }
        #expect(condition(), "still not so after \(seconds) s: \(what)")
    }
}
