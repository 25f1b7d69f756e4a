import GatewayAPI
import Migrate
import Testing
import Translator
import Yams

/// `archway migrate` for APISIX Ingress Controller (`k8s.apisix.apache.org/*`): the output, the
/// report lines, and what both readings do with requests (`--verify`).
@Suite struct MigrateAPISIXTests {
    typealias NIC = MigrateNginxIncTests

    static func apisix(_ name: String) -> String { "k8s.apisix.apache.org/" + name }

    static func ingress(_ name: String, host: String = "httpbin.example.com", annotations: [String: String] = [:],
                        paths: [(String, String, String)], tls: Bool = false) -> String {
        NIC.ingress(name, host: host, annotations: annotations, paths: paths, tls: tls)
            .replacingOccurrences(of: "ingressClassName: nginx", with: "ingressClassName: apisix")
    }

    static func convert(_ yaml: String) throws -> (Migration, Verification, [[String: Any]]) {
        let (migration, verification, output) = MigrateTests.verify(yaml)
        return (migration, verification, try Yams.load_all(yaml: output).compactMap { $0 as? [String: Any] })
    }

    static func rules(_ documents: [[String: Any]], route: String) -> [[String: Any]] {
        (NIC.document(documents, kind: "HTTPRoute", name: route)?["spec"] as? [String: Any])?["rules"] as? [[String: Any]] ?? []
    }

    @Test func apisixIsToldByClassControllerNameOrAnnotations() {
        func controller(_ yaml: String) -> IngressController {
            let (snapshot, _) = MigrateTests.snapshot(yaml)
            return IngressController.of(snapshot.ingresses[0], classes: snapshot.ingressClasses)
        }
        let named = NIC.ingress("a", paths: [("/", "Prefix", "app")]).replacingOccurrences(of: "ingressClassName: nginx", with: "ingressClassName: gw")
        let gwClass = "---\napiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: gw}\nspec: {controller: apisix.apache.org/apisix-ingress-controller}\n"
        #expect(controller(gwClass + named) == .apisix)
        #expect(controller(Self.ingress("a", paths: [("/", "Prefix", "app")])) == .apisix)
        #expect(controller(NIC.ingress("a", annotations: [Self.apisix("use-regex"): "true"], paths: [("/", "Prefix", "app")])) == .apisix)
    }

    @Test func pathsAreAPISIXURIs() throws {
        let (_, verification, documents) = try Self.convert(Self.ingress("web", paths: [
            ("/api", "Prefix", "api"), ("/docs/", "Prefix", "docs"), ("/static*", "ImplementationSpecific", "static"),
            ("/health", "ImplementationSpecific", "health"), ("/", "Prefix", "home"),
        ]))
        NIC.expectEquivalent(verification)
        let expected = ["/api/v1": "api", "/apix": "home", "/docs/x": "docs", "/staticfile": "static", "/health": "health", "/health/x": "home"]
        for (path, service) in expected {
            let outcome = verification.outcomes("http://httpbin.example.com\(path)")
            #expect(outcome?.ingress == "forward to apps/\(service):80 with path \(path)", "\(path)")
            #expect(outcome?.gateway == outcome?.ingress, "\(path)")
        }
        // Prefix "/docs/" is the URIs /docs/ and /docs/*: /docs itself is not APISIX's; PathPrefix takes it, and says so.
        #expect(verification.outcomes("http://httpbin.example.com/docs")?.ingress == "forward to apps/home:80 with path /docs")
        #expect(verification.accepted.contains { $0.difference.kind == .prefixWithoutSlash("/docs") && !$0.probes.isEmpty })
        let matches = Self.rules(documents, route: "web-httpbin-example-com").compactMap { ($0["matches"] as? [[String: Any]])?.first?["path"] as? [String: String] }
        #expect(matches.contains(["type": "Exact", "value": "/health"]) && matches.contains(["type": "RegularExpression", "value": "/static.*"]))
    }

    @Test func useRegexSearchesThePath() throws {
        let (migration, verification, _) = try Self.convert(Self.ingress("regex", annotations: [Self.apisix("use-regex"): "true"], paths: [
            ("/api/.*/action1", "ImplementationSpecific", "service1"), ("^/users/[0-9]+$", "ImplementationSpecific", "users"),
        ]))
        NIC.expectEquivalent(verification)
        // APISIX's `~~` searches: the regex may match anywhere in the path unless it anchors itself.
        #expect(verification.outcomes("http://httpbin.example.com/v2/api/x/action1/go")?.gateway == "forward to apps/service1:80 with path /v2/api/x/action1/go")
        #expect(verification.outcomes("http://httpbin.example.com/users/42")?.gateway == "forward to apps/users:80 with path /users/42")
        #expect(verification.outcomes("http://httpbin.example.com/x/users/42")?.ingress == "404 (no route)")
        #expect(NIC.line(migration, Self.apisix("use-regex")).contains("partly mapped: ImplementationSpecific paths became RegularExpression matches"))
    }

