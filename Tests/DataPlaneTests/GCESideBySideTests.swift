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
        \(SideBySide.ingressClass("gce"))
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

    @Test func gceIngressesServedDirectlyAndConvertedAnswerAlike() async throws {
        let harness = GatewayHarness()
        defer { Task { await harness.stop() } }
        let services = try await harness.startBackendServices("home", "api", "about", "admin")
        let both = try await SideBySide(harness, hosts: [Self.shop, Self.admin], secrets: ["shop-tls", "admin-cert"],
                                        manifests: Manifests.join(Self.manifests(), services))
        // The /api difference below is the one accepted; nothing else differs.
        #expect(both.verifySummary.hasSuffix(" accepted, 0 not"), "\(both.verifySummary)")

        let cases: [(String, String, String, SideBySide.Response)] = [
            ("https", Self.shop, "/api/orders?page=2", .init(status: "200", backend: "api", path: "/api/orders")),
            ("https", Self.shop, "/api/", .init(status: "200", backend: "api", path: "/api/")),
            // A path without * is exact: /about/team falls to /*.
            ("https", Self.shop, "/about", .init(status: "200", backend: "about", path: "/about")),
            ("https", Self.shop, "/about/team", .init(status: "200", backend: "home", path: "/about/team")),
            ("https", Self.shop, "/", .init(status: "200", backend: "home", path: "/")),
            // The FrontendConfig's FOUND: every cleartext request goes to https with 302.
            ("http", Self.shop, "/api/orders", .init(status: "302", location: "https://\(Self.shop)/api/orders")),
            ("http", Self.shop, "/", .init(status: "302", location: "https://\(Self.shop)/")),
            // allow-http "false": nothing in cleartext; HTTPS with the pre-shared certificate's Secret.
            ("http", Self.admin, "/users", .init(status: "404")),
            ("https", Self.admin, "/users", .init(status: "200", backend: "admin", path: "/users")),
        ]
        for (scheme, host, path, expected) in cases {
            try await both.expectBoth(scheme, host: host, path, [], expected)
        }
        // The one difference the report names: GCE's /api/* leaves /api itself to /*, PathPrefix /api takes it.
        #expect(try await both.request(.ingress, "https", host: Self.shop, "/api").backend == "home")
        #expect(try await both.request(.gateway, "https", host: Self.shop, "/api").backend == "api")
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
