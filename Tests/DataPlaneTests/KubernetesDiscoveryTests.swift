import Foundation
import GatewayAPI
import Providers
import Testing

/// Kubernetes mode reads each Gateway API kind at the version the API server serves, found by
/// discovery: with the v1.6.1 CRDs, TCPRoute, TLSRoute and UDPRoute only at v1; with older CRDs,
/// at the older version they serve.
@Suite(.timeLimit(.minutes(2)))
struct KubernetesDiscoveryTests {
    /// A Gateway with a TCP, a UDP and a TLS-terminating listener, one route of each kind at
    /// `routeVersion`, and their backends: TCP and UDP echoes, and the HTTP echo `plain` behind TLS.
    struct StreamCluster {
        let harness = GatewayHarness()
        let server: FakeAPIServer
        var certificate: TestCertificate

        init(collections: [FakeAPIServer.Collection] = FakeAPIServer.defaultCollections, routeVersion: String) async throws {
            server = FakeAPIServer(collections: collections)
            try await server.start()
            harness.extraPortMap = [5432: 0, 5353: 0, 443: 0]
            let (tcp, tcpPort) = try await StreamRouteTests.tcpEcho("alpha", group: harness.group)
            let (udp, udpPort) = try await StreamRouteTests.udpEcho("dns", group: harness.group)
            _ = (tcp, udp)  // closed with the harness's event loop group
            try await harness.startBackend("plain")
            certificate = try TestCertificate(names: ["edge.example.com"], in: harness.directory)
            let version = "gateway.networking.k8s.io/\(routeVersion)"
            try server.apply(Manifests.join(
                Manifests.gateway(listeners: [
                    "{name: db, protocol: TCP, port: 5432}",
                    "{name: dns, protocol: UDP, port: 5353}",
                    "{name: edge, protocol: TLS, port: 443, hostname: edge.example.com, tls: {mode: Terminate, certificateRefs: [{name: edge}]}}",
                ]),
                certificate.secret("edge"),
                Manifests.service("alpha", targetPort: tcpPort), Manifests.service("dns", targetPort: udpPort, protocol: "UDP"),
                Manifests.service("plain", targetPort: harness.backendPorts["plain"]!),
                """
                apiVersion: \(version)
                kind: TCPRoute
                metadata: {name: db}
                spec:
                  parentRefs: [{name: gw, sectionName: db}]
                  rules: [{backendRefs: [{name: alpha, port: 80}]}]
                ---
                apiVersion: \(version)
                kind: UDPRoute
                metadata: {name: dns}
                spec:
                  parentRefs: [{name: gw, sectionName: dns}]
                  rules: [{backendRefs: [{name: dns, port: 80}]}]
                ---
                apiVersion: \(version)
                kind: TLSRoute
                metadata: {name: edge}
                spec:
                  parentRefs: [{name: gw, sectionName: edge}]
                  hostnames: [edge.example.com]
                  rules: [{backendRefs: [{name: plain, port: 80}]}]
                """))
            _ = try await KubernetesTests.replica(server, backends: harness)
        }

        func stop() async {
            await harness.stop()
            await server.stop()
        }

        /// Bytes through each of the three listeners, to the backend its route names.
        func expectTrafficThroughEachRoute() async throws {
            let tcp = try BlockingSocket(port: await harness.hostPort(5432))
            #expect(tcp.receive(through: "\n") == "alpha\n", "the TCPRoute's backend greets")
            tcp.send("through the TCPRoute")
            #expect(tcp.receive(exactly: 20).map { String(decoding: $0, as: UTF8.self) } == "through the TCPRoute")

            let udp = try BlockingSocket(port: await harness.hostPort(5353), udp: true, timeout: 3)
            udp.send("through the UDPRoute")
            #expect(udp.receiveOnce().map { String(decoding: $0, as: UTF8.self) } == "dns:through the UDPRoute")

            let port = await harness.hostPort(443)
            let tls = try await ExternalTool.curlOffThePool([
                "--cacert", certificate.path, "--resolve", "edge.example.com:\(port):127.0.0.1",
                "-w", "\n@@\n%{http_code}", "https://edge.example.com:\(port)/through-the-tlsroute"])
            #expect(tls.writeOut == "200", "\(tls.stderr)")
            #expect(tls.body.contains("\"name\":\"plain\""), "the TLSRoute's backend answers: \(tls.body)")
        }

