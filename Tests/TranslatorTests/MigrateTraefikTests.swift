import GatewayAPI
import Migrate
import Testing
import Translator
import Yams

/// `archway migrate` for Traefik Ingresses with Middlewares: Traefik's string-prefix paths, each
/// middleware kind as a filter, a rule's retry or an archway policy, and what both readings do with
/// requests (`--verify`).
@Suite struct MigrateTraefikTests {
    typealias NIC = MigrateNginxIncTests
    static let traefik = "traefik.ingress.kubernetes.io/"

    static func ingress(_ name: String, middlewares: [String], paths: [(String, String, String)], extra: [String: String] = [:], tls: Bool = false) -> String {
        var annotations = extra
        if !middlewares.isEmpty { annotations[traefik + "router.middlewares"] = middlewares.map { "apps-\($0)@kubernetescrd" }.joined(separator: ",") }
        return NIC.ingress(name, host: "web.example.com", annotations: annotations, paths: paths, tls: tls)
            .replacingOccurrences(of: "ingressClassName: nginx", with: "ingressClassName: traefik")
    }

    static func middleware(_ name: String, _ spec: String) -> String {
        "---\napiVersion: traefik.io/v1alpha1\nkind: Middleware\nmetadata: {name: \(name), namespace: apps}\nspec: \(spec)\n"
    }

    @Test func prefixPathsAreTraefikStringPrefixes() throws {
        let (_, verification, _) = try MigrateKongTests.convert(Self.ingress("web", middlewares: [], paths: [("/v1", "Prefix", "api"), ("/", "Prefix", "site")]))
        NIC.expectEquivalent(verification)
        #expect(verification.outcomes("http://web.example.com/v11")?.ingress == "forward to apps/api:80 with path /v11")
        #expect(verification.outcomes("http://web.example.com/v11")?.gateway == "forward to apps/site:80 with path /v11")
        #expect(verification.accepted.contains { $0.difference.kind == .segmentPrefix("/v1") && !$0.probes.isEmpty })
    }

    @Test func pathMiddlewaresBecomeURLRewrites() throws {
        let yaml = Self.middleware("strip", "{stripPrefix: {prefixes: [/api]}}")
            + Self.middleware("add", "{addPrefix: {prefix: /v2}}")
            + Self.middleware("replace", "{replacePath: {path: /status}}")
            + Self.middleware("regex", "{replacePathRegex: {regex: \"^/old/(.*)\", replacement: \"/new/$1\"}}")
            + Self.ingress("strip", middlewares: ["strip"], paths: [("/api", "Prefix", "api")])
            + Self.ingress("add", middlewares: ["add"], paths: [("/users", "Prefix", "users")]).replacingOccurrences(of: "web.example.com", with: "add.example.com")
            + Self.ingress("replace", middlewares: ["replace"], paths: [("/health", "Exact", "health")]).replacingOccurrences(of: "web.example.com", with: "replace.example.com")
            + Self.ingress("regex", middlewares: ["regex"], paths: [("/old", "Prefix", "legacy")]).replacingOccurrences(of: "web.example.com", with: "regex.example.com")
        let (migration, verification, _) = try MigrateKongTests.convert(yaml)
        NIC.expectEquivalent(verification)
        let stripped = verification.outcomes("http://web.example.com/api/users")
        #expect(stripped?.gateway == "forward to apps/api:80 with path /users, x-forwarded-prefix: /api" && stripped?.ingress == stripped?.gateway)
        #expect(verification.outcomes("http://add.example.com/users/7")?.gateway == "forward to apps/users:80 with path /v2/users/7")
        #expect(verification.outcomes("http://add.example.com/users/7")?.ingress == "forward to apps/users:80 with path /v2/users/7")
        #expect(verification.outcomes("http://replace.example.com/health")?.gateway == "forward to apps/health:80 with path /status")
        // A regex rewrite Gateway API cannot say: the backend gets the path as is, and the verifier says why.
        #expect(verification.outcomes("http://regex.example.com/old/x")?.ingress == "forward to apps/legacy:80 with path /new/x")
        #expect(verification.outcomes("http://regex.example.com/old/x")?.gateway == "forward to apps/legacy:80 with path /old/x")
        #expect(verification.accepted.contains { $0.difference.kind == .pathNotRewritten && $0.difference.path == "/old" && !$0.probes.isEmpty })
        let line = migration.report.first { $0.ingress.name == "regex" && $0.key == Self.traefik + "router.middlewares" }?.description ?? ""
        #expect(line.contains("apps-regex@kubernetescrd (replacePathRegex): not converted"))
    }

