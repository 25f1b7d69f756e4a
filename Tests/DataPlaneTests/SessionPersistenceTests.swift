import Foundation
import NIOCore
import RoutingTable
import Testing

/// sessionPersistence over real sockets: a client that keeps presenting its cookie or header stays
/// on one endpoint, and is moved only when that endpoint goes away or the session times out.
@Suite(.timeLimit(.minutes(2)))
struct SessionPersistenceTests {
    /// The named echo backends as the endpoints of Service `pool`.
    static func pool(_ harness: GatewayHarness, _ names: [String]) -> String {
        Manifests.service("pool", targetPorts: names.map { harness.backendPorts[$0]! })
    }

    /// HTTPRoute `shop` on shop.example.com; `rules` are its YAML rule entries.
    static func route(rules: String) -> String {
        """
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: shop}
        spec:
          parentRefs: [{name: gw}]
          hostnames: [shop.example.com]
          rules:
        \(rules.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        """
    }

    /// The value of the `name` cookie a Set-Cookie line sets.
    static func cookieValue(_ response: TestHTTPClient.Response, _ name: String) -> String? {
        response.headers["set-cookie"].lazy.compactMap { line -> String? in
            let pair = line.split(separator: ";")[0]
            return pair.hasPrefix(name + "=") ? String(pair.dropFirst(name.count + 1)) : nil
        }.first
    }

    /// Each test runs on the fast lane and on the general path: both choose with `PickUpstreamPhase.chooseTarget`
    /// and hand the session out with `ResponseFilterPhase.sessionHeader`.
    @Test(arguments: [true, false]) func cookieHoldsAcross1000RequestsAndMovesOnlyWhenItsEndpointGoes(fastLane: Bool) async throws {
        let harness = GatewayHarness()
        harness.fastLane = fastLane
        defer { Task { await harness.stop() } }
        for name in ["a", "b", "c"] { try await harness.startBackend(name) }
        try harness.write("00-gw.yaml", Manifests.join(Manifests.gateway(), Self.pool(harness, ["a", "b", "c"])))
        try harness.write("10-route.yaml", Self.route(rules: """
            - backendRefs: [{name: pool, port: 80}]
              sessionPersistence: {sessionName: shop-session, absoluteTimeout: 1h, cookieConfig: {lifetimeType: Permanent}}
            """))
        try await harness.start()
        let client = try await harness.client()
        defer { Task { await client.close() } }

        // Without a session the pool is balanced as before.
        var unpinned = Set<String>()
        for _ in 0..<30 { unpinned.insert(try await client.request(.GET, "/", host: "shop.example.com").echoName ?? "?") }
        #expect(unpinned == ["a", "b", "c"], "requests without a session spread over the pool")

        let first = try await client.request(.GET, "/", host: "shop.example.com")
        let line = try #require(first.headers["set-cookie"].first, "a new session is handed a cookie")
        #expect(line.hasSuffix("; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600"), "cookie attributes: \(line)")
        let token = try #require(Self.cookieValue(first, "shop-session"))
        let home = try #require(first.echoName)

        // 1,000 requests presenting it (among the site's other cookies) all reach the same endpoint,
        // and none is handed a new cookie (no idle timeout to refresh).
        var elsewhere = 0, reissued = 0
        for _ in 0..<1000 {
            let response = try await client.request(.GET, "/", host: "shop.example.com", headers: [("cookie", "theme=dark; shop-session=\(token); lang=en")])
            if response.echoName != home { elsewhere += 1 }
            if !response.headers["set-cookie"].isEmpty { reissued += 1 }
        }
        #expect(elsewhere == 0 && reissued == 0, "1,000 requests: \(elsewhere) went elsewhere than \(home), \(reissued) got a new cookie")

        // A garbled or foreign token is a new session, not an error.
        let garbled = try await client.request(.GET, "/", host: "shop.example.com", headers: [("cookie", "shop-session=not-a-token")])
        #expect(garbled.status == 200 && Self.cookieValue(garbled, "shop-session") != nil)

        // Its endpoint leaves the Service: the session moves once, to an endpoint still there, and holds there.
        let remaining = ["a", "b", "c"].filter { $0 != home }
        try harness.write("00-gw.yaml", Manifests.join(Manifests.gateway(), Self.pool(harness, remaining)))
        try await harness.waitForGeneration(atLeast: 2)
        let moved = try await client.request(.GET, "/", host: "shop.example.com", headers: [("cookie", "shop-session=\(token)")])
        let newHome = try #require(moved.echoName)
        #expect(remaining.contains(newHome))
        let newToken = try #require(Self.cookieValue(moved, "shop-session"), "a moved session is handed its new cookie")
        #expect(newToken != token)

        // The old endpoint coming back does not pull the session back.
        try harness.write("00-gw.yaml", Manifests.join(Manifests.gateway(), Self.pool(harness, ["a", "b", "c"])))
        try await harness.waitForGeneration(atLeast: 3)
        var afterReturn = Set<String>()
        for _ in 0..<100 {
            afterReturn.insert(try await client.request(.GET, "/", host: "shop.example.com", headers: [("cookie", "shop-session=\(newToken)")]).echoName ?? "?")
        }
        #expect(afterReturn == [newHome], "after the endpoint returned: \(afterReturn)")
    }

