import GatewayAPI
import Migrate
import Testing
import Translator
import Yams

/// `archway migrate` for GCE / GKE Ingresses (`kubernetes.io/ingress.class: gce`), from manifests
/// written here: GCE's URL-map paths, allow-http, Google Cloud certificates and addresses, the
/// FrontendConfig redirect and the Services' BackendConfigs, each checked on the output, the report
/// line, and what both readings do with requests (`--verify`).
@Suite struct MigrateGCETests {
    static let host = "shop.example.com"

    /// A GCE Ingress in namespace apps on one host; `paths`: (path, pathType, Service), each on port 80.
    static func ingress(_ name: String = "shop", annotations: [String: String] = [:], paths: [(String, String, String)],
                        tls: Bool = false, className: String = "gce") -> String {
        let notes = (["kubernetes.io/ingress.class": className].merging(annotations) { $1 })
            .sorted { $0.key < $1.key }.map { "\"\($0.key)\": \"\($0.value)\"" }.joined(separator: ", ")
        let rules = paths.map { "{path: \"\($0.0)\", pathType: \($0.1), backend: {service: {name: \($0.2), port: {number: 80}}}}" }
        return """
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata: {name: \(name), namespace: apps, annotations: {\(notes)}}
            spec:
              \(tls ? "tls: [{hosts: [\(host)], secretName: \(name)-tls}]" : "")
              rules: [{host: \(host), http: {paths: [\(rules.joined(separator: ", "))]}}]

            """
    }

    static func frontendConfig(_ spec: String) -> String {
        "---\napiVersion: networking.gke.io/v1beta1\nkind: FrontendConfig\nmetadata: {name: shop-frontend, namespace: apps}\nspec: \(spec)\n"
    }

    static func convert(_ yaml: String) throws -> (Migration, Verification, [[String: Any]]) {
        let (migration, verification, output) = MigrateTests.verify(yaml)
        return (migration, verification, try Yams.load_all(yaml: output).compactMap { $0 as? [String: Any] })
    }

    static func spec(_ documents: [[String: Any]], kind: String, name: String) -> [String: Any]? {
        MigrateNginxIncTests.document(documents, kind: kind, name: name)?["spec"] as? [String: Any]
    }

    static func line(_ migration: Migration, _ key: String) -> String { MigrateNginxIncTests.line(migration, key) }

    /// What a request gets from the Ingress read as GKE would, and from the converted routes.
    static func both(_ verification: Verification, _ url: String) -> (String, String) {
        let outcome = verification.outcomes(url)
        return (outcome?.ingress ?? "-", outcome?.gateway ?? "-")
    }

    @Test func gkeClassNamesMakeItAGCEIngressAndTheInventorySaysSo() throws {
        for className in ["gce", "gce-internal"] {
            let (snapshot, _) = MigrateTests.snapshot(Self.ingress(paths: [("/*", "ImplementationSpecific", "home")], className: className))
            #expect(IngressController.of(snapshot.ingresses[0]) == .gce)
            let inventory = IngressInventory(snapshot)
            #expect(inventory.classes.first?.controller == "GCE / GKE Ingress (k8s.io/ingress-gce) (assumed)")
        }
    }

    @Test func pathsMatchAsTheURLMapDoes() throws {
        let (migration, verification, documents) = try Self.convert(Self.ingress(paths: [
            ("/*", "ImplementationSpecific", "home"), ("/api/*", "ImplementationSpecific", "api"), ("/about", "ImplementationSpecific", "about"),
            ("/docs", "Prefix", "docs"), ("/status", "Exact", "status"),
        ]))
        MigrateNginxIncTests.expectEquivalent(verification)
        let same: [(String, String)] = [
            ("/api/users", "api"), ("/api/", "api"),          // /api/* is /api/ and below
            ("/about", "about"), ("/about/team", "home"),     // a path without * is exact
            ("/docs", "docs"), ("/docs/x", "docs"), ("/docsx", "home"),  // Prefix: whole segments
            ("/status", "status"), ("/status/", "home"), ("/anything", "home"),
        ]
        for (path, service) in same {
            let (ingress, gateway) = Self.both(verification, "http://\(Self.host)\(path)")
            #expect(ingress == "forward to apps/\(service):80 with path \(path)", "\(path) read as GKE")
            #expect(gateway == ingress, "\(path) through the routes")
        }
        // GCE's /api/* leaves /api itself to /*; the portable PathPrefix /api takes it, and says so.
        #expect(Self.both(verification, "http://\(Self.host)/api") == ("forward to apps/home:80 with path /api", "forward to apps/api:80 with path /api"))
        #expect(verification.accepted.contains { $0.difference.kind == .prefixWithoutSlash("/api") && !$0.probes.isEmpty })
        let rules = Self.spec(documents, kind: "HTTPRoute", name: "shop-shop-example-com")?["rules"] as? [[String: Any]] ?? []
        let matches = rules.flatMap { ($0["matches"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? [String: String] } }
        #expect(Set(matches.map { "\($0["type"]!) \($0["value"]!)" })
                == ["PathPrefix /", "PathPrefix /api", "Exact /about", "PathPrefix /docs", "Exact /status"], "standard matches only")
        #expect(migration.report.map(\.key) == ["kubernetes.io/ingress.class"])

        // With an exact rule for /api beside it, the PathPrefix is exactly GCE's /api/*.
        let exact = try Self.convert(Self.ingress(paths: [("/api/*", "ImplementationSpecific", "api"), ("/api", "ImplementationSpecific", "apiroot")]))
        MigrateNginxIncTests.expectEquivalent(exact.1)
        #expect(Self.both(exact.1, "http://\(Self.host)/api").1 == "forward to apps/apiroot:80 with path /api")
        #expect(exact.1.accepted.isEmpty)
    }

