import GatewayAPI
import Migrate
import Testing
import Yams

/// ingress-nginx's finer points: canary-by-header-pattern, temporal-redirect over
/// permanent-redirect, host-level regex mode reaching Exact paths, and a catch-all regex written
/// as the portable PathPrefix "/".
@Suite struct MigrateNginxFinerPointsTests {
    typealias Verify = MigrateVerifyTests
    static let nginx = "nginx.ingress.kubernetes.io/"

    @Test func canaryByHeaderPatternSearchesTheValue() throws {
        let yaml = Verify.ingress("main", host: "shop.example.com", paths: [("/", "Prefix", "stable")])
            + Verify.ingress("canary", host: "shop.example.com", annotations: [
                Self.nginx + "canary": "true", Self.nginx + "canary-by-header": "X-Tester", Self.nginx + "canary-by-header-pattern": "^(alice|bob)$",
            ], paths: [("/", "Prefix", "preview")])
        let (migration, verification, _) = MigrateTests.verify(yaml)
        MigrateNginxIncTests.expectEquivalent(verification)
        for (value, backend) in [("alice", "preview"), ("bob", "preview"), ("carol", "stable"), ("always", "stable"), ("never", "stable")] {
            let outcome = verification.outcomes("http://shop.example.com/cart", headers: ["X-Tester": value])
            #expect(outcome?.ingress == Verify.forward(backend, "/cart"), "X-Tester: \(value)")
            #expect(outcome?.gateway == outcome?.ingress, "X-Tester: \(value)")
        }
        #expect(migration.report.contains { $0.key == Self.nginx + "canary-by-header-pattern" && $0.description.hasSuffix(": mapped") })
    }

    @Test func temporalRedirectWinsOverPermanent() throws {
        let yaml = Verify.ingress("moved", host: "old.example.com", annotations: [
            Self.nginx + "permanent-redirect": "https://new.example.com/", Self.nginx + "temporal-redirect": "https://maintenance.example.com/",
        ], paths: [("/", "Prefix", "old")])
        let (migration, verification, _) = MigrateTests.verify(yaml)
        MigrateNginxIncTests.expectEquivalent(verification)
        let outcome = verification.outcomes("http://old.example.com/a")
        #expect(outcome?.ingress == "redirect 302 to https://maintenance.example.com/" && outcome?.gateway == outcome?.ingress)
        #expect(migration.report.contains { $0.key == Self.nginx + "permanent-redirect" && $0.description.contains("not mapped: ignored: temporal-redirect is set too") })
        // Alone, permanent-redirect is converted (and said so).
        let alone = MigrateTests.verify(Verify.ingress("moved", host: "old.example.com", annotations: [Self.nginx + "permanent-redirect": "https://new.example.com/"],
                                                       paths: [("/", "Prefix", "old")])).0
        #expect(alone.report.contains { $0.key == Self.nginx + "permanent-redirect" && $0.description.hasSuffix(": mapped") })
    }

    @Test func regexModeTakesExactPathsToo() throws {
        // use-regex on one Ingress of the host makes every location of the host a case-insensitive prefix regex.
        let yaml = Verify.ingress("regex", host: "app.example.com", annotations: Verify.useRegex, paths: [("/api/v[0-9]+", "Prefix", "api")])
            + Verify.ingress("exact", host: "app.example.com", paths: [("/health", "Exact", "health"), ("/", "Prefix", "web")])
        let (_, verification, output) = MigrateTests.verify(yaml)
        MigrateNginxIncTests.expectEquivalent(verification)
        #expect(verification.outcomes("http://app.example.com/HEALTH/deep")?.ingress == Verify.forward("health", "/HEALTH/deep"))
        #expect(verification.outcomes("http://app.example.com/HEALTH/deep")?.gateway == Verify.forward("health", "/HEALTH/deep"))
        // The catch-all location is said portably.
        let documents = try Yams.load_all(yaml: output).compactMap { $0 as? [String: Any] }
        let matches = documents.filter { $0["kind"] as? String == "HTTPRoute" }
            .flatMap { (($0["spec"] as? [String: Any])?["rules"] as? [[String: Any]]) ?? [] }
            .flatMap { ($0["matches"] as? [[String: Any]]) ?? [] }.compactMap { $0["path"] as? [String: Any] }
        #expect(matches.contains { $0["type"] as? String == "PathPrefix" && $0["value"] as? String == "/" })
        #expect(!matches.contains { ($0["value"] as? String)?.hasPrefix("(?i)(?:/)") == true })
    }
}
