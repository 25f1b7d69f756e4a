import Foundation
import GatewayAPI
import Translator
import Testing

/// A real gRPC client and servers (Python grpcio, installed by .ci/run) through a GRPCRoute: unary
/// calls split by weight, a 100-message bidirectional stream, metadata and trailers both ways,
/// backend errors passed through, and the gateway's own errors as grpc-status.
@Suite(.timeLimit(.minutes(2)))
struct GRPCTests {
    static let peer = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers/grpc_peer.py").path

    /// A peer server started in the background; stopped when the test ends.
    final class PeerServer {
        let process = Process()
        let port: Int

        /// `tls`: serve gRPC over TLS with this certificate instead of h2c.
        init(name: String, tls: TestCertificate? = nil, directory: URL? = nil) throws {
            port = try Self.freePort()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            var tlsArguments: [String] = []
            if let tls, let directory {
                let key = directory.appendingPathComponent("peer-\(UUID().uuidString).key").path
                try tls.keyPEM.write(toFile: key, atomically: true, encoding: .utf8)
                tlsArguments = [tls.path, key]
            }
            process.arguments = ["python3", GRPCTests.peer, "server", String(port), name] + tlsArguments
            // Not the test's own stdout/stderr: a peer left running would hold `swift test` open.
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            // Ready once it accepts connections.
            for _ in 0..<100 {
                if (try? BlockingSocket(port: port)) != nil { return }
                usleep(50_000)
            }
            process.terminate()
            throw HarnessError.timeout("gRPC peer \(name) did not start on port \(port)")
        }