    @Test func allowHTTPFalseLeavesOnlyHTTPS() throws {
        let (migration, verification, documents) = try Self.convert(Self.ingress(annotations: ["kubernetes.io/ingress.allow-http": "false"],
                                                                                 paths: [("/*", "ImplementationSpecific", "home")], tls: true))
        MigrateNginxIncTests.expectEquivalent(verification)
        #expect(Self.both(verification, "http://\(Self.host)/x") == ("404 (no route)", "404 (no route)"))
        #expect(Self.both(verification, "https://\(Self.host)/x").1 == "forward to apps/home:80 with path /x")
        let parents = Self.spec(documents, kind: "HTTPRoute", name: "shop-shop-example-com")?["parentRefs"] as? [[String: Any]] ?? []
        #expect(parents.map { $0["sectionName"] as? String } == ["https-shop-example-com"])
        #expect(Self.line(migration, "kubernetes.io/ingress.allow-http").hasSuffix(": mapped"))
    }

    @Test func googleCloudCertificatesBecomeHTTPSListenersToFill() throws {
        for key in ["ingress.gcp.kubernetes.io/pre-shared-cert", "networking.gke.io/managed-certificates"] {
            let (migration, verification, documents) = try Self.convert(Self.ingress(annotations: [key: "shop-cert, spare-cert"],
                                                                                     paths: [("/*", "ImplementationSpecific", "home")]))
            MigrateNginxIncTests.expectEquivalent(verification)
            let listeners = Self.spec(documents, kind: "Gateway", name: "gce")?["listeners"] as? [[String: Any]] ?? []
            let https = try #require(listeners.first { $0["name"] as? String == "https-shop-example-com" })
            let refs = (https["tls"] as? [String: Any])?["certificateRefs"] as? [[String: Any]]
            #expect(refs?.first?["name"] as? String == "shop-cert")
            // GKE does not redirect on its own: both schemes serve.
            #expect(Self.both(verification, "https://\(Self.host)/x").1 == "forward to apps/home:80 with path /x")
            #expect(Self.both(verification, "http://\(Self.host)/x").0 == "forward to apps/home:80 with path /x")
            #expect(verification.substitutedSecrets.contains { $0.hasPrefix("Secret apps/shop-cert") })
            let text = Self.line(migration, key)
            #expect(text.contains("partly mapped: HTTPS listeners on 443 for shop.example.com name Secret apps/shop-cert in certificateRefs, which you must fill"))
            #expect(text.contains("only the first certificate (shop-cert)"))
        }
    }

    @Test func staticIPNameIsKeptForTheUserToResolve() throws {
        let (migration, verification, documents) = try Self.convert(Self.ingress(annotations: ["kubernetes.io/ingress.global-static-ip-name": "shop-ip"],
                                                                                 paths: [("/*", "ImplementationSpecific", "home")]))
        MigrateNginxIncTests.expectEquivalent(verification)
        let gateway = try #require(MigrateNginxIncTests.document(documents, kind: "Gateway", name: "gce"))
        #expect(((gateway["metadata"] as? [String: Any])?["annotations"] as? [String: String])?["kubernetes.io/ingress.global-static-ip-name"] == "shop-ip")
        #expect((gateway["spec"] as? [String: Any])?["addresses"] == nil, "archway would refuse a NamedAddress")
        #expect(Self.line(migration, "kubernetes.io/ingress.global-static-ip-name").contains("gcloud compute addresses describe shop-ip --global"))
    }

