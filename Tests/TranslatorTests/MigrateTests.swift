import Foundation
import GatewayAPI
import Migrate
import Testing
import Yams

/// `archway migrate` from manifests: what each annotation becomes, the Prefix boundary, the canary
/// pair, cross-namespace Secrets, and `--verify` catching a conversion that routes differently.
@Suite struct MigrateTests {
    static func snapshot(_ yaml: String) -> (ResourceSnapshot, [Resource]) {
        let loaded = ManifestLoader().parse(text: yaml, file: "test.yaml")
        #expect(loaded.errors.isEmpty, "\(loaded.errors)")
        let resources = loaded.resources.map(\.resource)
        return (ResourceSnapshot(resources), resources)
    }

    static func ingress(_ name: String, namespace: String = "apps", annotations: [String: String] = [:], host: String = "app.example.com",
                        paths: String = "[{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]",
                        tls: String? = nil) -> String {
        let notes = annotations.isEmpty ? "" : "\n  annotations:\n" + annotations.sorted { $0.key < $1.key }.map { "    \($0.key): \"\($0.value)\"" }.joined(separator: "\n")
        return """
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: \(name)
          namespace: \(namespace)\(notes)
        spec:
          ingressClassName: nginx\(tls.map { "\n  tls: [{hosts: [\(host)], secretName: \($0)}]" } ?? "")
          rules: [{host: \(host), http: {paths: \(paths)}}]

        """
    }

    static func verify(_ yaml: String, generated: String? = nil) -> (Migration, Verification, String) {
        let (snapshot, resources) = snapshot(yaml)
        let migration = IngressConverter.convert(snapshot)
        let output = generated ?? (try! Manifest.yaml(migration.documents))
        return (migration, MigrationVerifier.verify(input: snapshot, generated: output, inputResources: resources, gatewayClass: "archway"), output)
    }

    @Test func everyAnnotationIsReportedVerbatim() {
        let annotations = [
            "nginx.ingress.kubernetes.io/ssl-redirect": "false", "nginx.ingress.kubernetes.io/configuration-snippet": "more_set_headers x",
            "nginx.ingress.kubernetes.io/enable-cors": "true", "nginx.ingress.kubernetes.io/affinity": "cookie",
            "nginx.ingress.kubernetes.io/auth-url": "http://auth", "nginx.ingress.kubernetes.io/canary-by-cookie": "c",
            "traefik.ingress.kubernetes.io/router.middlewares": "default-strip@kubernetescrd", "example.com/owner": "team",
            "nginx.ingress.kubernetes.io/proxy-read-timeout": "60",
        ]
        let (migration, _, _) = Self.verify(Self.ingress("a", annotations: annotations))
        #expect(migration.report.count == annotations.count)
        for key in annotations.keys {
            #expect(migration.report.contains { $0.description.hasPrefix("Ingress apps/a: \(key): ") }, "\(key) reported")
        }
        let lines = migration.report.map(\.description)
        #expect(lines.contains { $0.contains("configuration-snippet: not mapped: snippets") })
        #expect(lines.contains { $0.contains("ssl-redirect: mapped") })
        #expect(lines.contains { $0.contains("router.middlewares: not mapped") && $0.contains("ExtensionRef") })
    }

    /// Ingress Prefix matches whole path elements, as Gateway API PathPrefix does; ingress-nginx's
    /// ImplementationSpecific is a plain string prefix and must not become PathPrefix.
    @Test func prefixBoundaryIsKept() throws {
        let paths = "[{path: /foo, pathType: Prefix, backend: {service: {name: a, port: {number: 80}}}}, {path: /bar, pathType: ImplementationSpecific, backend: {service: {name: b, port: {number: 80}}}}]"
        let (_, verification, output) = Self.verify(Self.ingress("p", paths: paths))
        #expect(verification.loadErrors.isEmpty)
        #expect(verification.differences.isEmpty, "\(verification.differences)")
        #expect(output.contains("type: PathPrefix\n        value: /foo"))
        #expect(output.contains("type: RegularExpression\n        value: /bar.*"))
        #expect(verification.probes >= 10)
    }

