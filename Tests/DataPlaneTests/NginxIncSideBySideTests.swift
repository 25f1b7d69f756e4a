import ArchwayCore
import Foundation
import Testing
import Translator

/// An F5 NGINX Ingress Controller Ingress (`nginx.org/*`) served by archway itself and, converted
/// by `archway migrate`, as Gateway API routes, at once: real curl requests get the same answers
/// from both — redirects with NGINX's codes, rewritten paths and set headers at the backend, HSTS
/// and hidden headers in the responses.
@Suite struct NginxIncSideBySideTests {
    static let host = "cafe.example.com"

    static func ingress() -> String {
        """
        apiVersion: networking.k8s.io/v1
        kind: IngressClass
        metadata: {name: archway}
        spec: {controller: archway.dev/ingress-controller}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: cafe
          namespace: default
          annotations:
            nginx.org/rewrites: "serviceName=tea rewrite=/"
            nginx.org/proxy-set-headers: "X-Forwarded-ABC: abc"
            nginx.org/proxy-hide-headers: "X-Echo-Name"
            nginx.org/hsts: "true"
            nginx.org/redirect-to-https: "true"
        spec:
          ingressClassName: archway
          tls: [{hosts: [\(host)], secretName: cafe-tls}]
          rules:
          - host: \(host)
            http:
              paths:
              - {path: /tea/, pathType: Prefix, backend: {service: {name: tea, port: {number: 80}}}}
              - {path: /coffee, pathType: Prefix, backend: {service: {name: coffee, port: {number: 80}}}}
        """
    }

    /// What a client sees: status, Location with the port taken out (the two sides listen on
    /// different ports), the response headers that matter, and what the backend received.
    struct Answer: Equatable {
        var status = ""
        var location = ""
        var hsts = ""
        var echoNameHeader = false
        var backend = ""
        var path = ""
        var setHeader = ""
    }

    static func answer(_ output: String) -> Answer {
        var answer = Answer()
        let (head, body) = output.range(of: "\r\n\r\n").map { (String(output[..<$0.lowerBound]), String(output[$0.upperBound...])) } ?? (output, "")
        for line in head.split(separator: "\r\n") {
            if line.hasPrefix("HTTP/") { answer.status = String(line.split(separator: " ")[1]) }
            let lower = line.lowercased()
            if lower.hasPrefix("location:") {
                answer.location = String(line.dropFirst(9)).trimmingCharacters(in: .whitespaces).replacing(#/:[0-9]+\//#, with: "/")
            }
            if lower.hasPrefix("strict-transport-security:") { answer.hsts = String(line.dropFirst(26)).trimmingCharacters(in: .whitespaces) }
            if lower.hasPrefix("x-echo-name:") { answer.echoNameHeader = true }
        }
        let echoed = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
        answer.backend = echoed["name"] as? String ?? ""
        answer.path = echoed["path"] as? String ?? ""
        answer.setHeader = (echoed["headers"] as? [String: String])?["x-forwarded-abc"] ?? ""
        return answer
    }

    @Test func nginxIncIngressServedDirectlyAndConvertedAnswersAlike() async throws {
        let harness = GatewayHarness()
        let services = try await harness.startBackendServices("tea", "coffee")
        let certificate = try TestCertificate(names: [Self.host], in: harness.directory)
        try harness.write("cafe.yaml", Manifests.join(Self.ingress(), certificate.secret("cafe-tls"), services))

        let migration = MigrationRun.migrate(inputs: [harness.directory.path], gatewayClass: "archway", gatewayNamespace: nil,
                                             json: false, verify: true)
        #expect(migration.exitCode == 0, "\(migration.stderr.joined(separator: "\n"))")
        #expect(migration.stderr.contains { $0.hasSuffix("not") || $0.hasSuffix(", 0 differ") }, "\(migration.stderr.suffix(2))")
        #expect(!migration.stderr.contains { $0.contains("nginx.org/") && $0.contains("not mapped") })
        try harness.write("gateway.yaml", migration.stdout)

        harness.ingress = IngressServing(httpPort: 8000, httpsPort: 8443)
        harness.extraPortMap = [443: 0, 8000: 0, 8443: 0]
        try await harness.start()
        defer { Task { await harness.stop() } }
        let gateway = (http: await harness.hostPort(80), https: await harness.hostPort(443))
        let ingress = (http: await harness.hostPort(8000), https: await harness.hostPort(8443))

        func request(_ scheme: String, _ port: Int, _ path: String, headers: [String] = []) async throws -> Answer {
            let output = try await ExternalTool.curlOffThePool(["-i", "--resolve", "\(Self.host):\(port):127.0.0.1", "--cacert", certificate.path]
                                                               + headers.flatMap { ["-H", $0] } + ["\(scheme)://\(Self.host):\(port)\(path)"])
            return Self.answer(output.body)
        }
        let cases: [(String, String, [String], Answer)] = [
            ("https", "/tea/green?x=1", [], Answer(status: "200", hsts: "max-age=2592000", backend: "tea", path: "/green", setHeader: "abc")),
            ("https", "/coffee/arabica", [], Answer(status: "200", hsts: "max-age=2592000", backend: "coffee", path: "/coffee/arabica", setHeader: "abc")),
            // nginx's auto_redirect of a "/tea/" location.
            ("https", "/tea", [], Answer(status: "301", location: "https://\(Self.host)/tea/")),
            // ssl-redirect (default on for a TLS host), and redirect-to-https behind a TLS-offloading balancer.
            ("http", "/coffee/x", [], Answer(status: "301", location: "https://\(Self.host)/coffee/x")),
            ("https", "/coffee/x", ["X-Forwarded-Proto: http"], Answer(status: "301", location: "https://\(Self.host)/coffee/x")),
            ("https", "/juice", [], Answer(status: "404")),
        ]
        for (scheme, path, headers, expected) in cases {
            let viaGateway = try await request(scheme, scheme == "https" ? gateway.https : gateway.http, path, headers: headers)
            let viaIngress = try await request(scheme, scheme == "https" ? ingress.https : ingress.http, path, headers: headers)
            #expect(viaIngress == expected, "\(scheme) \(path) served as an Ingress")
            #expect(viaGateway == expected, "\(scheme) \(path) through the converted routes")
        }
    }
}