    @Test func frontendConfigRedirectsEveryCleartextRequestWithItsCode() throws {
        let codes: [(String?, Int)] = [(nil, 301), ("MOVED_PERMANENTLY_DEFAULT", 301), ("FOUND", 302), ("SEE_OTHER", 303),
                                       ("TEMPORARY_REDIRECT", 307), ("PERMANENT_REDIRECT", 308)]
        for (name, code) in codes {
            let config = Self.frontendConfig("{redirectToHttps: {enabled: true\(name.map { ", responseCodeName: \($0)" } ?? "")}}")
            let (migration, verification, _) = try Self.convert(config + Self.ingress(annotations: ["networking.gke.io/v1beta1.FrontendConfig": "shop-frontend"],
                                                                                      paths: [("/app/*", "ImplementationSpecific", "app")], tls: true))
            MigrateNginxIncTests.expectEquivalent(verification)
            // The whole cleartext URL map redirects, paths the Ingress does not route included.
            for path in ["/app/x?y=1", "/elsewhere"] {
                let expected = "redirect \(code) to https://\(Self.host)\(path)"
                #expect(Self.both(verification, "http://\(Self.host)\(path)") == (expected, expected), "\(name ?? "default") \(path)")
            }
            #expect(Self.both(verification, "https://\(Self.host)/app/x").1 == "forward to apps/app:80 with path /app/x")
            #expect(Self.line(migration, "networking.gke.io/v1beta1.FrontendConfig").hasSuffix(": mapped"))
        }

        let withPolicy = try Self.convert(Self.frontendConfig("{sslPolicy: modern-tls}")
            + Self.ingress(annotations: ["networking.gke.io/v1beta1.FrontendConfig": "shop-frontend"], paths: [("/*", "ImplementationSpecific", "home")], tls: true))
        #expect(Self.line(withPolicy.0, "networking.gke.io/v1beta1.FrontendConfig").contains("partly mapped: FrontendConfig apps/shop-frontend: spec.sslPolicy modern-tls is not mapped"))
        #expect(Self.both(withPolicy.1, "http://\(Self.host)/x").1 == "forward to apps/home:80 with path /x")

        let missing = try Self.convert(Self.ingress(annotations: ["networking.gke.io/v1beta1.FrontendConfig": "gone"], paths: [("/*", "ImplementationSpecific", "home")]))
        #expect(Self.line(missing.0, "networking.gke.io/v1beta1.FrontendConfig").contains("not mapped: FrontendConfig apps/gone is not in the input"))
    }

