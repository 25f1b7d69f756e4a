import ArchwayCore
import Foundation
import Providers
import Testing
import Translator

/// The migration playbook end to end: the seed's nexus Ingress converted by `archway migrate`, the
/// Ingress and its conversion served side by side by one archway, the same answers from both, then
/// the Ingress disabled (`ingressClassName: disabled`) and no longer served.
@Suite struct MigrationTests {
    static let host = "nexus.devops-db.internal"

    static func nexusIngress(className: String) -> String {
        """
        apiVersion: networking.k8s.io/v1
        kind: IngressClass
        metadata: {name: archway}
        spec: {controller: archway.dev/ingress-controller}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: nexus-ingress, namespace: devops}
        spec:
          ingressClassName: \(className)
          tls: [{hosts: [\(host)], secretName: nexus-tls}]
          rules:
          - host: \(host)
            http:
              paths:
              - {path: /, pathType: Prefix, backend: {service: {name: nexus, port: {number: 8081}}}}
        """
    }

    @Test func nexusServedSideBySideThenDisabled() async throws {
        let harness = GatewayHarness()
        try await harness.startBackend("nexus")
        let certificate = try TestCertificate(names: [Self.host], in: harness.directory)
        let backend = harness.backendPorts["nexus"]!
        try harness.write("nexus.yaml", Manifests.join(Self.nexusIngress(className: "archway"), certificate.secret("nexus-tls", namespace: "devops"), """
            apiVersion: v1
            kind: Service
            metadata: {name: nexus, namespace: devops}
            spec: {ports: [{name: http, port: 8081, targetPort: \(backend)}]}
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: nexus-1, namespace: devops, labels: {kubernetes.io/service-name: nexus}}
            addressType: IPv4
            ports: [{name: http, port: \(backend)}]
            endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
            """))

        // Step 2 of the playbook: convert, and prove the conversion before serving it.
        let migration = MigrationRun.migrate(inputs: [harness.directory.path], gatewayClass: "archway", gatewayNamespace: nil,
                                             json: false, verify: true)
        #expect(migration.exitCode == 0, "\(migration.stderr.joined(separator: "\n"))")
        #expect(migration.stderr.last?.hasSuffix(", 0 differ") == true)
        // Served as `migrate` wrote it: the output includes the GatewayClass its Gateways need.
        #expect(migration.stdout.contains("kind: GatewayClass") && migration.stderr.contains { $0.hasPrefix("note: GatewayClass archway is emitted") })
        try harness.write("gateway.yaml", migration.stdout)

        // Step 3: both run at once; the Ingress on its own ports.
        harness.ingress = IngressServing(httpPort: 8000, httpsPort: 8443)
        harness.extraPortMap = [443: 0, 8000: 0, 8443: 0]
        try await harness.start()
        defer { Task { await harness.stop() } }
        let gatewayHTTPS = await harness.hostPort(443), ingressHTTPS = await harness.hostPort(8443)
        let gatewayHTTP = await harness.hostPort(80), ingressHTTP = await harness.hostPort(8000)

        func https(_ port: Int, _ path: String) throws -> (status: Int32, body: String, writeOut: String, stderr: String) {
            try ExternalTool.curl(["--resolve", "\(Self.host):\(port):127.0.0.1", "--cacert", certificate.path,
                                   "-w", "\n@@\n%{http_code}", "https://\(Self.host):\(port)\(path)"])
        }
        func http(_ port: Int, _ path: String) throws -> (status: Int32, body: String, writeOut: String, stderr: String) {
            try ExternalTool.curl(["-H", "Host: \(Self.host)", "-w", "\n@@\n%{http_code} %{redirect_url}", "http://127.0.0.1:\(port)\(path)"])
        }
        for path in ["/", "/service/rest/v1/status", "/repository/maven-public/org/x.jar?download=1"] {
            let viaGateway = try https(gatewayHTTPS, path), viaIngress = try https(ingressHTTPS, path)
            #expect(viaGateway.writeOut == "200" && viaIngress.writeOut == "200", "\(path): \(viaGateway.stderr) \(viaIngress.stderr)")
            func seen(_ body: String) -> [String] {
                let echoed = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
                return ["name", "method", "path", "query"].map { "\(echoed[$0] ?? "-")" }
            }
            #expect(seen(viaGateway.body).first == "nexus")
            #expect(seen(viaGateway.body) == seen(viaIngress.body), "\(path): the backend saw the same request through both")
            // Cleartext is redirected to HTTPS by both (ingress-nginx's ssl-redirect default, 308).
            let redirectGateway = try http(gatewayHTTP, path), redirectIngress = try http(ingressHTTP, path)
            #expect(redirectGateway.writeOut == "308 https://\(Self.host)\(path)")
            #expect(redirectIngress.writeOut == redirectGateway.writeOut)
        }
        let serving = IngressServing(httpPort: 8000, httpsPort: 8443)
        let status = StatusReport.compute(paths: [harness.directory.path], controllerName: Translator.defaultControllerName, ingress: serving).report
        #expect(try status.json().contains("\"served\" : true"))

        // Step 5: disable the Ingress; the Gateway keeps serving, the Ingress ports no longer route it.
        let before = await harness.runtime.generation
        try harness.write("nexus.yaml", try String(contentsOf: harness.directory.appendingPathComponent("nexus.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "ingressClassName: archway", with: "ingressClassName: disabled"))
        try await harness.waitForGeneration(atLeast: before + 1)
        #expect(try https(gatewayHTTPS, "/").writeOut == "200")
        // No Ingress left to serve: its ports are closed (curl: connection refused).
        #expect(try https(ingressHTTPS, "/").status == 7)
        #expect(try http(ingressHTTP, "/").status == 7)
        let disabled = StatusReport.compute(paths: [harness.directory.path], controllerName: Translator.defaultControllerName, ingress: serving).report
        #expect(disabled.table().contains("class \"disabled\" is not archway's"))
    }

    /// `--from-cluster` reads the same objects through the API server as `--input` reads from files:
    /// the inventory and the conversion must come out identical.
    @Test func inventoryAndMigrationFromTheClusterMatchTheFiles() async throws {
        let examples = DeployManifestTests.root.appendingPathComponent("examples/migration")
        let server = FakeAPIServer()
        try await server.start()
        defer { Task { await server.stop() } }
        for file in ["ingresses.yaml", "services.yaml"] {
            try server.apply(String(contentsOf: examples.appendingPathComponent(file), encoding: .utf8))
        }
        let load = try await MigrationRun.readCluster(KubeConnection(server: server.url))
        #expect(load.errors.isEmpty, "\(load.errors)")
        let fromFiles = MigrationRun.inventory(inputs: [examples.path], json: true)
        let fromCluster = MigrationRun.inventory(load: load, json: true)
        #expect(fromCluster.stdout == fromFiles.stdout)
        #expect(fromCluster.stdout.contains("\"ingresses\""))
        let converted = MigrationRun.migrate(load: load, from: "the cluster", gatewayClass: "archway", gatewayNamespace: nil, json: false, verify: true)
        let expected = MigrationRun.migrate(inputs: [examples.path], gatewayClass: "archway", gatewayNamespace: nil, json: false, verify: true)
        #expect(converted.stdout == expected.stdout)
        #expect(converted.exitCode == 0, "\(converted.stderr.suffix(3))")
        #expect(server.calls.allSatisfy { ["list"].contains($0.verb) }, "reading the cluster once only lists")
    }
}