        func stop() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        static func freePort() throws -> Int {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
            }
            return Int(UInt16(bigEndian: address.sin_port))
        }
    }

    @Test func grpcRouteWithARealClientAndServers() async throws {
        let blue = try PeerServer(name: "blue")
        let green = try PeerServer(name: "green")
        defer { blue.stop(); green.stop() }
        let harness = GatewayHarness()
        defer { Task { await harness.stop() } }
        try await harness.startBackend("http1")
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(), Manifests.service("http1", targetPort: harness.backendPorts["http1"]!),
            Manifests.service("blue", targetPort: blue.port), Manifests.service("green", targetPort: green.port),
            Manifests.service("down", targetPort: 9, ready: false),
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: GRPCRoute
            metadata: {name: echo}
            spec:
              parentRefs: [{name: gw}]
              hostnames: [grpc.example.com]
              rules:
              - matches: [{method: {service: echo.Echo, method: Say}}]
                filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-canary, value: rewritten}]}}]
                backendRefs: [{name: blue, port: 80, weight: 1}, {name: green, port: 80, weight: 1}]
              - matches: [{method: {type: RegularExpression, service: 'echo\\.Echo', method: 'Chat|Fail'}}]
                backendRefs: [{name: blue, port: 80}]
              - matches: [{method: {service: echo.Down}}]
                backendRefs: [{name: down, port: 80}]
              - matches: [{method: {service: echo.HTTP1}}]
                backendRefs: [{name: http1, port: 80}]
            """))
        try await harness.start()
        let statuses = try #require(await harness.runtime.statuses)
        let accepted = statuses.grpcRoutes.values.first?.parents.first?.conditions.first { $0.type == "Accepted" }
        #expect(accepted?.status == "True", "GRPCRoute accepted: \(accepted?.message ?? "no status")")

        let run = try ExternalTool.run("python3", [Self.peer, "client", String(harness.port), "grpc.example.com"])
        #expect(run.status == 0, "gRPC client failed: \(run.stderr)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run.stdout)")

        let served = result["served"] as? [String: Int] ?? [:]
        #expect((served["blue"] ?? 0) >= 8 && (served["green"] ?? 0) >= 8, "1:1 weights over 40 calls: \(served)")
        #expect(result["saw_header"] as? String == "rewritten", "the RequestHeaderModifier filter reached the backend")
        #expect(result["stream_count"] as? Int == 100)
        #expect(result["stream_last"] as? String == "blue:99:m99")
        #expect((result["stream_trailers"] as? [String: String])?["x-messages"] == "done", "trailers pass through")
        #expect(result["fail_code"] as? String == "PERMISSION_DENIED")
        #expect(result["fail_details"] as? String == "no entry for bob")
        #expect(result["unrouted_code"] as? String == "UNIMPLEMENTED", "\(result["unrouted_details"] ?? "")")
        #expect(result["down_code"] as? String == "UNAVAILABLE", "\(result["down_details"] ?? "")")
        #expect(result["http1_code"] as? String == "UNAVAILABLE" && (result["http1_details"] as? String ?? "").contains("HTTP/2"),
                "an HTTP/1-only backend fails fast, saying why: \(result["http1_code"] ?? "none") \(result["http1_details"] ?? "")")
    }

    /// GRPCRoute to a backend that speaks gRPC over TLS: HTTP/2 with ALPN h2, verified by a BackendTLSPolicy.
    /// GRPCRoute RequestHeaderModifier as the backend sees the call's metadata (the set, add and
    /// remove cases of upstream GRPCRouteRequestHeaderModifier, and all three in one filter): set
    /// replaces a value the client sent, add appends to it, remove drops it; other metadata passes.
    @Test func grpcRequestHeaderModifierReachesTheBackend() async throws {
        let peer = try PeerServer(name: "echo")
        defer { peer.stop() }
        let harness = GatewayHarness()
        defer { Task { await harness.stop() } }
        func route(_ host: String, _ modifier: String) -> String {
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: GRPCRoute
            metadata: {name: \(host.split(separator: ".")[0])}
            spec:
              parentRefs: [{name: gw}]
              hostnames: [\(host)]
              rules:
              - matches: [{method: {service: echo.Echo, method: Headers}}]
                filters: [{type: RequestHeaderModifier, requestHeaderModifier: \(modifier)}]
                backendRefs: [{name: echo, port: 80}]
            """
        }
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(), Manifests.service("echo", targetPort: peer.port),
            route("set.example.com", "{set: [{name: X-Header-Set, value: set-overwrites-values}]}"),
            route("add.example.com", "{add: [{name: X-Header-Add, value: add-appends-values}]}"),
            route("remove.example.com", "{remove: [X-Header-Remove]}"),
            route("multiple.example.com", "{set: [{name: X-Header-Set-1, value: header-set-1}, {name: X-Header-Set-2, value: header-set-2}], "
                  + "add: [{name: X-Header-Add-1, value: header-add-1}, {name: X-Header-Add-2, value: header-add-2}], "
                  + "remove: [X-Header-Remove-1, X-Header-Remove-2]}")))
        try await harness.start()
        func seen(_ host: String, _ metadata: [String]) throws -> [String: [String]] {
            let run = try ExternalTool.run("python3", [Self.peer, "headers", String(harness.port), host] + metadata)
            return try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: [String]], "\(run.stdout) \(run.stderr)")
        }
        #expect(try seen("set.example.com", [])["x-header-set"] == ["set-overwrites-values"])
        #expect(try seen("set.example.com", ["x-header-set=this-value-should-be-overwritten"])["x-header-set"] == ["set-overwrites-values"])
        #expect(try seen("add.example.com", [])["x-header-add"] == ["add-appends-values"])
        let added = try seen("add.example.com", ["x-header-add=this-value-should-be-appended"])["x-header-add"] ?? []
        // gRPC metadata with one key may arrive as two entries or one comma-joined value (both mean the same list).
        #expect(added.joined(separator: ",").replacingOccurrences(of: ", ", with: ",") == "this-value-should-be-appended,add-appends-values", "\(added)")
        #expect(try seen("remove.example.com", ["x-header-remove=this-should-be-removed"])["x-header-remove"] == nil)
        let multiple = try seen("multiple.example.com", ["x-header-set-2=set-header-2", "x-header-add-2=add-header-2",
                                                        "x-header-remove-2=should-be-removed-2", "some-other-header=another-header-val"])
        #expect(multiple["x-header-set-1"] == ["header-set-1"] && multiple["x-header-set-2"] == ["header-set-2"], "\(multiple)")
        #expect(multiple["x-header-add-1"] == ["header-add-1"], "\(multiple)")
        #expect((multiple["x-header-add-2"] ?? []).joined(separator: ",").replacingOccurrences(of: ", ", with: ",") == "add-header-2,header-add-2", "\(multiple)")
        #expect(multiple["x-header-remove-2"] == nil && multiple["some-other-header"] == ["another-header-val"], "\(multiple)")
    }

    @Test func grpcToATLSBackendThroughBackendTLSPolicy() async throws {
        let harness = GatewayHarness()
        defer { Task { await harness.stop() } }
        let authority = try TestCertificate.authority("grpc CA", in: harness.directory)
        let secure = try PeerServer(name: "secure", tls: try authority.issue(["grpc.internal"], in: harness.directory),
                                    directory: harness.directory)
        defer { secure.stop() }
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(), Manifests.service("secure", targetPort: secure.port), authority.caConfigMap("grpc-ca"),
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: BackendTLSPolicy
            metadata: {name: secure-tls}
            spec:
              targetRefs: [{group: "", kind: Service, name: secure}]
              validation: {caCertificateRefs: [{group: "", kind: ConfigMap, name: grpc-ca}], hostname: grpc.internal}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: GRPCRoute
            metadata: {name: secure}
            spec:
              parentRefs: [{name: gw}]
              rules: [{backendRefs: [{name: secure, port: 80}]}]
            """))
        try await harness.start()
        let run = try ExternalTool.run("python3", [Self.peer, "client", String(harness.port), "grpc.example.com"])
        #expect(run.status == 0, "gRPC client failed: \(run.stderr)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run.stdout)")
        #expect(result["served"] as? [String: Int] == ["secure": 40], "\(result["served"] ?? "none")")
        #expect(result["stream_count"] as? Int == 100)
        #expect(result["fail_code"] as? String == "PERMISSION_DENIED")
    }

    /// An Ingress served side by side with ingress-nginx's `backend-protocol: GRPC` reaches a real gRPC
    /// server over h2c; `GRPCS` (TLS without a CA to verify) is said in the Ingress's status.
    @Test func ingressWithBackendProtocolGRPC() async throws {
        let blue = try PeerServer(name: "blue")
        defer { blue.stop() }
        let harness = GatewayHarness()
        defer { Task { await harness.stop() } }
        harness.ingress = IngressServing(httpPort: 80, httpsPort: 443)
        func ingress(_ name: String, _ backendProtocol: String) -> String {
            Manifests.ingress(name, host: "\(name).example.com", service: "blue", annotations: "nginx.ingress.kubernetes.io/backend-protocol: \(backendProtocol)")
        }
        try harness.write("ingress.yaml", Manifests.join(
            Manifests.ingressClass(), Manifests.service("blue", targetPort: blue.port), ingress("grpc", "GRPC"), ingress("grpcs", "GRPCS")))
        try await harness.start()
        let run = try ExternalTool.run("python3", [Self.peer, "say", String(harness.port), "grpc.example.com"])
        #expect(run.status == 0 && run.stdout.hasPrefix("blue:hi"), "\(run.stdout) \(run.stderr)")
        let status = await harness.runtime.statuses?.ingresses[NamespacedName("default", "grpcs")]
        #expect(status?.degraded == true && status?.message.contains("backend-protocol GRPCS is not spoken") == true, "\(status?.message ?? "")")
    }
}
