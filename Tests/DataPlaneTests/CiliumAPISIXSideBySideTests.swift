import ArchwayCore
import Foundation
import Testing
import Translator

/// A Cilium Ingress and an APISIX Ingress Controller Ingress each served by archway itself and,
/// converted by `archway migrate`, as Gateway API routes, at once: real curl requests get the same
/// answers from both — Cilium's path types and https redirect; APISIX's regex rewrite, methods,
/// CORS, use-regex paths and fixed redirect — and an Ingress with an APISIX allow list is refused
/// side by side rather than served open.
@Suite struct CiliumAPISIXSideBySideTests {
    static let archwayClass = """
        apiVersion: networking.k8s.io/v1
        kind: IngressClass
        metadata: {name: archway}
        spec: {controller: archway.dev/ingress-controller}

        """

    /// Both readings running: the Ingresses on 8000/8443, the converted routes on 80/443.
    struct Sides {
        let harness: GatewayHarness
        let gateway: (http: Int, https: Int)
        let ingress: (http: Int, https: Int)
        let certificatePath: String?

        /// Status, the headers that matter, the backend that answered and the path it saw; a
        /// Location without its port (the sides differ in ports).
        func request(_ scheme: String, host: String, _ path: String, _ arguments: [String] = [], viaGateway: Bool) async throws -> String {
            let port = viaGateway ? (scheme == "https" ? gateway.https : gateway.http) : (scheme == "https" ? ingress.https : ingress.http)
            let trust = certificatePath.map { ["--cacert", $0] } ?? []
            let output = try await ExternalTool.curlOffThePool(["-i", "--resolve", "\(host):\(port):127.0.0.1"] + trust + arguments
                                                               + ["\(scheme)://\(host):\(port)\(path)"])
            let lines = output.body.components(separatedBy: "\r\n")
            let status = lines.first.map { String($0.split(separator: " ")[1]) } ?? "?"
            let kept = lines.filter { line in ["location:", "access-control-allow-origin:"].contains { line.lowercased().hasPrefix($0) } }
                .map { $0.lowercased().replacing(#/:[0-9]+\//#, with: "/") }.sorted()
            let echoed = output.body.range(of: "\r\n\r\n").map { String(output.body[$0.upperBound...]) } ?? ""
            let json = (try? JSONSerialization.jsonObject(with: Data(echoed.utf8))) as? [String: Any]
            let backend = json.map { "\($0["name"] as? String ?? "?") \($0["path"] as? String ?? "?")" } ?? "-"
            return ([status] + kept + [backend]).joined(separator: " | ")
        }

        /// Each case answered as expected on both sides.
        func expectAlike(_ cases: [(scheme: String, host: String, path: String, arguments: [String], expected: String)],
                         sourceLocation: SourceLocation = #_sourceLocation) async throws {
            for (scheme, host, path, arguments, expected) in cases {
                let viaIngress = try await request(scheme, host: host, path, arguments, viaGateway: false)
                let viaGateway = try await request(scheme, host: host, path, arguments, viaGateway: true)
                #expect(viaIngress == expected, "\(scheme)://\(host)\(path) \(arguments) served as an Ingress", sourceLocation: sourceLocation)
                #expect(viaGateway == expected, "\(scheme)://\(host)\(path) \(arguments) through the converted routes", sourceLocation: sourceLocation)
            }
        }
    }

    /// Converts what the harness directory holds (with `--verify`, which must find nothing
    /// unexplained), then serves the Ingresses and the routes side by side.
    static func start(_ harness: GatewayHarness, certificatePath: String?) async throws -> Sides {
        let migration = MigrationRun.migrate(inputs: [harness.directory.path], gatewayClass: "archway", gatewayNamespace: nil,
                                             json: false, verify: true)
        #expect(migration.exitCode == 0, "\(migration.stderr.joined(separator: "\n"))")
        #expect(migration.stderr.last?.hasSuffix(" 0 not") == true || migration.stderr.last?.hasSuffix(", 0 differ") == true,
                "\(migration.stderr.suffix(3))")
        try harness.write("gateway.yaml", migration.stdout)
        harness.ingress = IngressServing(httpPort: 8000, httpsPort: 8443)
        harness.extraPortMap = [443: 0, 8000: 0, 8443: 0]
        try await harness.start()
        return Sides(harness: harness, gateway: (await harness.hostPort(80), await harness.hostPort(443)),
                     ingress: (await harness.hostPort(8000), await harness.hostPort(8443)), certificatePath: certificatePath)
    }

