import ArchwayCore
import Foundation
import Providers
import Testing
import Translator

/// Two GCE / GKE Ingresses served by archway itself (archway's controller takes over IngressClass
/// "gce") and, converted by `archway migrate`, as Gateway API routes, at once: real curl requests get
/// the same answers from both — GCE's `/*` and exact paths, the FrontendConfig's redirect code for
/// every cleartext request, and no cleartext at all under `allow-http: "false"`.
@Suite struct GCESideBySideTests {
    static let shop = "shop.example.com"
    static let admin = "admin.example.com"

    static func manifests() -> String {
        """
        apiVersion: networking.k8s.io/v1
        kind: IngressClass
        metadata: {name: gce}
        spec: {controller: archway.dev/ingress-controller}
        ---
        apiVersion: networking.gke.io/v1beta1
        kind: FrontendConfig
        metadata: {name: shop-frontend, namespace: default}
        spec: {redirectToHttps: {enabled: true, responseCodeName: FOUND}}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: shop
          namespace: default
          annotations:
            kubernetes.io/ingress.class: gce
            networking.gke.io/v1beta1.FrontendConfig: shop-frontend
        spec:
          tls: [{hosts: [\(shop)], secretName: shop-tls}]
          rules:
          - host: \(shop)
            http:
              paths:
              - {path: "/*", pathType: ImplementationSpecific, backend: {service: {name: home, port: {number: 80}}}}
              - {path: "/api/*", pathType: ImplementationSpecific, backend: {service: {name: api, port: {number: 80}}}}
              - {path: /about, pathType: ImplementationSpecific, backend: {service: {name: about, port: {number: 80}}}}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: admin
          namespace: default
          annotations:
            kubernetes.io/ingress.class: gce
            kubernetes.io/ingress.allow-http: "false"
            ingress.gcp.kubernetes.io/pre-shared-cert: admin-cert
        spec:
          rules:
          - host: \(admin)
            http:
              paths:
              - {path: "/*", pathType: ImplementationSpecific, backend: {service: {name: admin, port: {number: 80}}}}
        """
    }

    /// What a client sees: status, Location with the port taken out (the two sides listen on
    /// different ports), and which backend got which path.
    struct Answer: Equatable {
        var status = ""
        var location = ""
        var backend = ""
        var path = ""
    }

