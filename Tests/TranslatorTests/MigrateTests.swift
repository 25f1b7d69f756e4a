import Foundation
import GatewayAPI
import Migrate
import Testing
import Translator
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
        return (migration, MigrationVerifier.verify(input: snapshot, generated: output, inputResources: resources,
                                                    accepted: migration.accepted), output)
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
        // Exactly the probes that start with "/bar" without "/bar" being their first segment: ingress-nginx
        // serves them (a string prefix), the segment-wise PathPrefix does not.
        #expect(!verification.differences.isEmpty)
        for difference in verification.differences {
            let path = String(difference.probe.dropFirst("http://app.example.com".count))
            #expect(path.hasPrefix("/bar") && !path.hasPrefix("/bar/") && path != "/bar", "\(difference)")
            #expect(difference.ingress.contains("apps/b:80") && difference.gateway == "404 (no route)", "\(difference)")
        }
        #expect(verification.differences.contains { $0.probe == "http://app.example.com/barx" })
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

    static func documents(_ output: String, kind: String) throws -> [[String: Any]] {
        try Yams.load_all(yaml: output).compactMap { $0 as? [String: Any] }.filter { $0["kind"] as? String == kind }
    }

    static func spec(_ document: [String: Any]?) -> [String: Any] { document?["spec"] as? [String: Any] ?? [:] }

    @Test func backendProtocolsPassthroughAndCertManager() throws {
        let yaml = Self.ingress("grpc", annotations: ["nginx.ingress.kubernetes.io/backend-protocol": "GRPC", "cert-manager.io/cluster-issuer": "letsencrypt"],
                                host: "grpc.example.com", tls: "grpc-tls")
            + Self.ingress("secure", annotations: ["nginx.ingress.kubernetes.io/backend-protocol": "HTTPS", "nginx.ingress.kubernetes.io/proxy-ssl-name": "internal.secure",
                                                   "nginx.ingress.kubernetes.io/x-forwarded-prefix": "/secure"], host: "secure.example.com")
            + Self.ingress("vault", annotations: ["nginx.ingress.kubernetes.io/ssl-passthrough": "true"], host: "vault.example.com")
            + Self.ingress("moved", annotations: ["nginx.ingress.kubernetes.io/temporal-redirect": "https://tmp.example.com/", "nginx.ingress.kubernetes.io/use-regex": "true"],
                           host: "moved.example.com", paths: "[{path: \"/docs/[a-z]+\", pathType: ImplementationSpecific, backend: {service: {name: docs, port: {number: 80}}}}]")
        let (migration, verification, output) = Self.verify(yaml)
        #expect(verification.loadErrors.isEmpty, "\(verification.loadErrors)")
        #expect(verification.differences.isEmpty, "\(verification.differences.map(\.description).joined(separator: "\n"))")

        let gateway = try Self.documents(output, kind: "Gateway").first
        #expect((gateway?["metadata"] as? [String: Any])?["annotations"] as? [String: String] == ["cert-manager.io/cluster-issuer": "letsencrypt"],
                "cert-manager's Gateway support reads the issuer from the Gateway")
        let listeners = (Self.spec(gateway)["listeners"] as? [[String: Any]] ?? []).map { "\($0["name"]!) \($0["protocol"]!) \($0["port"]!)" }
        #expect(listeners == ["http HTTP 80", "https-grpc-example-com HTTPS 443", "tls-passthrough-vault-example-com TLS 443"])

        let grpc = try Self.documents(output, kind: "GRPCRoute")
        #expect(grpc.map { ($0["metadata"] as? [String: Any])?["name"] as? String } == ["grpc-grpc-example-com"])
        #expect(output.contains("name: grpc-grpc-example-com-ssl-redirect"), "TLS hosts redirect plain HTTP, as ingress-nginx does by default")

        let policy = try Self.documents(output, kind: "BackendTLSPolicy").first
        let validation = Self.spec(policy)["validation"] as? [String: Any]
        #expect(validation?["hostname"] as? String == "internal.secure", "proxy-ssl-name is the name the backend's certificate is checked against")
        #expect((Self.spec(policy)["targetRefs"] as? [[String: Any]])?.first?["name"] as? String == "app", "the Service behind the HTTPS backend")
        #expect(output.contains("name: X-Forwarded-Prefix\n          value: /secure"))

        let tlsRoutes = try Self.documents(output, kind: "TLSRoute")
        #expect(tlsRoutes.count == 1)
        #expect(output.contains("name: vault-vault-example-com-http"), "passthrough leaves port 80 served, as in ingress-nginx")
        let passthrough = migration.report.first { $0.key.hasSuffix("ssl-passthrough") }
        #expect(passthrough?.description.contains("partly mapped") == true)

        #expect(output.contains("statusCode: 302") && output.contains("hostname: tmp.example.com"))
        #expect(verification.probes >= 20)
    }

    @Test func traefikEntryPointsChooseListeners() throws {
        let traefik = "traefik.ingress.kubernetes.io/"
        func ingress(_ name: String, _ annotations: [String: String], tls: String?) -> String {
            Self.ingress(name, annotations: annotations, host: "\(name).example.com", tls: tls).replacingOccurrences(of: "ingressClassName: nginx", with: "ingressClassName: traefik")
        }
        let yaml = ingress("plain", [traefik + "router.entrypoints": "web"], tls: "plain-tls")
            + ingress("secure", [traefik + "router.entrypoints": "websecure", traefik + "router.tls": "true"], tls: "secure-tls")
            + ingress("nocert", [traefik + "router.entrypoints": "websecure", traefik + "router.tls": "true",
                                 traefik + "router.middlewares": "apps-auth@kubernetescrd"], tls: nil)
        let (migration, verification, output) = Self.verify(yaml)
        let routes = try Self.documents(output, kind: "HTTPRoute").map { route in
            let name = (route["metadata"] as? [String: Any])?["name"] as? String ?? "?"
            let sections = (Self.spec(route)["parentRefs"] as? [[String: Any]] ?? []).compactMap { $0["sectionName"] as? String }
            return "\(name) → \(sections.joined(separator: ","))"
        }
        #expect(routes.contains("plain-plain-example-com → http"), "web only: no HTTPS listener although the Ingress has a tls section")
        #expect(routes.contains("secure-secure-example-com → https-secure-example-com"), "websecure only: not on port 80")
        #expect(!routes.contains { $0.hasPrefix("nocert-") }, "websecure without a certificate has no listener to attach to")
        let nocert = migration.report.filter { $0.ingress.name == "nocert" }.map(\.description)
        #expect(nocert.contains { $0.contains("router.tls: not mapped") && $0.contains("no tls section") })
        #expect(nocert.contains { $0.contains("router.middlewares: not mapped") && $0.contains("apps-auth@kubernetescrd") })
        // archway's Ingress reading is ingress-nginx's; --verify shows where Traefik-only settings change routing.
        #expect(verification.differences.contains { $0.probe.hasPrefix("http://nocert.example.com/") })
    }

    @Test func inventoryCountsClassesAnnotationsAndCrossNamespaceNeeds() throws {
        let classes = """
        ---
        apiVersion: networking.k8s.io/v1
        kind: IngressClass
        metadata: {name: nginx}
        spec: {controller: k8s.io/ingress-nginx}

        """
        let yaml = classes
            + Self.ingress("a", namespace: "shop", annotations: ["nginx.ingress.kubernetes.io/rewrite-target": "/$2", "nginx.ingress.kubernetes.io/server-snippet": "x"], tls: "a-tls")
            + Self.ingress("b", namespace: "shop", annotations: ["nginx.ingress.kubernetes.io/rewrite-target": "/", "nginx.ingress.kubernetes.io/ssl-redirect": "false"])
            + Self.ingress("c", namespace: "blog", annotations: ["kubernetes.io/ingress.class": "nginx",
                                                                 "kubectl.kubernetes.io/last-applied-configuration": "{}"], host: "blog.example.com")
                .replacingOccurrences(of: "  ingressClassName: nginx\n", with: "  defaultBackend: {service: {name: blog, port: {number: 8080}}}\n")
        let (snapshot, _) = Self.snapshot(yaml)
        let inventory = IngressInventory(snapshot, gatewayNamespace: "gateways")
        #expect(inventory.total == 3)
        #expect(inventory.classes.map { "\($0.namespace) \($0.ingressClass) \($0.controller) \($0.ingresses)" }
                == ["blog nginx k8s.io/ingress-nginx 1", "shop nginx k8s.io/ingress-nginx 2"],
                "the legacy ingress.class annotation counts as the class")
        let uses = Dictionary(uniqueKeysWithValues: inventory.annotations.map { ($0.key, "\($0.count) \($0.support)") })
        // The inventory marks each annotation as `migrate` reports it, never a second opinion.
        let migration = IngressConverter.convert(snapshot)
        for use in inventory.annotations {
            let verdicts = migration.report.filter { $0.key == use.key }.map(\.description)
            let expected = verdicts.allSatisfy { $0.contains("nothing to convert") } ? "nothing to convert"
                : verdicts.contains { $0.contains(": not mapped: ") } ? "not convertible"
                : verdicts.contains { $0.contains(": partly mapped: ") } ? "partly" : "convertible"
            #expect(use.support == expected, "\(use.key): inventory \(use.support), migrate \(verdicts)")
        }
        #expect(uses["nginx.ingress.kubernetes.io/rewrite-target"] == "2 convertible", "these two rewrites convert exactly, as migrate reports")
        #expect(uses["nginx.ingress.kubernetes.io/ssl-redirect"] == "1 convertible")
        #expect(uses["nginx.ingress.kubernetes.io/server-snippet"] == "1 not convertible")
        #expect(uses["kubectl.kubernetes.io/last-applied-configuration"] == "1 nothing to convert", "kubectl's record is not a routing setting")
        let blog = inventory.ingresses.first { $0.ingress == "blog/c" }
        #expect(blog?.defaultBackend?.contains("blog:8080") == true)
        let shopA = inventory.ingresses.first { $0.ingress == "shop/a" }
        #expect(shopA?.tlsSecrets == ["shop/a-tls"])
        #expect(shopA?.crossNamespace.first?.contains("ReferenceGrant for the Gateway in gateways") == true)
        let table = inventory.table()
        #expect(table.contains("INGRESSES: 3") && table.contains("nginx.ingress.kubernetes.io/"))
        let json = try JSONSerialization.jsonObject(with: Data(try inventory.json().utf8)) as? [String: Any]
        #expect(json?["total"] as? Int == 3)
    }

    @Test func corsAndAffinityBecomeTheFilterAndSessionPersistence() throws {
        let yaml = Self.ingress("web", annotations: [
            "nginx.ingress.kubernetes.io/enable-cors": "true", "nginx.ingress.kubernetes.io/cors-allow-origin": "https://app.example.com, https://*.example.org",
            "nginx.ingress.kubernetes.io/cors-allow-credentials": "false", "nginx.ingress.kubernetes.io/affinity": "cookie",
            "nginx.ingress.kubernetes.io/session-cookie-name": "route"])
        let (migration, verification, output) = Self.verify(yaml)
        #expect(verification.loadErrors.isEmpty && verification.differences.isEmpty, "archway accepts the CORS filter, so the rule is kept")
        let rule = (Self.spec(try Self.documents(output, kind: "HTTPRoute").first)["rules"] as? [[String: Any]])?.first
        let cors = (rule?["filters"] as? [[String: Any]])?.first { $0["type"] as? String == "CORS" }?["cors"] as? [String: Any]
        #expect(cors?["allowOrigins"] as? [String] == ["https://app.example.com", "https://*.example.org"])
        #expect(cors?["allowCredentials"] as? Bool == false)
        #expect(cors?["maxAge"] as? Int == 1_728_000, "ingress-nginx's default max age is kept")
        #expect((cors?["allowMethods"] as? [String])?.contains("PATCH") == true)
        let session = rule?["sessionPersistence"] as? [String: Any]
        #expect(session?["sessionName"] as? String == "route" && session?["type"] as? String == "Cookie")
        #expect(migration.report.first { $0.key.hasSuffix("/affinity") }?.description.contains("sticks from then on") == true)
        #expect(migration.report.first { $0.key.hasSuffix("/enable-cors") }?.verdict == .mapped)
    }
}

