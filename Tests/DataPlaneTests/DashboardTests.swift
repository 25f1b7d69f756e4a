import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Testing

/// The admin dashboard in a real browser: headless Chromium loads it while traffic flows and the
/// rendered page must show the topology, live per-route figures and the SLO budget.
@Suite(.timeLimit(.minutes(2)))
struct DashboardTests {
    static var chromium: String? {
        ["chromium", "chromium-browser", "google-chrome"].first { (try? ExternalTool.run("which", [$0]).status) == 0 }
    }

    @Test func headlessChromiumRendersTopologyLiveFiguresAndBudgets() async throws {
        guard let browser = Self.chromium else {
            if ProcessInfo.processInfo.environment["CI"] != nil { Issue.record("chromium is not installed (.ci/run installs it)") }
            else { print("chromium not installed: dashboard test skipped") }
            return
        }
        let harness = GatewayHarness()
        try await harness.startBackend("shop")
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(), Manifests.service("shop", targetPort: harness.backendPorts["shop"]!),
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: shop}
            spec:
              parentRefs: [{name: gw}]
              hostnames: [shop.example.com]
              rules: [{backendRefs: [{name: shop, port: 80, weight: 3}, {name: missing, port: 80, weight: 1}]}]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: colours}
            spec:
              parentRefs: [{name: gw}]
              hostnames: [app.example.com]
              rules:
              - matches: [{headers: [{name: X-Canary, value: "true"}]}]
                backendRefs: [{name: green, port: 80}]
              - backendRefs: [{name: blue, port: 80}]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: tls-gw}
            spec:
              gatewayClassName: archway
              listeners: [{name: https, protocol: HTTPS, port: 443, hostname: secure.example.com, tls: {certificateRefs: [{name: no-such-cert}]}}]
            ---
            apiVersion: archway.dev/v1alpha1
            kind: AddressPool
            metadata: {name: dash}
            spec: {addresses: [127.0.60.1-127.0.60.4], autoAssign: false}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: pooled, annotations: {archway.dev/address-pool: dash}}
            spec:
              gatewayClassName: archway
              listeners: [{name: http, protocol: HTTP, port: 80, hostname: pooled.example.com}]
            ---
            apiVersion: archway.dev/v1alpha1
            kind: BasicAuth
            metadata: {name: broken-auth}
            spec: {targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: colours}], secretRef: {name: no-such-users}}
            """,
            ServiceLevelTests.shopSLO))
        try await harness.start()
        defer { Task { await harness.stop() } }

        // Steady traffic while the browser looks: a quarter of it goes to the missing backend (500).
        // A plain thread, not a task: the browser below blocks a cooperative thread while it runs.
        let sent = NIOLockedValueBox(0), stop = NIOLockedValueBox(false)
        let port = harness.port
        let traffic = Thread {
            guard let socket = try? BlockingSocket(port: port, timeout: 5) else { return }
            while !stop.withLockedValue({ $0 }) {
                socket.send("GET /buy HTTP/1.1\r\nHost: shop.example.com\r\n\r\n")
                guard let head = socket.receive(through: "\r\n\r\n"),
                      let length = head.firstMatch(of: /content-length: (\d+)/.ignoresCase()).flatMap({ Int($0.output.1) }),
                      socket.receive(exactly: length) != nil else { return }
                sent.withLockedValue { $0 += 1 }
            }
        }
        traffic.start()
        defer { stop.withLockedValue { $0 = true } }
        try await ResilienceTests.eventually { sent.withLockedValue { $0 } >= 20 }

        let url = "http://127.0.0.1:\(harness.adminPort)/dashboard"
        let flags = ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,900", "--virtual-time-budget=9000"]
        let dom = try ExternalTool.run(browser, flags + ["--dump-dom", url]).stdout
        #expect(dom.contains("Gateway default/gw") && dom.contains("HTTPRoute default/shop"), "the topology graph")
        #expect(dom.contains("default/shop:80") && dom.contains("75%") && dom.contains("25%"), "backends with their weight shares")
        #expect(dom.contains(#"<span class="bad" title="BackendNotFound">ResolvedRefs=False</span>"#), "the route's condition, flagged")
        let row = try #require(dom.firstMatch(of: /<tr data-route="default\/shop">.*?<\/tr>/)).output
        let rate = try #require(row.firstMatch(of: /<td class="rate">([0-9.]+)<\/td>/)).output.1
        #expect((Double(rate) ?? 0) > 0, "a live request rate: \(row)")
        let errors = try #require(row.firstMatch(of: /<td class="errors">([0-9.]+)%<\/td>/)).output.1
        #expect((Double(errors) ?? 0) > 5, "the missing backend's 500s show as errors: \(row)")
        #expect(row.contains(" ms</td>"), "latency quantiles")
        #expect(dom.contains(#"data-slo="default/shop-availability""#), "the SLO's budget row")
        // Blue/green by header is two rules, each all of its traffic: not a 50/50 split.
        #expect(dom.contains(">X-Canary=true: 100%</text>") && dom.contains(">100%</text>") && !dom.contains(">50%</text>"), "per-rule shares")
        // A Gateway whose HTTPS listener has no certificate is drawn red, the healthy one green.
        #expect(dom.firstMatch(of: /stroke="#cf222e" stroke-width="1.5"><\/rect><text[^>]*>Gateway default\/tls-gw @ 127\.0\.0\.1</) != nil, "the cert-less Gateway is red")
        #expect(dom.firstMatch(of: /stroke="#1a7f37" stroke-width="1.5"><\/rect><text[^>]*>Gateway default\/gw @ 127\.0\.0\.1</) != nil, "the healthy Gateway is green")
        // Each Gateway shows its address; the pool its use and who holds what.
        let pooled = try #require(dom.firstMatch(of: /Gateway default\/pooled @ (127\.0\.60\.[1-4])</), "the pooled Gateway's address").output.1
        let pool = try #require(dom.firstMatch(of: /<tr data-pool="dash">.*?<\/tr>/), "the pool's row").output
        #expect(pool.contains("<td>1</td><td>3</td><td>4</td>") && pool.contains("\(pooled) Gateway default/pooled"), "\(pool)")
        // A policy that is not in force is listed, and the route it blocks says so.
        #expect(dom.contains(#"data-policy="BasicAuth default/broken-auth""#) && dom.contains("Secret default/no-such-users not found"), "policy problems")
        #expect(dom.contains("BasicAuth default/broken-auth (cannot be enforced"), "the blocked route names the policy")

        // "Try a request", from a link that carries the request: the live table's answer, rendered by
        // the admin endpoint as `archway explain` prints it: shop's two backends by weight, the missing one's 500.
        let canary = #"{"method":"GET","url":"http://shop.example.com/buy","headers":[{"name":"X-Canary","value":"true"}]}"#
        let tried = try ExternalTool.run(browser, flags + ["--dump-dom", url + "#explain=" + canary.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!]).stdout
        let answer = try #require(tried.firstMatch(of: /<pre id="explain-out">(.*?)<\/pre>/.dotMatchesNewlines()), "the explain box's answer").output.1
        #expect(answer.contains("ROUTE     default/shop rule 0 match 0") && answer.contains("OUTCOME   forwarded to shop (75%) or missing (25%, answers 500)"), "\(answer)")
        // A route blocked by a policy that cannot be enforced (even its canary rule): the 500 every request gets, and why.
        let blue = #"{"url":"http://app.example.com/","headers":[{"name":"X-Canary","value":"true"}]}"#
        let blocked = try ExternalTool.run(browser, flags + ["--dump-dom", url + "#explain=" + blue.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!]).stdout
        #expect(blocked.contains("ANSWER    500") && blocked.contains("BasicAuth default/broken-auth cannot be enforced"), "\(blocked.suffix(1500))")

        let screenshot = FileManager.default.temporaryDirectory.appendingPathComponent("dashboard-\(UUID().uuidString).png")
        defer { try? FileManager.default.removeItem(at: screenshot) }
        _ = try ExternalTool.run(browser, flags + ["--screenshot=\(screenshot.path)", url])
        let size = (try? FileManager.default.attributesOfItem(atPath: screenshot.path)[.size] as? Int) ?? 0
        #expect(size > 20_000, "a screenshot of the rendered page (\(size) bytes)")
    }
}