    @Test func verifyFindsABrokenConversion() {
        let yaml = Self.ingress("p", paths: "[{path: /bar, pathType: ImplementationSpecific, backend: {service: {name: b, port: {number: 80}}}}]")
        let (_, _, output) = Self.verify(yaml)
        // The naive conversion most tools make: ImplementationSpecific as PathPrefix.
        let broken = output.replacingOccurrences(of: "type: RegularExpression\n        value: /bar.*", with: "type: PathPrefix\n        value: /bar")
        #expect(broken != output)
        let (_, verification, _) = Self.verify(yaml, generated: broken)
        #expect(verification.differences.map(\.probe) == ["http://app.example.com/barbar"])
        #expect(verification.differences.first?.ingress.contains("apps/b:80") == true)
        #expect(verification.differences.first?.gateway == "404 (no route)")
    }

    @Test func canaryPairBecomesOneWeightedRoute() throws {
        let canary = ["nginx.ingress.kubernetes.io/canary": "true", "nginx.ingress.kubernetes.io/canary-weight": "30",
                      "nginx.ingress.kubernetes.io/canary-weight-total": "200", "nginx.ingress.kubernetes.io/canary-by-header": "X-Beta",
                      "nginx.ingress.kubernetes.io/canary-by-header-value": "yes"]
        let yaml = Self.ingress("main") + Self.ingress("main-canary", annotations: canary,
                                                       paths: "[{path: /, pathType: Prefix, backend: {service: {name: app-v2, port: {number: 80}}}}]")
        let (migration, verification, output) = Self.verify(yaml)
        #expect(verification.differences.isEmpty, "\(verification.differences)")
        let routes = try Yams.load_all(yaml: output).compactMap { $0 as? [String: Any] }.filter { $0["kind"] as? String == "HTTPRoute" }
        #expect(routes.count == 1)
        let rules = ((routes.first?["spec"] as? [String: Any])?["rules"] as? [[String: Any]]) ?? []
        let weights = (rules.last?["backendRefs"] as? [[String: Any]])?.map { "\($0["name"]!)=\($0["weight"]!)" }
        #expect(weights == ["app=170", "app-v2=30"])
        #expect(rules.count == 2, "a header rule for X-Beta: yes, then the weighted rule")
        #expect(migration.report.filter { $0.ingress.name == "main-canary" }.allSatisfy { $0.verdict == .mapped })
    }

    @Test func rewritesRedirectsAndTLSAcrossNamespaces() throws {
        let yaml = Self.ingress("api", namespace: "team-a", annotations: ["nginx.ingress.kubernetes.io/rewrite-target": "/$2",
                                                                          "nginx.ingress.kubernetes.io/upstream-vhost": "internal.api"],
                                host: "api.example.com",
                                paths: "[{path: /v1(/|$)(.*), pathType: ImplementationSpecific, backend: {service: {name: api, port: {number: 80}}}}]",
                                tls: "api-tls")
            + Self.ingress("old", namespace: "team-b", annotations: ["nginx.ingress.kubernetes.io/permanent-redirect": "https://new.example.com/landing",
                                                                     "nginx.ingress.kubernetes.io/app-root": "/app"], host: "old.example.com")
            + Self.ingress("www", namespace: "team-b", annotations: ["nginx.ingress.kubernetes.io/from-to-www-redirect": "true"], host: "www.example.com")
        let (_, verification, output) = Self.verify(yaml)
        #expect(verification.loadErrors.isEmpty, "\(verification.loadErrors)")
        #expect(verification.differences.isEmpty, "\(verification.differences.map(\.description).joined(separator: "\n"))")
        #expect(output.contains("replacePrefixMatch: /"))
        #expect(output.contains("kind: ReferenceGrant"), "the Gateway in default reads team-a's Secret")
        #expect(output.contains("namespace: team-a") && output.contains("name: api-tls"))
        #expect(output.contains("statusCode: 308"), "ssl-redirect and from-to-www use 308 as ingress-nginx does")
        #expect(output.contains("hostname: internal.api"))
    }
}