    @Test func headersRedirectAndRetry() throws {
        let yaml = Self.middleware("headers", """
            {headers: {customRequestHeaders: {X-Team: web, X-Debug: ""}, customResponseHeaders: {Server: ""}, frameDeny: true, \
            accessControlAllowOriginList: ["https://app.example.com"], accessControlAllowMethods: [GET]}}
            """)
            + Self.middleware("https", "{redirectScheme: {scheme: https, permanent: true}}")
            + Self.middleware("retry", "{retry: {attempts: 3, initialInterval: 100ms}}")
            + Self.ingress("web", middlewares: ["headers", "https", "retry"], paths: [("/", "Prefix", "site")], tls: true)
        let (migration, verification, documents) = try MigrateKongTests.convert(yaml)
        NIC.expectEquivalent(verification)
        #expect(verification.outcomes("http://web.example.com/a")?.gateway == "redirect 301 to https://web.example.com/a")
        let served = verification.outcomes("https://web.example.com/a")
        #expect(served?.gateway == "forward to apps/site:80 with path /a, x-team: web; response sets x-frame-options: DENY; response drops server")
        #expect(served?.ingress == served?.gateway)
        let route = try #require(NIC.document(documents, kind: "HTTPRoute", name: "web-web-example-com"))
        let rule = try #require(((route["spec"] as? [String: Any])?["rules"] as? [[String: Any]])?.first)
        let retry = rule["retry"] as? [String: Any]
        #expect(retry?["attempts"] as? Int == 2 && retry?["backoff"] as? String == "100ms", "Traefik's 3 attempts are 2 retries")
        #expect((rule["filters"] as? [[String: Any]])?.contains { $0["type"] as? String == "CORS" } == true)
        let line = migration.report.first { $0.key == Self.traefik + "router.middlewares" }?.description ?? ""
        #expect(line.contains("partly mapped:") && line.contains("apps-https@kubernetescrd (redirectScheme): {route}-ssl-redirect with 301"))
    }

    @Test func redirectRegexOfAWholeHostIsARequestRedirect() throws {
        let yaml = Self.middleware("to-apex", "{redirectRegex: {regex: \"^https?://web\\\\.example\\\\.com/(.*)\", replacement: \"https://example.com/${1}\", permanent: true}}")
            + Self.middleware("to-https", "{redirectRegex: {regex: \"^http://old\\\\.example\\\\.com/(.*)\", replacement: \"https://old.example.com/$1\"}}")
            + Self.middleware("rewrite-ids", "{redirectRegex: {regex: \"^https://web.example.com/users/([0-9]+)\", replacement: \"https://web.example.com/u/$1\"}}")
            + Self.ingress("web", middlewares: ["to-apex"], paths: [("/", "Prefix", "site")], tls: true)
            + Self.ingress("old", middlewares: ["to-https"], paths: [("/", "Prefix", "site")], tls: true).replacingOccurrences(of: "web.example.com", with: "old.example.com")
            + Self.ingress("ids", middlewares: ["rewrite-ids"], paths: [("/", "Prefix", "site")]).replacingOccurrences(of: "web.example.com", with: "ids.example.com")
        let (migration, verification, _) = try MigrateKongTests.convert(yaml)
        NIC.expectEquivalent(verification)
        for url in ["http://web.example.com/a?b=1", "https://web.example.com/a?b=1"] {
            let outcome = verification.outcomes(url)
            #expect(outcome?.ingress == "redirect 301 to https://example.com/a?b=1" && outcome?.gateway == outcome?.ingress, "\(url)")
        }
        // From cleartext only, to https on the same host: redirectScheme, 302 as it is not permanent.
        #expect(verification.outcomes("http://old.example.com/a")?.gateway == "redirect 302 to https://old.example.com/a")
        #expect(verification.outcomes("https://old.example.com/a")?.gateway == "forward to apps/site:80 with path /a")
        let line = migration.report.first { $0.ingress.name == "ids" && $0.key == Self.traefik + "router.middlewares" }?.description ?? ""
        #expect(line.contains("(redirectRegex): not converted: only a redirect of a whole host keeping the path"), "\(line)")
    }

