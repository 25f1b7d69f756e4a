import GatewayAPI
import Migrate
import Testing
import Yams

/// `migrate --verify` proves rather than reassures: the issue's ingress-nginx Ingress (host-level
/// regex mode, `rewrite-target: /$2`, a header canary, a tls Secret missing from the input) and ten
/// more written to trip it. Each either converts equivalently or differs exactly where the
/// verifier says, with the accepted differences named; each guard then breaks the generated
/// manifests the way a faulty conversion would and expects the verifier to see it.
@Suite struct MigrateVerifyTests {
    static let nginx = "nginx.ingress.kubernetes.io/"
    static let useRegex = [nginx + "use-regex": "true"]

    /// An Ingress on one host; `paths`: (path, pathType, Service), each Service on port 80.
    static func ingress(_ name: String, host: String, annotations: [String: String] = [:], paths: [(String, String, String)],
                        tls: String? = nil, defaultBackend: String? = nil) -> String {
        let notes = annotations.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \"\($0.value)\"" }.joined(separator: ", ")
        let rules = paths.map { "{path: \"\($0.0)\", pathType: \($0.1), backend: {service: {name: \($0.2), port: {number: 80}}}}" }
        return """
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: \(name), namespace: apps, annotations: {\(notes)}}
        spec:
          ingressClassName: nginx
          \(tls.map { "tls: [{hosts: [\(host)], secretName: \($0)}]" } ?? "")
          \(defaultBackend.map { "defaultBackend: {service: {name: \($0), port: {number: 80}}}" } ?? "")
          \(paths.isEmpty ? "" : "rules: [{host: \(host), http: {paths: [\(rules.joined(separator: ", "))]}}]")

        """
    }

    /// The generated manifests with the rules `drop` picks removed from the route named `route`.
    static func removingRules(_ output: String, route: String, where drop: ([String: Any]) -> Bool) throws -> String {
        var removed = 0
        let documents = try Yams.load_all(yaml: output).compactMap { $0 as? [String: Any] }.map { document -> String in
            var document = document
            if (document["metadata"] as? [String: Any])?["name"] as? String == route, var spec = document["spec"] as? [String: Any],
               let rules = spec["rules"] as? [[String: Any]] {
                spec["rules"] = rules.filter { !drop($0) }
                removed += rules.count - (spec["rules"] as! [[String: Any]]).count
                document["spec"] = spec
            }
            return try Yams.dump(object: document)
        }
        #expect(removed > 0, "the guard must break something in \(route)")
        return documents.joined(separator: "---\n")
    }

    static func backend(_ rule: [String: Any]) -> String? {
        (rule["backendRefs"] as? [[String: Any]])?.first?["name"] as? String
    }

    static func forward(_ service: String, _ path: String) -> String { "forward to apps/\(service):80 with path \(path)" }

    // MARK: the issue's Ingress

    static let shop = """
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: shop
          namespace: shop
          annotations: {nginx.ingress.kubernetes.io/use-regex: "true", nginx.ingress.kubernetes.io/rewrite-target: /$2}
        spec:
          ingressClassName: nginx
          tls: [{hosts: [shop.example.com], secretName: shop-tls}]
          rules:
          - host: shop.example.com
            http:
              paths:
              - {path: /api(/|$)(.*), pathType: ImplementationSpecific, backend: {service: {name: api, port: {number: 80}}}}
              - {path: /v2/(users|orders)/(.*), pathType: ImplementationSpecific, backend: {service: {name: accounts, port: {number: 80}}}}
              - {path: /()(.*), pathType: ImplementationSpecific, backend: {service: {name: web, port: {number: 80}}}}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: shop-canary
          namespace: shop
          annotations:
            nginx.ingress.kubernetes.io/canary: "true"
            nginx.ingress.kubernetes.io/canary-by-header: X-Canary
            nginx.ingress.kubernetes.io/use-regex: "true"
            nginx.ingress.kubernetes.io/rewrite-target: /$2
        spec:
          ingressClassName: nginx
          rules:
          - host: shop.example.com
            http:
              paths:
              - {path: /api(/|$)(.*), pathType: ImplementationSpecific, backend: {service: {name: api-canary, port: {number: 80}}}}

        """

    @Test func issueExampleRoutesLikeTheIngressExceptWhereAccepted() throws {
        let (_, verification, output) = MigrateTests.verify(Self.shop)
        #expect(verification.loadErrors.isEmpty && verification.routeProblems.isEmpty, "\(verification.loadErrors) \(verification.routeProblems)")
        #expect(verification.substitutedSecrets.count == 1)
        #expect(verification.substitutedSecrets.first?.hasPrefix("Secret shop/shop-tls (tls of Ingress shop/shop) is not in the input") == true)
        #expect(verification.differences.isEmpty, "\(verification.differences.map(\.description).joined(separator: "\n"))")

        // The issue's three requests, over HTTPS now that a placeholder stands in for the certificate.
        let orders = verification.outcomes("https://shop.example.com/api/orders")
        #expect(orders?.ingress == "forward to shop/api:80 with path /orders" && orders?.gateway == orders?.ingress, "\(String(describing: orders))")
        let canary = verification.outcomes("https://shop.example.com/api/orders", headers: ["X-Canary": "always"])
        #expect(canary?.ingress == "forward to shop/api-canary:80 with path /orders" && canary?.gateway == canary?.ingress)
        let upper = verification.outcomes("https://shop.example.com/API/v1")
        #expect(upper?.ingress == "forward to shop/api:80 with path /v1" && upper?.gateway == "forward to shop/web:80 with path /API/v1")
        let users = verification.outcomes("https://shop.example.com/v2/users/42")
        #expect(users?.ingress == "forward to shop/accounts:80 with path /42" && users?.gateway == "forward to shop/accounts:80 with path /v2/users/42")

        // Those two differences are named, each with the probes that show it.
        let accepted = verification.accepted.map { "\($0.difference.path) \($0.difference.kind)" }.sorted()
        #expect(accepted == ["/api(/|$)(.*) caseSensitive(prefix: \"/api\")", "/v2/(users|orders)/(.*) pathNotRewritten"])
        let shown = verification.accepted.flatMap(\.probes).map(\.probe)
        #expect(shown.contains { $0.hasPrefix("https://shop.example.com/API") } && shown.contains { $0.hasPrefix("https://shop.example.com/v2/users/") })
        #expect(shown.contains { $0.hasSuffix("[x-canary: always]") }, "the canary's header is probed with each spelling")

        // The reported defect: the catch-all as a regex outranks PathPrefix /api. The verifier must see it.
        let regexCatchAll = output.replacingOccurrences(of: "type: PathPrefix\n        value: /\n", with: "type: RegularExpression\n        value: (?i)(?:/()(.*)).*\n")
        #expect(regexCatchAll != output)
        let (_, broken, _) = MigrateTests.verify(Self.shop, generated: regexCatchAll)
        let defect = broken.differences.first { $0.probe == "https://shop.example.com/api/x" }
        #expect(defect?.ingress == "forward to shop/api:80 with path /x" && defect?.gateway == "forward to shop/web:80 with path /api/x")
        #expect(defect?.ingressRule == "Ingress shop/shop host shop.example.com path /api(/|$)(.*)")
        #expect(defect?.gatewayRule.hasPrefix("route shop/shop-shop-example-com rule ") == true)
    }

    // MARK: ten more, written to trip the verifier

    /// `use-regex` on one Ingress puts the host's other Ingresses in regex mode too: Exact is lost,
    /// Prefix "/api" becomes "^/api/" and "^/api", and nginx tries them longest first.
    @Test func plainIngressOnARegexHostIsReadAsRegexes() throws {
        let yaml = Self.ingress("regex", host: "mix.example.com", annotations: Self.useRegex, paths: [("/api/v[0-9]+", "ImplementationSpecific", "api")])
            + Self.ingress("plain", host: "mix.example.com", paths: [("/api", "Prefix", "legacy"), ("/", "Prefix", "web"), ("/health", "Exact", "health")])
        let (_, verification, output) = MigrateTests.verify(yaml)
        #expect(verification.differences.isEmpty && verification.accepted.isEmpty, "\(verification.differences.map(\.description))")
        for (path, service) in [("/healthz", "health"), ("/API/V2/x", "api"), ("/apix", "legacy"), ("/api/vx", "legacy"), ("/other", "web")] {
            let outcome = verification.outcomes("http://mix.example.com" + path)
            #expect(outcome?.ingress == Self.forward(service, path) && outcome?.gateway == outcome?.ingress, "\(path): \(String(describing: outcome))")
        }
        #expect(!output.contains("type: Exact"))
        let exact = output.replacingOccurrences(of: "type: RegularExpression\n        value: (?i)(?:/health).*", with: "type: Exact\n        value: /health")
        let (_, broken, _) = MigrateTests.verify(yaml, generated: exact)
        #expect(!broken.differences.isEmpty && broken.differences.allSatisfy { $0.probe.lowercased().hasPrefix("http://mix.example.com/health") },
                "\(broken.differences.map(\.probe))")
    }

    /// Exact and Prefix on "/docs/", a shorter Prefix and an ImplementationSpecific string prefix:
    /// longest wins, and ingress-nginx's Prefix "/docs/" does not match "/docs" (accepted).
    @Test func exactAndPrefixWithTrailingSlashes() throws {
        let yaml = Self.ingress("docs", host: "docs.example.com", paths: [("/docs/", "Exact", "index"), ("/docs/", "Prefix", "docs"),
                                                                          ("/doc", "Prefix", "doc"), ("/docs/api", "ImplementationSpecific", "api")])
        let (migration, verification, output) = MigrateTests.verify(yaml)
        #expect(verification.differences.isEmpty, "\(verification.differences.map(\.description))")
        for (path, service) in [("/docs/", "index"), ("/docs/x", "docs"), ("/doc/x", "doc"), ("/docs/apix", "api")] {
            let outcome = verification.outcomes("http://docs.example.com" + path)
            #expect(outcome?.ingress == Self.forward(service, path) && outcome?.gateway == outcome?.ingress, "\(path): \(String(describing: outcome))")
        }
        #expect(verification.accepted.map(\.difference.kind) == [.prefixWithoutSlash("/docs")])
        #expect(verification.accepted.first?.probes.map(\.probe).contains("http://docs.example.com/docs") == true)
        // Without the acceptance the same probe is a difference: the label never hides one.
        let (snapshot, resources) = MigrateTests.snapshot(yaml)
        let unlabelled = MigrationVerifier.verify(input: snapshot, generated: output, inputResources: resources)
        #expect(unlabelled.differences.map(\.probe) == verification.accepted.first?.probes.map(\.probe))
        #expect(migration.accepted.count == 1)
        // ImplementationSpecific as PathPrefix would lose "/docs/apix".
        let segment = output.replacingOccurrences(of: "type: RegularExpression\n        value: /docs/api.*", with: "type: PathPrefix\n        value: /docs/api")
        #expect(MigrateTests.verify(yaml, generated: segment).1.differences.contains { $0.probe == "http://docs.example.com/docs/apix" })
    }

    /// Regex mode matches without case; the converted regexes must too.
    @Test func regexModeStaysCaseInsensitive() throws {
        let yaml = Self.ingress("case", host: "case.example.com", annotations: Self.useRegex,
                                paths: [("/Admin", "Prefix", "admin"), ("/static/.+\\\\.css", "ImplementationSpecific", "css"), ("/", "Prefix", "web")])
        let (_, verification, output) = MigrateTests.verify(yaml)
        #expect(verification.differences.isEmpty && verification.accepted.isEmpty, "\(verification.differences.map(\.description))")
        for (path, service) in [("/admin/users", "admin"), ("/ADMINISTRATOR", "admin"), ("/STATIC/site.CSS", "css"), ("/static/x.js", "web")] {
            let outcome = verification.outcomes("http://case.example.com" + path)
            #expect(outcome?.ingress == Self.forward(service, path) && outcome?.gateway == outcome?.ingress, "\(path): \(String(describing: outcome))")
        }
        let sensitive = output.replacingOccurrences(of: "(?i)", with: "")
        let broken = MigrateTests.verify(yaml, generated: sensitive).1.differences.map(\.probe)
        #expect(broken.contains { $0.hasPrefix("http://case.example.com/ADMIN") } && broken.contains { $0.hasPrefix("http://case.example.com/admin") })
    }

    /// Every alternative of a regex is probed, not only its literal prefix.
    @Test func everyAlternativeIsProbed() throws {
        let yaml = Self.ingress("alt", host: "alt.example.com", annotations: Self.useRegex,
                                paths: [("/(en|de|fr)/shop", "ImplementationSpecific", "shop"), ("/(en|de)/blog(/.*)?", "ImplementationSpecific", "blog"),
                                        ("/", "Prefix", "web")])
        let (_, verification, output) = MigrateTests.verify(yaml)
        #expect(verification.differences.isEmpty && verification.accepted.isEmpty, "\(verification.differences.map(\.description))")
        for (path, service) in [("/fr/shop", "shop"), ("/de/blog/x", "blog"), ("/fr/blog", "web")] {
            let outcome = verification.outcomes("http://alt.example.com" + path)
            #expect(outcome?.ingress == Self.forward(service, path) && outcome?.gateway == outcome?.ingress, "\(path): \(String(describing: outcome))")
        }
        let withoutFrench = output.replacingOccurrences(of: "en|de|fr", with: "en|de")
        #expect(withoutFrench != output)
        let broken = MigrateTests.verify(yaml, generated: withoutFrench).1.differences
        #expect(broken.contains { $0.probe.hasPrefix("http://alt.example.com/fr/shop") && $0.gateway.contains("apps/web:80") })
    }

    /// A rewrite built from two captures cannot be said with URLRewrite: routed alike, reported as
    /// accepted with every probe that shows it, and named in the annotation report.
    @Test func rewriteWithTwoCapturesIsAcceptedNotHidden() throws {
        let yaml = Self.ingress("users", host: "users.example.com", annotations: [Self.nginx + "rewrite-target": "/$2/$1"],
                                paths: [("/users/([0-9]+)/(profile|settings)", "ImplementationSpecific", "users"), ("/", "Prefix", "web")])
        let (migration, verification, output) = MigrateTests.verify(yaml)
        #expect(verification.differences.isEmpty, "\(verification.differences.map(\.description))")
        let outcome = verification.outcomes("http://users.example.com/users/7/settings")
        #expect(outcome?.ingress == Self.forward("users", "/settings/7") && outcome?.gateway == Self.forward("users", "/users/7/settings"))
        #expect(verification.accepted.map(\.difference.kind) == [.pathNotRewritten])
        let shown = verification.accepted.first?.probes ?? []
        #expect(shown.contains { $0.probe.hasPrefix("http://users.example.com/users/0/profile") })
        #expect(shown.contains { $0.probe.hasPrefix("http://users.example.com/USERS/") }, "case variants of a case-insensitive location")
        #expect(migration.report.contains { $0.key.hasSuffix("rewrite-target") && $0.description.contains("partly mapped: /users/([0-9]+)/(profile|settings): rewrite-target /$2/$1") })
        let (snapshot, resources) = MigrateTests.snapshot(yaml)
        let unlabelled = MigrationVerifier.verify(input: snapshot, generated: output, inputResources: resources)
        #expect(unlabelled.differences.map(\.probe) == shown.map(\.probe) && !shown.isEmpty)
    }

    /// canary-by-cookie becomes rules on the Cookie header, asked before the weight.
    @Test func canaryByCookieBeforeTheWeight() throws {
        let yaml = Self.ingress("main", host: "cookie.example.com", paths: [("/", "Prefix", "web")])
            + Self.ingress("main-canary", host: "cookie.example.com", annotations: [Self.nginx + "canary": "true", Self.nginx + "canary-by-cookie": "beta",
                                                                                 Self.nginx + "canary-weight": "10"],
                           paths: [("/", "Prefix", "web-beta")])
        let (migration, verification, output) = MigrateTests.verify(yaml)
        #expect(verification.differences.isEmpty && verification.accepted.isEmpty, "\(verification.differences.map(\.description))")
        for (cookie, expected) in [("beta=always", Self.forward("web-beta", "/x")), ("a=1; beta=never", Self.forward("web", "/x")),
                                   ("beta=maybe", "forward to apps/web-beta:80 10% + apps/web:80 90% with path /x")] {
            let outcome = verification.outcomes("http://cookie.example.com/x", headers: ["Cookie": cookie])
            #expect(outcome?.ingress == expected && outcome?.gateway == expected, "\(cookie): \(String(describing: outcome))")
        }
        #expect(migration.report.contains { $0.key.hasSuffix("canary-by-cookie") && $0.verdict == .mapped })
        let weightOnly = try Self.removingRules(output, route: "main-cookie-example-com") { rule in
            ((rule["matches"] as? [[String: Any]])?.first?["headers"] as? [[String: Any]])?.first?["name"] as? String == "Cookie"
        }
        #expect(MigrateTests.verify(yaml, generated: weightOnly).1.differences.contains { $0.probe.contains("[cookie: ") })
    }

    /// app-root answers "/" before the HTTPS redirect, keeping the request's scheme.
    @Test func appRootRedirectsBeforeHTTPS() throws {
        let yaml = Self.ingress("root", host: "root.example.com", annotations: [Self.nginx + "app-root": "/app"], paths: [("/", "Prefix", "web")], tls: "root-tls")
        let (_, verification, output) = MigrateTests.verify(yaml)
        #expect(verification.differences.isEmpty && verification.accepted.isEmpty, "\(verification.differences.map(\.description))")
        for (url, expected) in [("http://root.example.com/", "redirect 302 to http://root.example.com/app"),
                                ("https://root.example.com/", "redirect 302 to https://root.example.com/app"),
                                ("http://root.example.com/x", "redirect 308 to https://root.example.com/x")] {
            let outcome = verification.outcomes(url)
            #expect(outcome?.ingress == expected && outcome?.gateway == expected, "\(url): \(String(describing: outcome))")
        }
        let redirectOnly = try Self.removingRules(output, route: "root-root-example-com-ssl-redirect") { rule in
            ((rule["matches"] as? [[String: Any]])?.first?["path"] as? [String: Any])?["type"] as? String == "Exact"
        }
        #expect(MigrateTests.verify(yaml, generated: redirectOnly).1.differences.map(\.probe).contains("http://root.example.com/"))
    }

    /// A tls Secret missing from the input: HTTPS is compared with a placeholder, and the report says so.
    @Test func tlsWithoutItsSecretIsComparedOverHTTPS() throws {
        let yaml = Self.ingress("tls", host: "tls.example.com", paths: [("/", "Prefix", "web"), ("/api", "Prefix", "api")], tls: "tls-cert")
        let (_, verification, output) = MigrateTests.verify(yaml)
        #expect(verification.differences.isEmpty && verification.accepted.isEmpty, "\(verification.differences.map(\.description))")
        #expect(verification.substitutedSecrets == ["Secret apps/tls-cert (tls of Ingress apps/tls) is not in the input: HTTPS routing compared as if it were there"])
        let outcome = verification.outcomes("https://tls.example.com/api/x")
        #expect(outcome?.ingress == Self.forward("api", "/api/x") && outcome?.gateway == outcome?.ingress)
        // Without the placeholder both sides answered every HTTPS probe with 404 and this went unseen.
        let noAPI = try Self.removingRules(output, route: "tls-tls-example-com") { Self.backend($0) == "api" }
        let broken = MigrateTests.verify(yaml, generated: noAPI).1.differences
        #expect(broken.contains { $0.probe == "https://tls.example.com/api/x" || $0.probe == "https://tls.example.com/api/deeper/page" })
        #expect(broken.allSatisfy { $0.probe.hasPrefix("https://") }, "cleartext is redirected on both sides")
    }

    /// An Ingress's defaultBackend answers what its hosts' paths leave unmatched; only an Ingress
    /// without rules makes it the catch-all.
    @Test func defaultBackendsOfIngressesWithAndWithoutRules() throws {
        let yaml = Self.ingress("def", host: "def.example.com", paths: [("/api", "Prefix", "api")], defaultBackend: "fallback")
            + Self.ingress("catchall", host: "-", paths: [], defaultBackend: "everything")
        let (_, verification, output) = MigrateTests.verify(yaml)
        #expect(verification.differences.isEmpty && verification.accepted.isEmpty, "\(verification.differences.map(\.description))")
        for (host, path, service) in [("def.example.com", "/other", "fallback"), ("def.example.com", "/api/x", "api"),
                                      ("unlisted-host.example", "/other", "everything")] {
            let outcome = verification.outcomes("http://\(host)\(path)")
            #expect(outcome?.ingress == Self.forward(service, path) && outcome?.gateway == outcome?.ingress, "\(host)\(path): \(String(describing: outcome))")
        }
        let noFallback = try Self.removingRules(output, route: "def-def-example-com") { Self.backend($0) == "fallback" }
        let broken = MigrateTests.verify(yaml, generated: noFallback).1.differences
        #expect(broken.contains { $0.probe == "http://def.example.com/" && $0.ingress == Self.forward("fallback", "/") })
    }

    /// permanent-redirect with its code: every path answers the same redirect.
    @Test func permanentRedirectKeepsItsCode() throws {
        let yaml = Self.ingress("moved", host: "old.example.com", annotations: [Self.nginx + "permanent-redirect": "https://new.example.com/landing",
                                                                                Self.nginx + "permanent-redirect-code": "308"],
                                paths: [("/old", "Prefix", "web"), ("/", "Prefix", "web")])
        let (_, verification, output) = MigrateTests.verify(yaml)
        #expect(verification.differences.isEmpty && verification.accepted.isEmpty, "\(verification.differences.map(\.description))")
        let outcome = verification.outcomes("http://old.example.com/old/x")
        #expect(outcome?.ingress == "redirect 308 to https://new.example.com/landing" && outcome?.gateway == outcome?.ingress,
                "\(String(describing: outcome))")
        let wrongCode = output.replacingOccurrences(of: "statusCode: 308", with: "statusCode: 301")
        #expect(MigrateTests.verify(yaml, generated: wrongCode).1.differences.count == verification.probes)
    }
}