    @Test func backendConfigTimeoutAndHealthCheck() throws {
        let yaml = """
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: apps, annotations: {cloud.google.com/backend-config: '{"ports": {"80": "web-config"}}'}}
            spec: {ports: [{port: 80}]}
            ---
            apiVersion: cloud.google.com/v1
            kind: BackendConfig
            metadata: {name: web-config, namespace: apps}
            spec:
              timeoutSec: 40
              healthCheck: {requestPath: /healthz, checkIntervalSec: 10, timeoutSec: 3, type: HTTP2}
              sessionAffinity: {affinityType: GENERATED_COOKIE, affinityCookieTtlSec: 600}
              cdn: {enabled: true}
              connectionDraining: {drainingTimeoutSec: 60}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: batch, namespace: apps, annotations: {cloud.google.com/backend-config: '{"default": "batch-config"}'}}
            spec: {ports: [{port: 80}]}

            """ + Self.ingress(paths: [("/*", "ImplementationSpecific", "web"), ("/batch/*", "ImplementationSpecific", "batch")])
        let (migration, verification, documents) = try Self.convert(yaml)
        MigrateNginxIncTests.expectEquivalent(verification)
        #expect(Self.both(verification, "http://\(Self.host)/x") == ("forward to apps/web:80 with path /x, backend timeout 40000ms",
                                                                     "forward to apps/web:80 with path /x, backend timeout 40000ms"))
        #expect(Self.both(verification, "http://\(Self.host)/batch/x").1 == "forward to apps/batch:80 with path /batch/x")
        let rules = Self.spec(documents, kind: "HTTPRoute", name: "shop-shop-example-com")?["rules"] as? [[String: Any]] ?? []
        #expect(rules.compactMap { ($0["timeouts"] as? [String: String])?["backendRequest"] } == ["40s"])
        let session = rules.compactMap { $0["sessionPersistence"] as? [String: Any] }
        #expect(session.count == 1 && session.first?["sessionName"] as? String == "GCLB" && session.first?["absoluteTimeout"] as? String == "600s")
        #expect(Self.line(migration, "BackendConfig apps/web-config (Service web) spec.sessionAffinity").contains("partly mapped: a Cookie sessionPersistence named GCLB"))
        let policy = try #require(Self.spec(documents, kind: "BackendTrafficPolicy", name: "web-health-check"))
        #expect(policy["healthCheck"] as? [String: String] == ["path": "/healthz", "interval": "10s", "timeout": "3s"])
        #expect(Self.line(migration, "BackendConfig apps/web-config (Service web) spec.timeoutSec").contains("partly mapped: timeouts.backendRequest 40s"))
        #expect(Self.line(migration, "BackendConfig apps/web-config (Service web) spec.healthCheck").contains("type HTTP2 not converted"))
        #expect(Self.line(migration, "BackendConfig apps/web-config (Service web) spec.cdn").contains("not mapped: Cloud CDN"))
        #expect(Self.line(migration, "BackendConfig apps/web-config (Service web) spec.connectionDraining").contains("not mapped"))
        #expect(Self.line(migration, "BackendConfig apps/batch-config (Service batch)").contains("not mapped: named by the Service's cloud.google.com/backend-config but not in the input"))
    }

    @Test func everyGKEAnnotationHasALine() throws {
        let annotations = [
            "kubernetes.io/ingress.allow-http": "true", "kubernetes.io/ingress.regional-static-ip-name": "ilb-ip",
            "networking.gke.io/suppress-firewall-xpn-error": "true", "networking.gke.io/some-future-setting": "x",
            "cloud.google.com/backend-config": "shop-config", "ingress.gcp.kubernetes.io/something": "y",
            "ingress.kubernetes.io/url-map": "k8s2-um-abc", "ingress.kubernetes.io/backends": "{}",
        ]
        let (migration, _, _) = try Self.convert(Self.ingress(annotations: annotations, paths: [("/*", "ImplementationSpecific", "home")], className: "gce-internal"))
        #expect(migration.report.count == annotations.count + 1, "every annotation, the class included, has its line")
        #expect(Self.line(migration, "ingress.kubernetes.io/url-map").contains("nothing to convert"))
        #expect(Self.line(migration, "kubernetes.io/ingress.regional-static-ip-name").contains("--region=REGION"))
        #expect(Self.line(migration, "cloud.google.com/backend-config").contains("not mapped: GKE reads BackendConfigs from Service annotations only"))
        for key in ["networking.gke.io/some-future-setting", "ingress.gcp.kubernetes.io/something", "networking.gke.io/suppress-firewall-xpn-error"] {
            #expect(Self.line(migration, key).contains(": not mapped: "), "\(key)")
        }
        // On an ingress-nginx Ingress, GKE's annotations are said to be ignored.
        let nginx = try Self.convert(MigrateTests.ingress("a", annotations: ["kubernetes.io/ingress.allow-http": "false"]))
        #expect(Self.line(nginx.0, "kubernetes.io/ingress.allow-http").contains("not mapped: ignored: this Ingress is for ingress-nginx"))
        #expect(Self.both(nginx.1, "http://app.example.com/").1 == "forward to apps/app:80 with path /")
    }

    @Test func malformedGKEConfigsNameTheObjectAndField() {
        let loaded = ManifestLoader().parse(text: """
            apiVersion: networking.gke.io/v1beta1
            kind: FrontendConfig
            metadata: {name: bad-flag, namespace: apps}
            spec: {redirectToHttps: {enabled: "perhaps"}}
            ---
            apiVersion: networking.gke.io/v1beta1
            kind: FrontendConfig
            metadata: {name: bad-code, namespace: apps}
            spec: {redirectToHttps: {enabled: true, responseCodeName: MOVED}}
            ---
            apiVersion: cloud.google.com/v1
            kind: BackendConfig
            metadata: {name: bad-timeout, namespace: apps}
            spec: {timeoutSec: forty}
            """, file: "gke.yaml")
        let errors = loaded.errors.map(\.description)
        #expect(errors.count == 3, "\(errors)")
        #expect(errors.contains { $0.contains("(FrontendConfig apps/bad-flag): spec.redirectToHttps.enabled: expected a boolean") }, "\(errors)")
        #expect(errors.contains { $0.contains("(FrontendConfig apps/bad-code): spec.redirectToHttps.responseCodeName: \"MOVED\" is not one of FOUND, MOVED_PERMANENTLY_DEFAULT") }, "\(errors)")
        #expect(errors.contains { $0.contains("(BackendConfig apps/bad-timeout): spec.timeoutSec: expected an integer") }, "\(errors)")
    }
}
