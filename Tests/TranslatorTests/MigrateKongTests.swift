import GatewayAPI
import Migrate
import Testing
import Translator
import Yams

/// `archway migrate` for Kong Ingress Controller (`konghq.com/*` and KongPlugins): the output, the
/// report lines, and what both readings do with requests (`--verify`).
@Suite struct MigrateKongTests {
    typealias NIC = MigrateNginxIncTests

    static func kong(_ name: String) -> String { "konghq.com/" + name }

    static func ingress(_ name: String, host: String = "api.example.com", annotations: [String: String] = [:],
                        paths: [(String, String, String)], tls: Bool = false) -> String {
        NIC.ingress(name, host: host, annotations: annotations, paths: paths, tls: tls)
            .replacingOccurrences(of: "ingressClassName: nginx", with: "ingressClassName: kong")
    }

    static func plugin(_ name: String, _ plugin: String, config: String) -> String {
        "---\napiVersion: configuration.konghq.com/v1\nkind: KongPlugin\nmetadata: {name: \(name), namespace: apps}\nplugin: \(plugin)\nconfig: \(config)\n"
    }

    static func convert(_ yaml: String) throws -> (Migration, Verification, [[String: Any]]) {
        let (migration, verification, output) = MigrateTests.verify(yaml)
        return (migration, verification, try Yams.load_all(yaml: output).compactMap { $0 as? [String: Any] })
    }

    @Test func kongIsToldByClassNameOrAnnotations() {
        func controller(_ yaml: String) -> IngressController {
            let (snapshot, _) = MigrateTests.snapshot(yaml)
            return IngressController.of(snapshot.ingresses[0], classes: snapshot.ingressClasses)
        }
        #expect(controller(Self.ingress("a", paths: [("/", "Prefix", "app")])) == .kong)
        #expect(controller(NIC.ingress("a", annotations: [Self.kong("strip-path"): "true"], paths: [("/", "Prefix", "app")])) == .kong)
    }