/// ingress-nginx's auth, rate-limit, allow-list and body-size annotations become archway policies
/// attached to the converted route, which archway then accepts.
@Suite struct MigrateEdgePolicyTests {
    @Test func nginxEdgeAnnotationsBecomeAttachedPolicies() throws {
        let nginx = "nginx.ingress.kubernetes.io/"
        let yaml = MigrateTests.ingress("shop", annotations: [
            nginx + "limit-rps": "10", nginx + "limit-burst-multiplier": "3", nginx + "limit-rpm": "300",
            nginx + "whitelist-source-range": "10.0.0.0/8, 192.168.1.7", nginx + "denylist-source-range": "10.6.6.0/24",
            nginx + "proxy-body-size": "8m",
            nginx + "auth-type": "basic", nginx + "auth-secret": "shop-users", nginx + "auth-realm": "Shop staff",
            nginx + "auth-url": "http://auth.apps.svc:8080/check", nginx + "auth-response-headers": "X-User, X-Team",
        ]) + MigrateTests.ingress("api", annotations: [nginx + "auth-type": "basic", nginx + "auth-secret": "other/users",
                                                     nginx + "proxy-body-size": "0"], host: "api.example.com")
        let (migration, verification, output) = MigrateTests.verify(yaml)
        #expect(verification.loadErrors.isEmpty, "\(verification.loadErrors)")
        #expect(verification.differences.isEmpty)
        func policy(_ kind: String) throws -> [String: Any] {
            let found = try MigrateTests.documents(output, kind: kind)
            #expect(found.count == 1, "one \(kind): \(found.count)")
            let spec = MigrateTests.spec(found.first)
            let targets = spec["targetRefs"] as? [[String: String]]
            #expect(targets == [["group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "shop-app-example-com"]], "\(kind) targets")
            return spec
        }
        let rate = try policy("RateLimit")
        #expect(rate["requests"] as? Int == 10 && rate["unit"] as? String == "Second" && rate["burst"] as? Int == 30)
        #expect((rate["key"] as? [String: String]) == ["type": "ClientIP"])
        let list = try policy("IPAllowList")
        #expect(list["allow"] as? [String] == ["10.0.0.0/8", "192.168.1.7"] && list["deny"] as? [String] == ["10.6.6.0/24"])
        #expect(try policy("BodySize")["maxRequestBody"] as? String == "8Mi")
        let basic = try policy("BasicAuth")
        #expect(basic["secretRef"] as? [String: String] == ["name": "shop-users", "key": "auth"] && basic["realm"] as? String == "Shop staff")
        let forward = try policy("ForwardAuth")
        #expect(forward["url"] as? String == "http://auth.apps.svc:8080/check" && forward["responseHeaders"] as? [String] == ["X-User", "X-Team"])

        let report = Dictionary(uniqueKeysWithValues: migration.report.map { ("\($0.ingress.name) \($0.key.replacingOccurrences(of: nginx, with: ""))", $0.description) })
        #expect(report["shop limit-rps"]?.contains("partly mapped: RateLimit shop-ratelimit") == true && report["shop limit-rps"]?.contains("503") == true)
        #expect(report["shop limit-rpm"]?.contains("not mapped: ingress-nginx applied both limits") == true)
        #expect(report["shop auth-secret"]?.contains("plain-text, DES crypt and yescrypt lines do not") == true)
        #expect(report["shop proxy-body-size"]?.contains("413 above 8Mi") == true)
        // A Secret in another namespace cannot be read by a policy, and size 0 means no limit: no policies for `api`.
        #expect(report["api auth-secret"]?.contains("not mapped: auth-secret must be a Secret in the Ingress's namespace") == true)
        #expect(report["api proxy-body-size"] == "Ingress apps/api: \(nginx)proxy-body-size: mapped")
        #expect(!output.contains("name: api-basicauth") && !output.contains("name: api-bodysize"))

        // archway accepts what was generated once the Secret it names exists.
        let secret = "---\napiVersion: v1\nkind: Secret\nmetadata: {name: shop-users, namespace: apps}\nstringData: {auth: \"ann:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\"}\n"
        // The output carries its own GatewayClass: adding one would be a second definition.
        let loaded = ManifestLoader().parse(text: output + secret, file: "generated.yaml")
        #expect(loaded.errors.isEmpty, "\(loaded.errors)")
        let statuses = Translator().translate(ResourceSnapshot(loaded.resources.map(\.resource))).statuses.edgePolicies
        for kind in [EdgePolicy.Kind.rateLimit, .ipAllowList, .bodySize, .basicAuth, .forwardAuth] {
            let conditions = statuses[kind]?[NamespacedName("apps", "shop-\(kind.rawValue.lowercased())")]?.ancestors.flatMap(\.conditions) ?? []
            #expect(!conditions.isEmpty && conditions.allSatisfy { $0.status == "True" }, "\(kind.rawValue): \(conditions.map(\.message))")
        }
    }
}