    @Test(arguments: [true, false]) func aCanarysSessionsStayOnTheCanaryUntilItsWeightIsZero(fastLane: Bool) async throws {
        let harness = GatewayHarness()
        harness.fastLane = fastLane
        defer { Task { await harness.stop() } }
        try harness.write("00-gw.yaml", Manifests.join(Manifests.gateway(), try await harness.startBackendServices("stable", "canary")))
        func route(canaryWeight: Int) -> String {
            Self.route(rules: """
                - backendRefs: [{name: stable, port: 80, weight: 80}, {name: canary, port: 80, weight: \(canaryWeight)}]
                  sessionPersistence: {sessionName: Canary-Session, type: Header}
                """)
        }
        try harness.write("10-route.yaml", route(canaryWeight: 20))
        try await harness.start()
        let client = try await harness.client()
        defer { Task { await client.close() } }

        // New sessions follow the weights; take one that landed on the canary.
        var canaryToken: String?
        for _ in 0..<200 where canaryToken == nil {
            let response = try await client.request(.GET, "/", host: "shop.example.com")
            if response.echoName == "canary" { canaryToken = response.headers.first(name: "canary-session") }
        }
        let token = try #require(canaryToken, "one in five new sessions lands on the canary")
        var seen: [String: Int] = [:]
        for _ in 0..<300 {
            seen[try await client.request(.GET, "/", host: "shop.example.com", headers: [("Canary-Session", token)]).echoName ?? "?", default: 0] += 1
        }
        #expect(seen == ["canary": 300], "a canary session ignores the 80/20 split: \(seen)")

        // Rolled back (weight 0): the canary takes no traffic at all, sessions included.
        try harness.write("10-route.yaml", route(canaryWeight: 0))
        try await harness.waitForGeneration(atLeast: 2)
        let moved = try await client.request(.GET, "/", host: "shop.example.com", headers: [("Canary-Session", token)])
        #expect(moved.echoName == "stable")
        #expect(moved.headers.first(name: "canary-session").map { $0 != token } == true, "the moved session gets a new token")
    }

    @Test(arguments: [true, false]) func idleAndAbsoluteTimeoutsEndSessions(fastLane: Bool) async throws {
        let harness = GatewayHarness()
        harness.fastLane = fastLane
        defer { Task { await harness.stop() } }
        for name in ["a", "b"] { try await harness.startBackend(name) }
        try harness.write("00-gw.yaml", Manifests.join(Manifests.gateway(), Self.pool(harness, ["a", "b"])))
        try harness.write("10-route.yaml", Self.route(rules: """
            - matches: [{path: {type: PathPrefix, value: /idle}}]
              backendRefs: [{name: pool, port: 80}]
              sessionPersistence: {type: Header, sessionName: X-Idle, idleTimeout: 3s, absoluteTimeout: 1h}
            - matches: [{path: {type: PathPrefix, value: /absolute}}]
              backendRefs: [{name: pool, port: 80}]
              sessionPersistence: {type: Header, sessionName: X-Absolute, absoluteTimeout: 1500ms}
            """))
        try await harness.start()
        let client = try await harness.client()
        defer { Task { await client.close() } }
        func ask(_ path: String, _ header: String, _ token: String?) async throws -> (token: SessionToken, backend: String) {
            let response = try await client.request(.GET, path, host: "shop.example.com", headers: token.map { [(header, $0)] } ?? [])
            let text = try #require(response.headers.first(name: header), "\(path): session header")
            return (try #require(SessionToken(decoding: Substring(text))), response.echoName ?? "?")
        }

        // Idle: each answer pushes the idle clock on (a fresh token, same start); a pause longer than
        // the idle timeout starts a new session. Gaps are judged by the gateway's own stamps (each
        // token's last-seen), not by the test's sleeps: on a loaded machine a 300 ms sleep can wake
        // seconds late, and then the session rightly ends.
        var session = try await ask("/idle", "x-idle", nil)
        var held = 0
        for _ in 0..<20 where held < 5 {
            try await Task.sleep(for: .milliseconds(300))
            let next = try await ask("/idle", "x-idle", session.token.encoded)
            #expect(next.token.lastSeenMillis >= session.token.lastSeenMillis)
            // The stamp is taken at the answer, so a gap within the timeout means the request came within it too.
            if next.token.lastSeenMillis - session.token.lastSeenMillis <= 3000 {
                #expect(next.backend == session.backend && next.token.createdMillis == session.token.createdMillis,
                        "a session answered within its idle timeout holds")
                held += 1
            }
            session = next
        }
        #expect(held == 5, "five answers within the idle timeout")
        try await Task.sleep(for: .milliseconds(4000))
        let afterPause = try await ask("/idle", "x-idle", session.token.encoded)
        #expect(afterPause.token.createdMillis > session.token.createdMillis, "an idle session ends")

        // Absolute: activity does not extend it.
        let begun = try await ask("/absolute", "x-absolute", nil)
        #expect(begun.token.createdMillis == begun.token.lastSeenMillis)
        var renewed: SessionToken?
        let token = begun.token.encoded
        for _ in 0..<12 {
            try await Task.sleep(for: .milliseconds(300))
            let response = try await client.request(.GET, "/absolute", host: "shop.example.com", headers: [("x-absolute", token)])
            if let fresh = response.headers.first(name: "x-absolute") {
                // Handed out only for a new session: no idle timeout means nothing to refresh.
                renewed = try #require(SessionToken(decoding: Substring(fresh)))
                break
            }
            #expect(response.echoName == begun.backend)
        }
        let next = try #require(renewed, "the session ended after its absolute timeout despite activity")
        // By the gateway's clock, as above: not before 1.5 s.
        #expect(next.createdMillis - begun.token.createdMillis >= 1500, "renewed \(next.createdMillis - begun.token.createdMillis) ms after it began")
    }
}