    static func answer(_ output: String) -> Answer {
        var answer = Answer()
        let (head, body) = output.range(of: "\r\n\r\n").map { (String(output[..<$0.lowerBound]), String(output[$0.upperBound...])) } ?? (output, "")
        for line in head.split(separator: "\r\n") {
            if line.hasPrefix("HTTP/") { answer.status = String(line.split(separator: " ")[1]) }
            if line.lowercased().hasPrefix("location:") {
                answer.location = String(line.dropFirst(9)).trimmingCharacters(in: .whitespaces).replacing(#/:[0-9]+\//#, with: "/")
            }
        }
        let echoed = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
        answer.backend = echoed["name"] as? String ?? ""
        answer.path = echoed["path"] as? String ?? ""
        return answer
    }

    @Test func gceIngressesServedDirectlyAndConvertedAnswerAlike() async throws {
        let harness = GatewayHarness()
        let services = try await harness.startBackendServices("home", "api", "about", "admin")
        let certificate = try TestCertificate(names: [Self.shop, Self.admin], in: harness.directory)
        try harness.write("gce.yaml", Manifests.join(Self.manifests(), certificate.secret("shop-tls"), certificate.secret("admin-cert"), services))

        let migration = MigrationRun.migrate(inputs: [harness.directory.path], gatewayClass: "archway", gatewayNamespace: nil,
                                             json: false, verify: true)
        #expect(migration.exitCode == 0, "\(migration.stderr.joined(separator: "\n"))")
        // The /api difference below is the one accepted; nothing else differs.
        #expect(migration.stderr.contains { $0.hasPrefix("verify: ") && $0.hasSuffix(" accepted, 0 not") }, "\(migration.stderr.suffix(3))")
        try harness.write("gateway.yaml", migration.stdout)

        harness.ingress = IngressServing(httpPort: 8000, httpsPort: 8443)
        harness.extraPortMap = [443: 0, 8000: 0, 8443: 0]
        try await harness.start()
        defer { Task { await harness.stop() } }
        let gateway = (http: await harness.hostPort(80), https: await harness.hostPort(443))
        let ingress = (http: await harness.hostPort(8000), https: await harness.hostPort(8443))

        func request(_ scheme: String, _ host: String, _ port: Int, _ path: String) async throws -> Answer {
            let output = try await ExternalTool.curlOffThePool(["-i", "--resolve", "\(host):\(port):127.0.0.1", "--cacert", certificate.path,
                                                               "\(scheme)://\(host):\(port)\(path)"])
            return Self.answer(output.body)
        }
        let cases: [(String, String, String, Answer)] = [
            ("https", Self.shop, "/api/orders?page=2", Answer(status: "200", backend: "api", path: "/api/orders")),
            ("https", Self.shop, "/api/", Answer(status: "200", backend: "api", path: "/api/")),
            // A path without * is exact: /about/team falls to /*.
            ("https", Self.shop, "/about", Answer(status: "200", backend: "about", path: "/about")),
            ("https", Self.shop, "/about/team", Answer(status: "200", backend: "home", path: "/about/team")),
            ("https", Self.shop, "/", Answer(status: "200", backend: "home", path: "/")),
            // The FrontendConfig's FOUND: every cleartext request goes to https with 302.
            ("http", Self.shop, "/api/orders", Answer(status: "302", location: "https://\(Self.shop)/api/orders")),
            ("http", Self.shop, "/", Answer(status: "302", location: "https://\(Self.shop)/")),
            // allow-http "false": nothing in cleartext; HTTPS with the pre-shared certificate's Secret.
            ("http", Self.admin, "/users", Answer(status: "404")),
            ("https", Self.admin, "/users", Answer(status: "200", backend: "admin", path: "/users")),
        ]
        for (scheme, host, path, expected) in cases {
            let viaGateway = try await request(scheme, host, scheme == "https" ? gateway.https : gateway.http, path)
            let viaIngress = try await request(scheme, host, scheme == "https" ? ingress.https : ingress.http, path)
            #expect(viaIngress == expected, "\(scheme) \(host)\(path) served as a GCE Ingress")
            #expect(viaGateway == expected, "\(scheme) \(host)\(path) through the converted routes")
        }
        // The one difference the report names: GCE's /api/* leaves /api itself to /*, PathPrefix /api takes it.
        #expect(try await request("https", Self.shop, ingress.https, "/api").backend == "home")
        #expect(try await request("https", Self.shop, gateway.https, "/api").backend == "api")
    }

    /// `--from-cluster` on GKE reads the FrontendConfigs and BackendConfigs too: the conversion from the
    /// API server is the one from the same files, redirect code and backend timeout included.
    @Test func gceFromTheClusterMatchesTheFiles() async throws {
        let server = FakeAPIServer(collections: FakeAPIServer.defaultCollections + [
            .init(group: "networking.gke.io", versions: ["v1beta1"], plural: "frontendconfigs", kind: "FrontendConfig", namespaced: true, builtIn: false),
            .init(group: "cloud.google.com", versions: ["v1"], plural: "backendconfigs", kind: "BackendConfig", namespaced: true, builtIn: false),
        ])
        try await server.start()
        defer { Task { await server.stop() } }
        let yaml = Self.manifests() + """

            ---
            apiVersion: v1
            kind: Service
            metadata: {name: home, namespace: default, annotations: {cloud.google.com/backend-config: '{"default": "home-config"}'}}
            spec: {ports: [{port: 80}]}
            ---
            apiVersion: cloud.google.com/v1
            kind: BackendConfig
            metadata: {name: home-config, namespace: default}
            spec: {timeoutSec: 30}
            """
        try server.apply(yaml)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gce-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try yaml.write(to: directory.appendingPathComponent("gce.yaml"), atomically: true, encoding: .utf8)

        let load = try await MigrationRun.readCluster(KubeConnection(server: server.url))
        #expect(load.errors.isEmpty, "\(load.errors)")
        let fromCluster = MigrationRun.migrate(load: load, from: "the cluster", gatewayClass: "archway", gatewayNamespace: nil, json: false, verify: false)
        let fromFiles = MigrationRun.migrate(inputs: [directory.path], gatewayClass: "archway", gatewayNamespace: nil, json: false, verify: false)
        #expect(fromCluster.stdout == fromFiles.stdout)
        #expect(fromCluster.stdout.contains("statusCode: 302") && fromCluster.stdout.contains("backendRequest: 30s"))
    }
}