    @Test func redirects() throws {
        let https = try Self.convert(Self.ingress("web", annotations: [Self.apisix("http-to-https"): "true", Self.apisix("http-redirect"): "/elsewhere"],
                                                  paths: [("/sample", "Exact", "app")]))
        NIC.expectEquivalent(https.1)
        // Every cleartext request, TLS host or not, goes to https with 301; http-redirect is then ignored.
        #expect(https.1.outcomes("http://httpbin.example.com/sample")?.gateway == "redirect 301 to https://httpbin.example.com/sample")
        #expect(NIC.line(https.0, Self.apisix("http-to-https")).hasSuffix(": mapped"))
        #expect(NIC.line(https.0, Self.apisix("http-redirect")).contains("not mapped: ignored: http-to-https is set"))

        let moved = try Self.convert(Self.ingress("web", annotations: [Self.apisix("http-redirect"): "https://example.com/new-path",
                                                                       Self.apisix("http-redirect-code"): "302"], paths: [("/", "Prefix", "app")]))
        NIC.expectEquivalent(moved.1)
        #expect(moved.1.outcomes("http://httpbin.example.com/x")?.gateway == "redirect 302 to https://example.com/new-path")
        #expect(NIC.line(moved.0, Self.apisix("http-redirect-code")).hasSuffix(": mapped"))
        // A code outside 301-308 is APISIX's 301.
        let clamped = try Self.convert(Self.ingress("web", annotations: [Self.apisix("http-redirect"): "/new", Self.apisix("http-redirect-code"): "200"],
                                                    paths: [("/", "Prefix", "app")]))
        #expect(clamped.1.outcomes("http://httpbin.example.com/x")?.ingress == "redirect 301 to http://httpbin.example.com/new")
        #expect(clamped.1.outcomes("http://httpbin.example.com/x")?.gateway == "redirect 301 to http://httpbin.example.com/new")
    }

    @Test func rewriteTargetAndRegexRewrites() throws {
        let full = try Self.convert(Self.ingress("web", annotations: [Self.apisix("rewrite-target"): "/new-path"], paths: [("/api", "Prefix", "api")]))
        NIC.expectEquivalent(full.1)
        #expect(full.1.outcomes("http://httpbin.example.com/api/x")?.gateway == "forward to apps/api:80 with path /new-path")

        // The documented prefix replacement is ReplacePrefixMatch; only /app itself (which the regex misses) differs, and is accepted.
        let prefix = try Self.convert(Self.ingress("web", annotations: [Self.apisix("rewrite-target-regex"): "/app/(.*)",
                                                                        Self.apisix("rewrite-target-regex-template"): "/$1"], paths: [("/app", "Prefix", "app")]))
        NIC.expectEquivalent(prefix.1)
        #expect(prefix.1.outcomes("http://httpbin.example.com/app/ip")?.ingress == "forward to apps/app:80 with path /ip")
        #expect(prefix.1.outcomes("http://httpbin.example.com/app/ip")?.gateway == "forward to apps/app:80 with path /ip")
        #expect(prefix.1.outcomes("http://httpbin.example.com/app")?.ingress == "forward to apps/app:80 with path /app")
        #expect(prefix.1.accepted.contains { $0.difference.kind == .pathNotRewritten && !$0.probes.isEmpty })
        let filter = (Self.rules(prefix.2, route: "web-httpbin-example-com").first?["filters"] as? [[String: Any]])?.first?["urlRewrite"] as? [String: Any]
        #expect(filter?["path"] as? [String: String] == ["type": "ReplacePrefixMatch", "replacePrefixMatch": "/"])
        #expect(NIC.line(prefix.0, Self.apisix("rewrite-target-regex")).contains("partly mapped: /app: APISIX's regex /app/(.*) needs the slash"))

        // `^/api/(.*)` → `/backend/$1` keeps the rest of the path; `^/api(.*)` → `/backend$1` converts with nothing lost.
        let exact = try Self.convert(Self.ingress("web", annotations: [Self.apisix("rewrite-target-regex"): "^/api(.*)",
                                                                       Self.apisix("rewrite-target-regex-template"): "/backend$1"], paths: [("/api", "Prefix", "api")]))
        NIC.expectEquivalent(exact.1)
        #expect(exact.1.outcomes("http://httpbin.example.com/api/test")?.gateway == "forward to apps/api:80 with path /backend/test")
        #expect(exact.1.outcomes("http://httpbin.example.com/api")?.ingress == "forward to apps/api:80 with path /backend")
        #expect(NIC.line(exact.0, Self.apisix("rewrite-target-regex")).hasSuffix(": mapped"))

        // Groups rearranged: APISIX rewrites, Gateway API cannot; the backend gets the path unchanged, and the verifier accepts only that.
        let swapped = try Self.convert(Self.ingress("web", annotations: [Self.apisix("rewrite-target-regex"): "^/v([0-9])/(.*)",
                                                                         Self.apisix("rewrite-target-regex-template"): "/$2/v$1"], paths: [("/", "Prefix", "app")]))
        NIC.expectEquivalent(swapped.1)
        #expect(swapped.1.outcomes("http://httpbin.example.com/v2/items")?.ingress == "forward to apps/app:80 with path /items/v2")
        #expect(swapped.1.outcomes("http://httpbin.example.com/v2/items")?.gateway == "forward to apps/app:80 with path /v2/items")
        #expect(NIC.line(swapped.0, Self.apisix("rewrite-target-regex-template")).contains("partly mapped: /: APISIX rewrites / by the regex"))
    }