        /// Each route's status, written by archway, accepts it on its listener; every write went to `version`.
        func expectStatusWritten(at version: String) async throws {
            let routes = [("TCPRoute", "tcproutes", "db"), ("UDPRoute", "udproutes", "dns"), ("TLSRoute", "tlsroutes", "edge")]
            try await KubernetesTests.waitUntil("the three routes' statuses are written") {
                routes.allSatisfy { server.statusWriteCount($0.0, "default", $0.2) == 1 }
            }
            for (kind, plural, name) in routes {
                let route = server.object(kind: kind, namespace: "default", name: name)
                let accepted = KubernetesTests.conditions(route, at: ["status", "parents", "0"])["Accepted"]
                #expect(accepted?["status"] as? String == "True", "\(kind) \(name) is accepted: \(accepted ?? [:])")
                let patches = server.calls.filter { $0.resource == plural && $0.verb == "patch" }
                #expect(!patches.isEmpty && patches.allSatisfy { $0.version == version && $0.subresource == "status" },
                        "\(kind) status patched at \(version): \(patches)")
            }
        }
    }

    @Test func streamRoutesAtV1AreServedAndTheirStatusWrittenAtV1() async throws {
        let cluster = try await StreamCluster(routeVersion: "v1")
        defer { Task { await cluster.stop() } }
        try await cluster.expectTrafficThroughEachRoute()
        try await cluster.expectStatusWritten(at: "v1")
        for plural in ["tcproutes", "udproutes", "tlsroutes"] {
            #expect(cluster.server.versionsAsked(for: plural) == ["v1"], "\(plural) read and written at v1 only")
        }
    }

    /// The v1.6.1 CRDs no longer serve v1alpha2, and archway does not ask for it; the fake answers as
    /// the real server does, so asking would have been caught.
    @Test func theUnservedV1alpha2IsNotWhatArchwayAsksFor() async throws {
        let server = FakeAPIServer()
        try await server.start()
        defer { Task { await server.stop() } }
        let client = try KubeClient(connection: KubeConnection(server: server.url))
        defer { Task { await client.shutdown() } }
        let unserved = try await client.send(.GET, "/apis/gateway.networking.k8s.io/v1alpha2/tcproutes")
        #expect(unserved.status == 404, "the fake serves what the v1.6.1 CRDs serve: no v1alpha2")
        #expect(throws: (any Error).self, "nor can an object be created at v1alpha2") {
            try server.apply("apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\nmetadata: {name: old}\nspec: {rules: []}")
        }
        let group = try #require(try await client.send(.GET, "/apis/gateway.networking.k8s.io").object)
        #expect((group["preferredVersion"] as? [String: Any])?["version"] as? String == "v1")
        #expect((group["versions"] as? [[String: Any]])?.compactMap { $0["version"] as? String } == ["v1", "v1beta1"])

        let probes = server.requestedPaths.count
        let mode = try KubernetesTests.mode(server)
        _ = await mode.provider.initialLoad()
        await mode.stop()
        let asked = server.requestedPaths.dropFirst(probes)
        #expect(asked.contains("/apis/gateway.networking.k8s.io"), "the served versions come from discovery")
        #expect(!asked.contains { $0.contains("/v1alpha2/") }, "archway asked for v1alpha2: \(asked.filter { $0.contains("v1alpha2") })")
        for plural in ["tcproutes", "tlsroutes", "udproutes", "referencegrants", "gateways"] {
            #expect(server.versionsAsked(for: plural) == ["v1"], "\(plural) read at v1")
        }
        // A kind no version serves is skipped, not asked for: ServiceLevelObjective's CRD is not installed.
        #expect(!asked.contains { $0.hasSuffix("/servicelevelobjectives") })
    }

    static let streamRouteKinds = ["TCPRoute", "TLSRoute", "UDPRoute"]

    /// Older CRDs: TCPRoute, TLSRoute and UDPRoute at v1alpha2 only, as before Gateway API v1.5.
    static let olderCollections = FakeAPIServer.defaultCollections.map { collection in
        var collection = collection
        if streamRouteKinds.contains(collection.kind) { collection.versions = ["v1alpha2"] }
        return collection
    }

    /// With older CRDs archway falls back to the version they serve.
    @Test func olderCRDsAreReadAtTheVersionTheyServe() async throws {
        let cluster = try await StreamCluster(collections: Self.olderCollections, routeVersion: "v1alpha2")
        defer { Task { await cluster.stop() } }
        try await cluster.expectTrafficThroughEachRoute()
        try await cluster.expectStatusWritten(at: "v1alpha2")
        #expect(!cluster.server.requestedPaths.contains { $0.contains("/v1/tcproutes") }, "v1 is not served here, so not asked for")
    }

    /// The CRDs upgraded to v1.6.1 while archway runs: the watches at v1alpha2 are cut and asking for
    /// it again is answered 404, so archway discovers v1 and reads the routes there; a change made at
    /// v1 is served, and its status written at v1.
    @Test func aCRDUpgradeThatStopsServingTheWatchedVersionIsFollowed() async throws {
        let cluster = try await StreamCluster(collections: Self.olderCollections, routeVersion: "v1alpha2")
        defer { Task { await cluster.stop() } }
        let server = cluster.server
        let port = await cluster.harness.hostPort(5432)
        func greeting() throws -> String? { try BlockingSocket(port: port).receive(through: "\n") }
        #expect(try greeting() == "alpha\n")
        try await KubernetesTests.waitUntil("the TCPRoute's status is written") { server.statusWriteCount("TCPRoute", "default", "db") == 1 }

        let (beta, betaPort) = try await StreamRouteTests.tcpEcho("beta", group: cluster.harness.group)
        defer { beta.close(promise: nil) }
        try server.apply(Manifests.service("beta", targetPort: betaPort))
        for kind in Self.streamRouteKinds { server.serve(kind, at: ["v1"]) }
        try server.apply("""
            apiVersion: gateway.networking.k8s.io/v1
            kind: TCPRoute
            metadata: {name: db}
            spec:
              parentRefs: [{name: gw, sectionName: db}]
              rules: [{backendRefs: [{name: beta, port: 80}]}]
            """)
        try await KubernetesTests.waitUntil("the TCPRoute changed at v1 is served") { try greeting() == "beta\n" }
        try await KubernetesTests.waitUntil("the changed TCPRoute's status is written") { server.statusWriteCount("TCPRoute", "default", "db") == 2 }
        let lastPatch = server.calls.last { $0.resource == "tcproutes" && $0.verb == "patch" }
        #expect(lastPatch?.version == "v1", "status written at the version now served: \(String(describing: lastPatch))")
        let accepted = KubernetesTests.conditions(server.object(kind: "TCPRoute", namespace: "default", name: "db"), at: ["status", "parents", "0"])["Accepted"]
        #expect(accepted?["observedGeneration"] as? Int == 2)
        #expect(!server.requestedPaths.drop { !$0.contains("/v1/tcproutes") }.contains { $0.contains("/v1alpha2/tcproutes") },
                "once at v1, v1alpha2 is not asked for again")
    }
}
