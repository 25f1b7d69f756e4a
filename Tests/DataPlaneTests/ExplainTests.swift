import DataPlane
import Foundation
import Testing

/// `archway explain` against what requests really do: the playbook example served with its echo
/// backends, each README curl line both explained (from the manifests and from the running
/// archway's live table) and sent. The backend explain names must be the one that answered, the
/// request it says the backend sees must be what the backend echoes, and a local answer must be the
/// status and message the client gets.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ExplainTests {
    /// The README's curl lines: host, path, extra headers.
    static let readmeRequests: [(host: String, path: String, headers: [(String, String)])] = [
        ("frontend.example.com", "/", []),
        ("api.example.com", "/api/x", []),
        ("app.example.com", "/", [("X-Canary", "true")]),
        ("app.example.com", "/", []),
        ("backend.example.com", "/", []),
    ]
    /// Made per request: explain says where they go, not their value.
    static let perRequest: Set<String> = ["x-request-id", "traceparent"]

    static func startPlaybook() async throws -> GatewayHarness {
        let harness = GatewayHarness()
        let names = ["frontend-service": 9101, "api-v1": 9102, "api-v2": 9103, "app-blue": 9104, "app-green": 9105, "backend-service": 9106]
        for name in names.keys { try await harness.startBackend(name) }
        let playbook = CLITests.repository.appendingPathComponent("examples/playbook")
        for file in try FileManager.default.contentsOfDirectory(atPath: playbook.path) where file.hasSuffix(".yaml") {
            var text = try String(contentsOf: playbook.appendingPathComponent(file), encoding: .utf8)
            // The example's fixed backend ports, moved to the ports the test's backends got.
            for (name, port) in names { text = text.replacingOccurrences(of: ": \(port)\n", with: ": \(harness.backendPorts[name]!)\n") }
            try harness.write(file, text)
        }
        try await harness.start()
        return harness
    }

    static func explain(_ arguments: [String]) throws -> RequestExplanation {
        let run = try ExternalTool.run(CLITests.binary, ["explain", "-o", "json"] + arguments)
        #expect(run.status == 0, "explain \(arguments): \(run.stderr)")
        return try JSONDecoder().decode(RequestExplanation.self, from: Data(run.stdout.utf8))
    }

    @Test func eachReadmeRequestGoesWhereExplainSays() async throws {
        let harness = try await Self.startPlaybook()
        defer { Task { await harness.stop() } }
        for request in Self.readmeRequests {
            let query = ["http://\(request.host)\(request.path)", "--client-address", "127.0.0.1"]
                + request.headers.flatMap { ["-H", "\($0.0): \($0.1)"] }
            let live = try Self.explain(query + ["--admin", "127.0.0.1:\(harness.adminPort)"])
            let offline = try Self.explain(query + ["--config", harness.directory.path])
            #expect(live.route != nil && live.route == offline.route && live.backends.map(\.name) == offline.backends.map(\.name),
                    "\(request.host): the manifests and the live table disagree: \(offline.outcome) / \(live.outcome)")
            #expect(live.answer == nil, "\(request.host): \(live.outcome)")

            let response = try await harness.send(request.path, host: request.host, headers: request.headers)
            #expect(response.status == 200, "\(request.host)\(request.path): \(response.status) \(response.text)")
            let echo = try #require(try JSONSerialization.jsonObject(with: Data(response.text.utf8)) as? [String: Any])
            let name = try #require(echo["name"] as? String)
            let backend = try #require(live.backends.first { $0.name == name },
                                       "\(request.host): answered by \(name), explain said \(live.backends.map(\.name))")
            let upstream = try #require(backend.upstream)
            #expect(upstream.requestLine.hasPrefix("GET \(echo["path"] as? String ?? "?") HTTP/1.1"), "\(upstream.requestLine) vs \(echo)")
            // The fields the backend received, folded as the echo folds them, against explain's.
            var explained: [String: String] = [:]
            for header in upstream.headers {
                let key = header.name.lowercased()
                explained[key] = explained[key].map { "\($0),\(header.value)" } ?? header.value
            }
            let seen = try #require(echo["headers"] as? [String: String])
            #expect(Set(explained.keys) == Set(seen.keys), "\(request.host): explain \(explained.keys.sorted()) vs backend \(seen.keys.sorted())")
            for (key, value) in seen where !Self.perRequest.contains(key) {
                #expect(explained[key] == value, "\(request.host): \(key) is \(value) at the backend, explain said \(explained[key] ?? "nothing")")
            }
        }
    }

    /// A weighted rule: explain gives each backend its share, and traffic splits that way.
    @Test func weightsAreThoseTheTrafficFollows() async throws {
        let harness = try await Self.startPlaybook()
        defer { Task { await harness.stop() } }
        let explained = try Self.explain(["http://api.example.com/api/x", "--admin", "127.0.0.1:\(harness.adminPort)"])
        let shares = Dictionary(uniqueKeysWithValues: explained.backends.map { ($0.name, $0.share) })
        #expect(shares == ["api-v1": 90, "api-v2": 10], "\(explained.backends.map { ($0.name, $0.weight) })")
        var answered: [String: Int] = [:]
        // 180: inside the playbook's per-client RateLimit burst (200), so every request is answered.
        for _ in 0..<180 {
            let response = try await harness.send("/api/x", host: "api.example.com")
            let name = (try? JSONSerialization.jsonObject(with: Data(response.text.utf8)) as? [String: Any])?["name"] as? String ?? "?"
            answered[name, default: 0] += 1
        }
        // 10% of 180 is 18 ± 4 (one σ); 4σ either way.
        #expect((2...34).contains(answered["api-v2"] ?? 0) && answered["api-v1", default: 0] + answered["api-v2", default: 0] == 180, "\(answered)")
    }

    /// A host no route serves: the 404 explain gives is the one the client reads, and every rule of
    /// the host that does exist says why it passed the request over.
    @Test func a404IsExplainedWithItsReason() async throws {
        let harness = try await Self.startPlaybook()
        defer { Task { await harness.stop() } }
        let unknown = try Self.explain(["http://nobody.example.com/x", "--admin", "127.0.0.1:\(harness.adminPort)"])
        let response = try await harness.send("/x", host: "nobody.example.com")
        #expect(response.status == 404 && unknown.answer?.status == 404)
        #expect(response.text == (unknown.answer?.message ?? "") + "\n", "client read \(response.text), explain said \(unknown.outcome)")

        // The canary rule wants X-Canary: true; without it that rule is passed over, by name.
        let blue = try Self.explain(["http://app.example.com/", "--config", harness.directory.path])
        let canary = try #require(blue.candidates.first { !$0.matched })
        #expect(canary.why == "header x-canary is absent", "\(blue.candidates)")
        #expect(blue.candidates.last?.matched == true && blue.backends.map(\.name) == ["app-blue"], "\(blue.outcome)")
        let wrong = try Self.explain(["http://app.example.com/", "-H", "X-Canary: maybe", "--config", harness.directory.path])
        #expect(wrong.candidates.first?.why == "header x-canary is not = true", "\(wrong.candidates)")
    }

    /// A connection whose server name chose one HTTPS listener, asking for a host another listener
    /// owns: explain names both listeners and the 421 the client gets.
    @Test func a421IsExplainedWithBothListeners() async throws {
        let setup = try await TLSTests.start()
        defer { Task { await setup.harness.stop() } }
        let explained = try Self.explain(["https://a.example.com/tls-test", "-H", "Host: api.b.example.com",
                                          "--admin", "127.0.0.1:\(setup.harness.adminPort)"])
        let real = try TLSTests.curlHTTPS(setup, host: "a.example.com", trusting: setup.certA, extra: ["-H", "Host: api.b.example.com"])
        #expect(real.writeOut.hasPrefix("421") && explained.answer?.status == 421, "\(real.writeOut) / \(explained.outcome)")
        #expect(real.body == (explained.answer?.message ?? "") + "\n", "client read \(real.body), explain said \(explained.outcome)")
        let byHost = explained.listeners.first { $0.names.contains("default/gw/b") }
        let byName = explained.listeners.first { $0.names.contains("default/gw/a") }
        #expect(byHost?.why.contains("421") == true && byName?.why.contains("server name") == true, "\(explained.listeners)")

        // The same request with a matching server name is served, by the route on listener b.
        let served = try Self.explain(["https://api.b.example.com/tls-test", "--admin", "127.0.0.1:\(setup.harness.adminPort)"])
        #expect(served.answer == nil && served.backends.map(\.name) == ["svc"], "\(served.outcome)")
    }

    /// A TLS listener carrying a TLSRoute: explain says the connection is passed through to the
    /// route's backend, not routed by HTTP; an HTTP listener on the same port still routes by Host.
    @Test func aTLSPassthroughConnectionIsExplainedAsBytes() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("explain-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Manifests.join(
            Manifests.gateway(listeners: ["{name: pass, protocol: TLS, port: 443, hostname: secure.example.com, tls: {mode: Passthrough}}"]),
            Manifests.service("secure", targetPort: 9443),
            """
            apiVersion: gateway.networking.k8s.io/v1alpha2
            kind: TLSRoute
            metadata: {name: secure}
            spec:
              parentRefs: [{name: gw, sectionName: pass}]
              hostnames: [secure.example.com]
              rules: [{backendRefs: [{name: secure, port: 80}]}]
            """).write(to: directory.appendingPathComponent("tls.yaml"), atomically: true, encoding: .utf8)
        let passed = try Self.explain(["https://secure.example.com/x", "--config", directory.path])
        #expect(passed.route == "TLSRoute default/secure rule 0" && passed.backends.map(\.endpoints) == [["127.0.0.1:9443"]], "\(passed.outcome)")
        #expect(passed.outcome.contains("bytes go to") && passed.answer == nil, "\(passed.outcome)")
        let other = try Self.explain(["https://other.example.com/x", "--config", directory.path])
        #expect(other.route == nil && other.answer == nil && other.outcome.contains("TLS handshake is refused"), "\(other.outcome)")
    }

    /// `--from-cluster`: the objects read from an API server (a fake one) and translated here; the
    /// replica serving them sends the request where explain says, with the headers it says.
    @Test func fromTheClusterExplainAgreesWithTheReplicaServingIt() async throws {
        let harness = GatewayHarness()
        let server = try await KubernetesTests.cluster(group: harness)
        _ = try await KubernetesTests.replica(server, backends: harness)
        defer { Task { await harness.stop(); await server.stop() } }
        let kubeconfig = try server.kubeconfig(in: harness.directory)
        let explained = try Self.explain(["http://shop.example.com/cart?x=1", "--client-address", "127.0.0.1", "--from-cluster", "--kubeconfig", kubeconfig])
        #expect(explained.route == "default/r rule 0 match 0" && explained.source.hasPrefix("the cluster"), "\(explained.outcome)")
        let backend = try #require(explained.backends.first)
        #expect(backend.endpoints == ["127.0.0.1:\(harness.backendPorts["svc"]!)"], "\(backend.endpoints)")

        let response = try await harness.send("/cart?x=1", host: "shop.example.com")
        let echo = try #require(try JSONSerialization.jsonObject(with: Data(response.text.utf8)) as? [String: Any])
        #expect(echo["name"] as? String == "svc" && response.status == 200)
        let seen = try #require(echo["headers"] as? [String: String])
        let said = Dictionary((backend.upstream?.headers ?? []).map { ($0.name.lowercased(), $0.value) }) { first, _ in first }
        #expect(Set(said.keys) == Set(seen.keys), "explain \(said.keys.sorted()) vs backend \(seen.keys.sorted())")
        for (key, value) in seen where !Self.perRequest.contains(key) { #expect(said[key] == value, "\(key): \(value) vs \(said[key] ?? "nothing")") }
    }

    /// An address-range policy is checked as the data plane checks it: the client it refuses gets the
    /// 403 explain gives, the one it admits goes on to the backend.
    @Test func anIPAllowListIsCheckedForTheGivenClient() async throws {
        let harness = GatewayHarness()
        try await harness.startBackend("office")
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(), Manifests.service("office", targetPort: harness.backendPorts["office"]!),
            Manifests.route("office", path: "/", service: "office"),
            """
            apiVersion: archway.dev/v1alpha1
            kind: IPAllowList
            metadata: {name: office-only}
            spec:
              targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: office}]
              allow: [10.0.0.0/8]
            """))
        try await harness.start()
        defer { Task { await harness.stop() } }
        let admin = ["--admin", "127.0.0.1:\(harness.adminPort)"]
        let refused = try Self.explain(["http://office.example.com/", "--client-address", "127.0.0.1"] + admin)
        let response = try await harness.send("/", host: "office.example.com")
        #expect(response.status == 403 && refused.answer?.status == 403, "\(response.status) / \(refused.outcome)")
        #expect(response.text == (refused.answer?.message ?? "") + "\n", "client read \(response.text), explain said \(refused.outcome)")
        #expect(refused.edgePolicies.first?.contains("refuses it: IPAllowList default/office-only: client 127.0.0.1 is not in an allowed range") == true,
                "\(refused.edgePolicies)")
        let admitted = try Self.explain(["http://office.example.com/", "--client-address", "10.1.2.3"] + admin)
        #expect(admitted.answer == nil && admitted.backends.map(\.name) == ["office"], "\(admitted.outcome)")
        #expect(admitted.edgePolicies == ["IPAllowList default/office-only: lets it through"], "\(admitted.edgePolicies)")
    }
}