    @Test func servedRewritesAreTraefiksRewrites() throws {
        let yaml = Self.middleware("v2", "{replacePathRegex: {regex: \"^/api\", replacement: /v2}}")
            + Self.middleware("strip", "{stripPrefix: {prefixes: [/api]}}") + Self.middleware("add", "{addPrefix: {prefix: /v3}}")
            + Self.ingress("regex", middlewares: ["v2"], paths: [("/api", "Prefix", "api")])
            + Self.ingress("chain", middlewares: ["strip", "add"], paths: [("/api", "Prefix", "api")]).replacingOccurrences(of: "web.example.com", with: "chain.example.com")
        let (_, verification, _) = try MigrateKongTests.convert(yaml)
        // Go's ReplaceAllString keeps what the regex did not match.
        #expect(verification.outcomes("http://web.example.com/api/users")?.ingress == "forward to apps/api:80 with path /v2/users")
        // stripPrefix then addPrefix, as Traefik chains them.
        #expect(verification.outcomes("http://chain.example.com/api/users")?.ingress == "forward to apps/api:80 with path /v3/users, x-forwarded-prefix: /api")
    }

    @Test func rateLimitPeriodsAreGoDurations() throws {
        let yaml = Self.middleware("hourly", "{rateLimit: {average: 100, period: 1h0m0s}}")
            + Self.middleware("odd", "{rateLimit: {average: 100, period: 1m30s}}")
            + Self.ingress("hourly", middlewares: ["hourly"], paths: [("/", "Prefix", "site")])
            + Self.ingress("odd", middlewares: ["odd"], paths: [("/", "Prefix", "site")]).replacingOccurrences(of: "web.example.com", with: "odd.example.com")
        let (migration, _, documents) = try MigrateKongTests.convert(yaml)
        let hourly = try #require(NIC.document(documents, kind: "RateLimit", name: "hourly-ratelimit"))
        #expect((hourly["spec"] as? [String: Any])?["unit"] as? String == "Hour")
        // 90 s is no unit RateLimit has: reported, never quietly made a per-second limit.
        #expect(NIC.document(documents, kind: "RateLimit", name: "odd-ratelimit") == nil)
        let line = migration.report.first { $0.ingress.name == "odd" && $0.key == Self.traefik + "router.middlewares" }?.description ?? ""
        #expect(line.contains("a period of 1m30s is not one second, minute or hour"), "\(line)")
    }

    @Test func accessMiddlewaresBecomePoliciesAndAreRefusedSideBySide() throws {
        let yaml = Self.middleware("auth", "{basicAuth: {secret: web-users, realm: Web}}")
            + Self.middleware("office", "{ipAllowList: {sourceRange: [10.0.0.0/8], ipStrategy: {depth: 1}}}")
            + Self.middleware("limit", "{rateLimit: {average: 50, period: 1m, burst: 80}}")
            + Self.middleware("gzip", "{compress: {}}")
            + Self.ingress("web", middlewares: ["auth", "office", "limit", "gzip", "missing"], paths: [("/", "Prefix", "site")])
        let (migration, _, documents) = try MigrateKongTests.convert(yaml)
        let auth = try #require(NIC.document(documents, kind: "BasicAuth", name: "web-basicauth"))
        #expect((auth["spec"] as? [String: Any])?["secretRef"] as? [String: String] == ["name": "web-users", "key": "users"])
        let allow = try #require(NIC.document(documents, kind: "IPAllowList", name: "web-ipallowlist"))
        #expect((allow["spec"] as? [String: Any])?["trustedProxyDepth"] as? Int == 1)
        let limit = try #require(NIC.document(documents, kind: "RateLimit", name: "web-ratelimit"))
        #expect((limit["spec"] as? [String: Any])?["unit"] as? String == "Minute" && (limit["spec"] as? [String: Any])?["burst"] as? Int == 80)
        let line = migration.report.first { $0.key == Self.traefik + "router.middlewares" }?.description ?? ""
        #expect(line.contains("apps-gzip@kubernetescrd (compress): not converted: the compress middleware has no archway equivalent"))
        #expect(line.contains("apps-missing@kubernetescrd: not converted: Middleware apps-missing is not in the input"))
        let (snapshot, _) = MigrateTests.snapshot(yaml)
        // Side by side, the access middlewares and the one missing from the input (it cannot be told
        // harmless) refuse the Ingress; compress and rateLimit keep no one out.
        #expect(IngressIntent.reading(snapshot.ingresses[0], in: snapshot).accessControl
                == ["auth", "office", "missing"].map { "\(Self.traefik)router.middlewares: apps-\($0)@kubernetescrd" })
    }
}