    @Test func methodsAndCORS() throws {
        let (migration, verification, documents) = try Self.convert(Self.ingress("web", annotations: [
            Self.apisix("http-allow-methods"): "GET,POST", Self.apisix("http-block-methods"): "DELETE",
            Self.apisix("enable-cors"): "true", Self.apisix("cors-allow-origin"): "https://app.example.com",
            Self.apisix("cors-allow-methods"): "GET,POST", Self.apisix("enable-websocket"): "true",
        ], paths: [("/", "Prefix", "app")]))
        NIC.expectEquivalent(verification)
        let rule = try #require(Self.rules(documents, route: "web-httpbin-example-com").first)
        #expect((rule["matches"] as? [[String: Any]])?.compactMap { $0["method"] as? String } == ["GET", "POST"])
        let cors = try #require((rule["filters"] as? [[String: Any]])?.first { $0["type"] as? String == "CORS" }?["cors"] as? [String: Any])
        #expect(cors["allowOrigins"] as? [String] == ["https://app.example.com"] && cors["allowHeaders"] as? [String] == ["*"] && cors["maxAge"] as? Int == 5)
        #expect(NIC.line(migration, Self.apisix("http-allow-methods")).contains("partly mapped: a method match per allowed method (GET, POST); APISIX answered the others with 405"))
        #expect(NIC.line(migration, Self.apisix("http-block-methods")).contains("not mapped: ignored: http-allow-methods is set"))
        #expect(NIC.line(migration, Self.apisix("cors-allow-origin")).hasSuffix(": mapped"))
        #expect(NIC.line(migration, Self.apisix("enable-websocket")).hasSuffix(": mapped"))

        // Blocking DELETE leaves the other eight standard methods.
        let blocked = try Self.convert(Self.ingress("web", annotations: [Self.apisix("http-block-methods"): "delete"], paths: [("/", "Prefix", "app")]))
        NIC.expectEquivalent(blocked.1)
        let methods = (Self.rules(blocked.2, route: "web-httpbin-example-com").first?["matches"] as? [[String: Any]])?.compactMap { $0["method"] as? String }
        #expect(methods?.count == 8 && methods?.contains("DELETE") == false)
    }

    @Test func accessControlBecomesPoliciesAndRefusesSideBySide() throws {
        let (migration, _, documents) = try Self.convert(Self.ingress("web", annotations: [
            Self.apisix("allowlist-source-range"): "10.0.0.0/8,192.168.1.7", Self.apisix("auth-type"): "keyAuth",
            Self.apisix("upstream-read-timeout"): "5s",
        ], paths: [("/", "Prefix", "app")]))
        let allow = try #require(NIC.document(documents, kind: "IPAllowList", name: "web-ipallowlist"))
        #expect((allow["spec"] as? [String: Any])?["allow"] as? [String] == ["10.0.0.0/8", "192.168.1.7"])
        #expect(NIC.line(migration, Self.apisix("allowlist-source-range")).contains("partly mapped: IPAllowList web-ipallowlist"))
        #expect(NIC.line(migration, Self.apisix("auth-type")).contains("not mapped: APISIX checks the keys of ApisixConsumers"))
        #expect(NIC.line(migration, Self.apisix("upstream-read-timeout")).contains("not mapped: APISIX's timeouts and retries"))
        // Served side by side, neither check is made: the Ingress is refused rather than served open.
        let (snapshot, _) = MigrateTests.snapshot(Self.ingress("web", annotations: [Self.apisix("allowlist-source-range"): "10.0.0.0/8",
                                                                                    Self.apisix("auth-type"): "basicAuth"], paths: [("/", "Prefix", "app")]))
        #expect(IngressIntent.reading(snapshot.ingresses[0], in: snapshot).accessControl == [Self.apisix("allowlist-source-range"), Self.apisix("auth-type")])
        // An ApisixPluginConfig is not read, so what its plugins decide is not known: refused too, failing closed.
        let (configured, _) = MigrateTests.snapshot(Self.ingress("web", annotations: [Self.apisix("plugin-config-name"): "limits"], paths: [("/", "Prefix", "app")]))
        #expect(IngressIntent.reading(configured.ingresses[0], in: configured).accessControl == [Self.apisix("plugin-config-name")])
        let (open, _) = MigrateTests.snapshot(Self.ingress("web", annotations: [Self.apisix("enable-cors"): "true"], paths: [("/", "Prefix", "app")]))
        #expect(IngressIntent.reading(open.ingresses[0], in: open).accessControl.isEmpty)
    }
}
