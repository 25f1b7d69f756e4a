import ArchwayCore
import Foundation
import Testing
import Translator

/// A Traefik Ingress with Middlewares served by archway itself and, converted by `archway migrate`,
/// as Gateway API routes, at once: real curl requests get the same answers from both — the
/// redirectScheme redirect, stripPrefix with X-Forwarded-Prefix, header edits and security headers,
/// Traefik's string-prefix path where Gateway API's differs only as the verifier says — and an
/// Ingress behind basicAuth is refused side by side rather than served open.
@Suite struct TraefikSideBySideTests {
    static let host = "web.example.com"

    static func manifests() -> String {
        """
        apiVersion: networking.k8s.io/v1
        kind: IngressClass
        metadata: {name: archway}
        spec: {controller: archway.dev/ingress-controller}
        ---
        apiVersion: traefik.io/v1alpha1
        kind: Middleware
        metadata: {name: strip-api, namespace: default}
        spec: {stripPrefix: {prefixes: [/api]}}
        ---
        apiVersion: traefik.io/v1alpha1
        kind: Middleware
        metadata: {name: secure-headers, namespace: default}
        spec: {headers: {customRequestHeaders: {X-Team: web}, customResponseHeaders: {X-Echo-Name: ""}, frameDeny: true}}
        ---
        apiVersion: traefik.io/v1alpha1
        kind: Middleware
        metadata: {name: to-https, namespace: default}
        spec: {redirectScheme: {scheme: https, permanent: true}}
        ---
        apiVersion: traefik.io/v1alpha1
        kind: Middleware
        metadata: {name: users-only, namespace: default}
        spec: {basicAuth: {secret: web-users}}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: web
          namespace: default
          annotations:
            traefik.ingress.kubernetes.io/router.middlewares: "default-to-https@kubernetescrd,default-strip-api@kubernetescrd,default-secure-headers@kubernetescrd"
        spec:
          ingressClassName: archway
          tls: [{hosts: [\(host)], secretName: web-tls}]
          rules:
          - host: \(host)
            http:
              paths:
              - {path: /api, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: admin
          namespace: default
          annotations: {traefik.ingress.kubernetes.io/router.middlewares: "default-users-only@kubernetescrd"}
        spec:
          ingressClassName: archway
          rules:
          - host: admin.example.com
            http:
              paths:
              - {path: /, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}
        """
    }

    @Test func traefikIngressServedDirectlyAndConvertedAnswersAlike() async throws {
        let harness = GatewayHarness()
        let services = try await harness.startBackendServices("api")
        let certificate = try TestCertificate(names: [Self.host], in: harness.directory)
        let users = try ExternalTool.run("htpasswd", ["-nbB", "alice", "s3cret"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let secret = "---\napiVersion: v1\nkind: Secret\nmetadata: {name: web-users, namespace: default}\nstringData: {users: \"\(users)\"}\n"
        try harness.write("web.yaml", Manifests.join(Self.manifests(), certificate.secret("web-tls"), services) + "\n" + secret)

        let migration = MigrationRun.migrate(inputs: [harness.directory.path], gatewayClass: "archway", gatewayNamespace: nil,
                                             json: false, verify: true)
        #expect(migration.exitCode == 0, "\(migration.stderr.joined(separator: "\n"))")
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
            let lines = output.body.components(separatedBy: "\r\n")
            let status = lines.first.map { String($0.split(separator: " ")[1]) } ?? "?"
            let kept = lines.filter { line in ["location:", "x-frame-options:", "x-echo-name:"].contains { line.lowercased().hasPrefix($0) } }
                .map { $0.lowercased().replacing(#/:[0-9]+\//#, with: "/") }.sorted()
            let body = output.body.range(of: "\r\n\r\n").map { String(output.body[$0.upperBound...]) } ?? ""
            let echoed = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
            let headers = echoed["headers"] as? [String: String] ?? [:]
            let seen = echoed["path"].map { "path \($0) team \(headers["x-team"] ?? "-") prefix \(headers["x-forwarded-prefix"] ?? "-")" } ?? "-"
            return ([status] + kept + [seen]).joined(separator: " | ")
        }
        let cases: [(String, String, String)] = [
            ("https", "/api/users?x=1", "200 | x-frame-options: deny | path /users team web prefix /api"),
            ("https", "/api", "200 | x-frame-options: deny | path / team web prefix /api"),
            ("http", "/api/users", "301 | location: https://web.example.com/api/users | -"),
            ("https", "/other", "404 | -"),
        ]
        for (scheme, path, expected) in cases {
            let viaIngress = try await request(scheme, scheme == "https" ? ingress.https : ingress.http, path)
            let viaGateway = try await request(scheme, scheme == "https" ? gateway.https : gateway.http, path)
            #expect(viaIngress == expected, "\(scheme) \(path) served as an Ingress")
            #expect(viaGateway == expected, "\(scheme) \(path) through the converted routes")
        }
        // Traefik's PathPrefix(`/api`) also takes /apiv2; the converted PathPrefix does not (the verifier's accepted difference).
        #expect(try await request("https", ingress.https, "/apiv2").hasPrefix("200"))
        #expect(try await request("https", gateway.https, "/apiv2").hasPrefix("404"))
        // basicAuth: refused side by side, enforced once converted.
        #expect(try await request("http", ingress.http, host: "admin.example.com", "/").hasPrefix("500"))
        #expect(try await request("http", gateway.http, host: "admin.example.com", "/").hasPrefix("401"))
        #expect(try await request("http", gateway.http, host: "admin.example.com", "/", ["-u", "alice:s3cret"]).hasPrefix("200"))
    }
}