    @Test func ciliumIngressServedDirectlyAndConvertedAnswersAlike() async throws {
        let harness = GatewayHarness()
        let services = try await harness.startBackendServices("exactpath", "prefixpath", "implpath")
        let host = "pathtypes.example.com"
        let certificate = try TestCertificate(names: [host], in: harness.directory)
        try harness.write("cilium.yaml", Manifests.join(Self.archwayClass + """
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: multiple-path-types
              namespace: default
              annotations:
                ingress.cilium.io/force-https: "enabled"
                ingress.cilium.io/request-timeout: "30s"
                ingress.cilium.io/loadbalancer-mode: "shared"
            spec:
              ingressClassName: archway
              tls: [{hosts: [\(host)], secretName: pathtypes-tls}]
              rules:
              - host: \(host)
                http:
                  paths:
                  - {path: /exact, pathType: Exact, backend: {service: {name: exactpath, port: {number: 80}}}}
                  - {path: /, pathType: Prefix, backend: {service: {name: prefixpath, port: {number: 80}}}}
                  - {path: /impl.+, pathType: ImplementationSpecific, backend: {service: {name: implpath, port: {number: 80}}}}
            """, certificate.secret("pathtypes-tls"), services))
        let sides = try await Self.start(harness, certificatePath: certificate.path)
        defer { Task { await harness.stop() } }
        try await sides.expectAlike([
            ("https", host, "/exact", [], "200 | exactpath /exact"),
            ("https", host, "/exact/more", [], "200 | prefixpath /exact/more"),
            ("https", host, "/implementation", [], "200 | implpath /implementation"),
            // `/impl.+` needs a character after /impl: the whole-path regex does not take /impl itself.
            ("https", host, "/impl", [], "200 | prefixpath /impl"),
            // force-https: Envoy's https_redirect answers 301.
            ("http", host, "/implementation?x=1", [], "301 | location: https://pathtypes.example.com/implementation?x=1 | -"),
        ])
    }

    @Test func apisixIngressServedDirectlyAndConvertedAnswersAlike() async throws {
        let harness = GatewayHarness()
        let services = try await harness.startBackendServices("app", "action")
        try harness.write("apisix.yaml", Manifests.join(Self.archwayClass + """
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: app
              namespace: default
              annotations:
                k8s.apisix.apache.org/rewrite-target-regex: "^/app/(.*)"
                k8s.apisix.apache.org/rewrite-target-regex-template: "/$1"
                k8s.apisix.apache.org/http-allow-methods: "GET,POST"
                k8s.apisix.apache.org/enable-cors: "true"
                k8s.apisix.apache.org/cors-allow-origin: "https://app.example.com"
            spec:
              ingressClassName: archway
              rules:
              - host: web.example.com
                http:
                  paths:
                  - {path: /app, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: search
              namespace: default
              annotations: {k8s.apisix.apache.org/use-regex: "true"}
            spec:
              ingressClassName: archway
              rules:
              - host: web.example.com
                http:
                  paths:
                  - {path: "/api/.*/action1", pathType: ImplementationSpecific, backend: {service: {name: action, port: {number: 80}}}}
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: moved
              namespace: default
              annotations:
                k8s.apisix.apache.org/http-redirect: "https://new.example.com/"
                k8s.apisix.apache.org/http-redirect-code: "302"
            spec:
              ingressClassName: archway
              rules:
              - host: old.example.com
                http:
                  paths:
                  - {path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: office
              namespace: default
              annotations: {k8s.apisix.apache.org/allowlist-source-range: "10.0.0.0/8"}
            spec:
              ingressClassName: archway
              rules:
              - host: office.example.com
                http:
                  paths:
                  - {path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}
            """, services))
        let sides = try await Self.start(harness, certificatePath: nil)
        defer { Task { await harness.stop() } }
        try await sides.expectAlike([
            ("http", "web.example.com", "/app/ip", [], "200 | app /ip"),
            ("http", "web.example.com", "/app/ip", ["-X", "POST"], "200 | app /ip"),
            // Methods outside the allow list: no rule takes them (APISIX's 405 is the report's "partly").
            ("http", "web.example.com", "/app/ip", ["-X", "PUT"], "404 | -"),
            ("http", "web.example.com", "/app/ip", ["-H", "Origin: https://app.example.com"],
             "200 | access-control-allow-origin: https://app.example.com | app /ip"),
            // use-regex: the regex is searched anywhere in the path.
            ("http", "web.example.com", "/v1/api/x/action1", [], "200 | action /v1/api/x/action1"),
            ("http", "old.example.com", "/anything", [], "302 | location: https://new.example.com/ | -"),
        ])
        // The allow list is not enforced side by side: refused (500), never served open; converted, it is an IPAllowList (403 here).
        #expect(try await sides.request("http", host: "office.example.com", "/", viaGateway: false).hasPrefix("500"))
        #expect(try await sides.request("http", host: "office.example.com", "/", viaGateway: true).hasPrefix("403"))
    }
}