    @Test func methodsHeadersAndStripPath() throws {
        let (migration, verification, documents) = try Self.convert(Self.ingress("api", annotations: [
            Self.kong("methods"): "GET,POST", Self.kong("headers.x-version"): "v2,~*beta.*", Self.kong("strip-path"): "true",
        ], paths: [("/users", "Prefix", "users"), ("/~/v[0-9]+/items", "ImplementationSpecific", "items")]))
        NIC.expectEquivalent(verification)
        // Only requests with a listed header value are routed, and the matched prefix is stripped.
        #expect(verification.outcomes("http://api.example.com/users/7", headers: ["X-Version": "v2"])?.gateway == "forward to apps/users:80 with path /7")
        #expect(verification.outcomes("http://api.example.com/users/7", headers: ["X-Version": "BETA-3"])?.gateway == "forward to apps/users:80 with path /7")
        #expect(verification.outcomes("http://api.example.com/users/7", headers: ["X-Version": "v1"])?.gateway == "404 (no route)")
        #expect(verification.outcomes("http://api.example.com/users/7")?.ingress == "404 (no route)")
        // Kong strips what a regex path matched; Gateway API cannot, and the verifier says so.
        #expect(verification.outcomes("http://api.example.com/v2/items/9", headers: ["X-Version": "v2"])?.ingress == "forward to apps/items:80 with path /9")
        #expect(verification.accepted.contains { $0.difference.path == "/~/v[0-9]+/items" && !$0.probes.isEmpty })
        // ReplacePrefixMatch takes one match per rule: 2 methods × 2 header values = 4 rules for /users.
        let route = try #require(NIC.document(documents, kind: "HTTPRoute", name: "api-api-example-com"))
        let rules = (route["spec"] as? [String: Any])?["rules"] as? [[String: Any]] ?? []
        let users = rules.filter { (($0["matches"] as? [[String: Any]])?.first?["path"] as? [String: Any])?["value"] as? String == "/users" }
        #expect(users.count == 4 && users.allSatisfy { ($0["matches"] as? [[String: Any]])?.count == 1 })
        #expect(Set(users.compactMap { ($0["matches"] as? [[String: Any]])?.first?["method"] as? String }) == ["GET", "POST"])
        for key in ["methods", "headers.x-version", "strip-path"] { #expect(NIC.line(migration, Self.kong(key)).hasSuffix(": mapped")) }
    }

    @Test func plainImplementationSpecificIsAStringPrefix() throws {
        let (_, verification, _) = try Self.convert(Self.ingress("api", paths: [("/api", "ImplementationSpecific", "api"), ("/", "Prefix", "home")]))
        NIC.expectEquivalent(verification)
        #expect(verification.outcomes("http://api.example.com/apix")?.ingress == "forward to apps/api:80 with path /apix")
        #expect(verification.outcomes("http://api.example.com/apix")?.gateway == "forward to apps/home:80 with path /apix")
        #expect(verification.accepted.contains { $0.difference.kind == .segmentPrefix("/api") && !$0.probes.isEmpty })
    }

    @Test func protocolsAliasesAndHost() throws {
        let redirecting = try Self.convert(Self.ingress("api", annotations: [
            Self.kong("protocols"): "https", Self.kong("https-redirect-status-code"): "301", Self.kong("host-aliases"): "api2.example.com",
            Self.kong("preserve-host"): "false",
        ], paths: [("/", "Prefix", "api")], tls: true))
        NIC.expectEquivalent(redirecting.1)
        #expect(redirecting.1.outcomes("http://api2.example.com/x")?.gateway == "redirect 301 to https://api2.example.com/x")
        #expect(redirecting.1.outcomes("https://api.example.com/x")?.gateway == "forward to apps/api:80 with path /x, Host api.apps.svc")
        #expect(NIC.line(redirecting.0, Self.kong("preserve-host")).contains("partly mapped: URLRewrite sets Host"))

        // Kong's default for refused cleartext is 426, which no Gateway API rule answers: no cleartext route, said so.
        let refusing = try Self.convert(Self.ingress("api", annotations: [Self.kong("protocols"): "https"], paths: [("/", "Prefix", "api")], tls: true))
        NIC.expectEquivalent(refusing.1)
        #expect(refusing.1.outcomes("http://api.example.com/x")?.ingress == "426 from the gateway")
        #expect(refusing.1.outcomes("http://api.example.com/x")?.gateway == "404 (no route)")
        #expect(refusing.1.accepted.contains { $0.difference.kind == .cleartextRefused && !$0.probes.isEmpty })
        #expect(NIC.line(refusing.0, Self.kong("protocols")).contains("partly mapped: Kong answered cleartext requests with 426"))

        let cleartextOnly = try Self.convert(Self.ingress("api", annotations: [Self.kong("protocols"): "http"], paths: [("/", "Prefix", "api")], tls: true))
        NIC.expectEquivalent(cleartextOnly.1)
        #expect(cleartextOnly.1.outcomes("https://api.example.com/x")?.gateway == "404 (no route)")
        #expect(cleartextOnly.1.outcomes("http://api.example.com/x")?.gateway == "forward to apps/api:80 with path /x")
    }

    @Test func pluginsBecomeFiltersAndPolicies() throws {
        let yaml = Self.plugin("limit", "rate-limiting", config: "{minute: 100, hour: 1000}")
            + Self.plugin("cors", "cors", config: "{origins: [\"https://app.example.com\"], methods: [GET, POST], credentials: true, max_age: 600}")
            + Self.plugin("office", "ip-restriction", config: "{allow: [10.0.0.0/8]}")
            + Self.plugin("keys", "key-auth", config: "{key_names: [x-api-key]}")
            + Self.plugin("log", "file-log", config: "{path: /tmp/log}")
            + Self.ingress("api", annotations: [Self.kong("plugins"): "limit,cors,office,keys,log,missing"], paths: [("/", "Prefix", "api")])
        let (migration, _, documents) = try Self.convert(yaml)
        let limit = try #require(NIC.document(documents, kind: "RateLimit", name: "api-ratelimit"))
        #expect((limit["spec"] as? [String: Any])?["requests"] as? Int == 100 && (limit["spec"] as? [String: Any])?["unit"] as? String == "Minute")
        let allow = try #require(NIC.document(documents, kind: "IPAllowList", name: "api-ipallowlist"))
        #expect((allow["spec"] as? [String: Any])?["allow"] as? [String] == ["10.0.0.0/8"])
        let keys = try #require(NIC.document(documents, kind: "APIKeyAuth", name: "api-apikeyauth"))
        #expect((keys["spec"] as? [String: Any])?["header"] as? String == "x-api-key")
        let route = try #require(NIC.document(documents, kind: "HTTPRoute", name: "api-api-example-com"))
        let filters = ((route["spec"] as? [String: Any])?["rules"] as? [[String: Any]])?.first?["filters"] as? [[String: Any]] ?? []
        let cors = try #require(filters.first { $0["type"] as? String == "CORS" }?["cors"] as? [String: Any])
        #expect(cors["allowOrigins"] as? [String] == ["https://app.example.com"] && cors["maxAge"] as? Int == 600 && cors["allowCredentials"] as? Bool == true)
        let line = NIC.line(migration, Self.kong("plugins"))
        #expect(line.contains("partly mapped:") && line.contains("its hour limits are not kept"))
        #expect(line.contains("log (file-log): not converted: the file-log plugin has no archway equivalent"))
        #expect(line.contains("missing: not converted: KongPlugin apps/missing is not in the input"))
    }

    @Test func accessPluginsMarkTheIngressForRefusal() throws {
        let yaml = Self.plugin("keys", "key-auth", config: "{}") + Self.plugin("cors", "cors", config: "{}")
            + Self.ingress("guarded", annotations: [Self.kong("plugins"): "keys"], paths: [("/", "Prefix", "api")])
            + Self.ingress("open", host: "open.example.com", annotations: [Self.kong("plugins"): "cors"], paths: [("/", "Prefix", "api")])
        let (snapshot, _) = MigrateTests.snapshot(yaml)
        #expect(IngressIntent.reading(snapshot.ingresses[0], in: snapshot).accessControl == ["konghq.com/plugins: keys"])
        #expect(IngressIntent.reading(snapshot.ingresses[1], in: snapshot).accessControl.isEmpty)
    }
}
