import ArchwayCore
import Foundation
import Testing
import Translator

/// A Kong Ingress Controller Ingress (`konghq.com/*`, KongPlugins) served by archway itself and,
/// converted by `archway migrate`, as Gateway API routes, at once: real curl requests get the same
/// answers from both — method and header conditions, strip-path, a host alias, the https redirect
/// code, the cors plugin — and an Ingress guarded by key-auth is refused rather than served open.
@Suite struct KongSideBySideTests {
    static let host = "api.example.com"

    static func manifests() -> String {
        """
        apiVersion: networking.k8s.io/v1
        kind: IngressClass
        metadata: {name: archway}
        spec: {controller: archway.dev/ingress-controller}
        ---
        apiVersion: configuration.konghq.com/v1
        kind: KongPlugin
        metadata: {name: cors, namespace: default}
        plugin: cors
        config: {origins: ["https://app.example.com"], methods: [GET, POST], max_age: 600}
        ---
        apiVersion: configuration.konghq.com/v1
        kind: KongPlugin
        metadata: {name: keys, namespace: default}
        plugin: key-auth
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: api
          namespace: default
          annotations:
            konghq.com/methods: "GET,OPTIONS"
            konghq.com/headers.x-version: "v2"
            konghq.com/strip-path: "true"
            konghq.com/host-aliases: "api2.example.com"
            konghq.com/protocols: "https"
            konghq.com/https-redirect-status-code: "308"
            konghq.com/plugins: "cors"
        spec:
          ingressClassName: archway
          tls: [{hosts: [\(host)], secretName: api-tls}]
          rules:
          - host: \(host)
            http:
              paths:
              - {path: /users, pathType: Prefix, backend: {service: {name: users, port: {number: 80}}}}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: guarded-api-keys, namespace: default}
        stringData: {ci-robot: k3y-0f-the-robot}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: guarded
          namespace: default
          annotations: {konghq.com/plugins: "keys"}
        spec:
          ingressClassName: archway
          rules:
          - host: guarded.example.com
            http:
              paths:
              - {path: /, pathType: Prefix, backend: {service: {name: users, port: {number: 80}}}}
        """
    }

    @Test func kongIngressServedDirectlyAndConvertedAnswersAlike() async throws {
        let harness = GatewayHarness()
        let services = try await harness.startBackendServices("users")
        let certificate = try TestCertificate(names: [Self.host], in: harness.directory)
        try harness.write("api.yaml", Manifests.join(Self.manifests(), certificate.secret("api-tls"), services))

        let migration = MigrationRun.migrate(inputs: [harness.directory.path], gatewayClass: "archway", gatewayNamespace: nil,
                                             json: false, verify: true)
        #expect(migration.exitCode == 0, "\(migration.stderr.joined(separator: "\n"))")
        #expect(migration.stderr.last?.hasSuffix(" 0 not") == true || migration.stderr.last?.hasSuffix(", 0 differ") == true,
                "\(migration.stderr.suffix(3))")
        try harness.write("gateway.yaml", migration.stdout)

        harness.ingress = IngressServing(httpPort: 8000, httpsPort: 8443)
        harness.extraPortMap = [443: 0, 8000: 0, 8443: 0]
        try await harness.start()
        defer { Task { await harness.stop() } }
        let gateway = (http: await harness.hostPort(80), https: await harness.hostPort(443))
        let ingress = (http: await harness.hostPort(8000), https: await harness.hostPort(8443))

        func request(_ scheme: String, _ port: Int, host: String = Self.host, _ path: String, _ arguments: [String] = []) async throws -> String {
            let output = try await ExternalTool.curlOffThePool(["-i", "--resolve", "\(host):\(port):127.0.0.1", "--cacert", certificate.path]
                                                               + arguments + ["\(scheme)://\(host):\(port)\(path)"])
            // Status, the headers that matter, the path the backend saw; the Location without the port (the sides differ in ports).
            let lines = output.body.components(separatedBy: "\r\n")
            let status = lines.first.map { String($0.split(separator: " ")[1]) } ?? "?"
            let kept = lines.filter { line in
                ["location:", "access-control-allow-origin:", "access-control-max-age:"].contains { line.lowercased().hasPrefix($0) }
            }.map { $0.lowercased().replacing(#/:[0-9]+\//#, with: "/") }.sorted()
            let echoed = output.body.range(of: "\r\n\r\n").map { String(output.body[$0.upperBound...]) } ?? ""
            let path = ((try? JSONSerialization.jsonObject(with: Data(echoed.utf8))) as? [String: Any])?["path"] as? String ?? "-"
            return ([status] + kept + ["path " + path]).joined(separator: " | ")
        }
        let version = ["-H", "X-Version: v2"]
        let cases: [(String, String, String, [String], String)] = [
            ("https", Self.host, "/users/7", version, "200 | path /7"),
            ("https", Self.host, "/users", version, "200 | path /"),
            ("https", Self.host, "/users/7", [], "404 | path -"),
            ("https", Self.host, "/users/7", version + ["-X", "POST"], "404 | path -"),
            ("http", Self.host, "/users/7", version, "308 | location: https://api.example.com/users/7 | path -"),
            ("http", "api2.example.com", "/users/7", version, "308 | location: https://api2.example.com/users/7 | path -"),
            ("https", Self.host, "/users/7", version + ["-H", "Origin: https://app.example.com"],
             "200 | access-control-allow-origin: https://app.example.com | path /7"),
        ]
        for (scheme, host, path, arguments, expected) in cases {
            let viaIngress = try await request(scheme, scheme == "https" ? ingress.https : ingress.http, host: host, path, arguments)
            let viaGateway = try await request(scheme, scheme == "https" ? gateway.https : gateway.http, host: host, path, arguments)
            #expect(viaIngress == expected, "\(scheme)://\(host)\(path) \(arguments) served as an Ingress")
            #expect(viaGateway == expected, "\(scheme)://\(host)\(path) \(arguments) through the converted routes")
        }
        // key-auth is not enforced by the side-by-side serving: refused (500), never served open.
        let guarded = try await request("http", ingress.http, host: "guarded.example.com", "/")
        #expect(guarded.hasPrefix("500"), "\(guarded)")
        // Converted, key-auth is the APIKeyAuth policy reading the key from the header Kong read it from.
        #expect(try await request("http", gateway.http, host: "guarded.example.com", "/").hasPrefix("401"))
        #expect(try await request("http", gateway.http, host: "guarded.example.com", "/x", ["-H", "apikey: k3y-0f-the-robot"]) == "200 | path /x")
    }
}
