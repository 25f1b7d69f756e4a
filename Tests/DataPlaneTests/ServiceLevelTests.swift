import ArchwayCore
import DataPlane
import Foundation
import GatewayAPI
import NIOCore
import RoutingTable
import Testing
import Yams
import Translator

/// ServiceLevelObjectives: the budget arithmetic, the Prometheus rules (checked and unit-tested by
/// promtool when it is installed), and the live budget a running archway reports.
@Suite(.timeLimit(.minutes(2)))
struct ServiceLevelTests {
    @Test func budgetArithmetic() {
        let thirtyDays = ServiceLevelObjective.windowSeconds("30d")!
        #expect(thirtyDays == 2_592_000)
        // 99.9% over 30 days leaves 0.1% of 720 h: 0.72 h, i.e. 43.2 minutes (4.32 h would be 99.4%, or 180 days).
        #expect(abs(ServiceLevelObjective.budgetSeconds(objectivePercent: 99.9, windowSeconds: thirtyDays) - 2_592) < 1e-6)
        #expect(Translator.describe(seconds: ServiceLevelObjective.budgetSeconds(objectivePercent: 99.9, windowSeconds: thirtyDays)) == "43.2 minutes")
        #expect(Translator.describe(seconds: ServiceLevelObjective.budgetSeconds(objectivePercent: 99.9, windowSeconds: 180 * 86_400)) == "4.32 hours")
        #expect(Translator.describe(seconds: ServiceLevelObjective.budgetSeconds(objectivePercent: 99, windowSeconds: 7 * 86_400)) == "1.68 hours")

        // 1,000 requests, 5 of them failed, against 99% over an hour: half the budget is gone, burning
        // at half the sustainable rate, so what is left lasts another hour.
        let tracker = SLOTracker(spec: SLOSpec(name: "t", kind: .availability, objective: 0.99, windowSeconds: 3_600))
        for index in 0..<1_000 { tracker.record(status: index < 5 ? 503 : 200, durationNanos: 1_000_000) }
        let snapshot = tracker.snapshot()
        #expect(snapshot.total == 1_000 && snapshot.bad == 5)
        #expect(abs(snapshot.budgetRemaining - 0.5) < 1e-9)
        #expect(abs(snapshot.burnRate1h - 0.5) < 1e-9 && abs(snapshot.burnRate5m - 0.5) < 1e-9)
        #expect(abs((snapshot.exhaustionSeconds ?? 0) - 3_600) < 1e-6)

        let latency = SLOTracker(spec: SLOSpec(name: "l", kind: .latency, objective: 0.9, windowSeconds: 3_600, latencyThresholdMillis: 500))
        latency.record(status: 200, durationNanos: 499_000_000)
        latency.record(status: 500, durationNanos: 10_000_000)  // fast errors are not latency violations
        latency.record(status: 200, durationNanos: 501_000_000)
        #expect(latency.snapshot().bad == 1)
    }

    /// A directory holding `rules` as rules.yaml, which `promtool check rules` accepted; nil (the
    /// checks skipped) where promtool is not installed.
    static func checkedByPromtool(_ rules: String) throws -> URL? {
        guard (try? ExternalTool.run("promtool", ["--version"]).status) == 0 else {
            print("promtool not installed: rule validation skipped (.ci/run installs Debian's prometheus package)")
            return nil
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("slo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try rules.write(to: directory.appendingPathComponent("rules.yaml"), atomically: true, encoding: .utf8)
        let check = try ExternalTool.run("promtool", ["check", "rules", directory.appendingPathComponent("rules.yaml").path])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        return directory
    }

    static let shopSLO = """
        apiVersion: archway.dev/v1alpha1
        kind: ServiceLevelObjective
        metadata: {name: shop-availability, namespace: default}
        spec:
          targetRef: {group: gateway.networking.k8s.io, kind: HTTPRoute, name: shop}
          type: Availability
          objective: 99.9
          window: 30d
        """

    @Test func rulesPassPromtoolAndFireOnlyWhenBurning() throws {
        let loaded = ManifestLoader().parse(text: Self.shopSLO, file: "slo.yaml")
        guard case .serviceLevelObjective(let slo) = loaded.resources.first?.resource else { Issue.record("\(loaded.errors)"); return }
        let rules = ServiceLevelRules.yaml([slo])
        #expect(rules.contains(#"sum(rate(gateway_http_requests_total{namespace="default",route_name="shop",status=~"5.."}[5m]))"#))
        #expect(rules.contains("> 0.0144 and"), "page: 14.4 × the 0.1% budget")
        guard let directory = try ServiceLevelTests.checkedByPromtool(rules) else { return }
        defer { try? FileManager.default.removeItem(at: directory) }

        // The Prometheus Operator's form carries the same groups under spec, which promtool accepts as a rule file.
        let operatorForm = ServiceLevelRules.prometheusRule([slo], name: "archway-slos", namespace: "monitoring", labels: [("release", "kube-prometheus-stack")])
        let object = try #require(try Yams.load(yaml: operatorForm) as? [String: Any])
        #expect(object["apiVersion"] as? String == "monitoring.coreos.com/v1" && object["kind"] as? String == "PrometheusRule")
        #expect(((object["metadata"] as? [String: Any])?["labels"] as? [String: Any])?["release"] as? String == "kube-prometheus-stack")
        let spec = try #require(object["spec"] as? [String: Any])
        try Yams.dump(object: spec).write(to: directory.appendingPathComponent("spec.yaml"), atomically: true, encoding: .utf8)
        let specCheck = try ExternalTool.run("promtool", ["check", "rules", directory.appendingPathComponent("spec.yaml").path])
        #expect(specCheck.status == 0 && specCheck.stdout.contains("SUCCESS: 11 rules found"), "\(specCheck.stdout)\(specCheck.stderr)")

        // 2% errors is 20× the budget's pace: all four alerts fire; 0.05% is within budget: none do.
        let series = #"gateway_http_requests_total{gateway_name="gw",namespace="default",route_name="shop",backend_name="svc",method="GET""#
        func alerts(_ severity: String, _ long: String, _ short: String) -> String {
            let factor = ["1h": "14.4", "6h": "6", "1d": "3", "3d": "1"][long]!
            return """
                    - exp_labels: {severity: \(severity), slo: default/shop-availability, long_window: \(long)}
                      exp_annotations: {summary: 'default/shop-availability is spending its error budget \(factor)x too fast (\(long) and \(short) windows)'}
            """
        }
        let test = """
        rule_files: [rules.yaml]
        evaluation_interval: 1m
        tests:
        - interval: 1m
          input_series:
          - series: '\(series),status="200"}'
            values: '0+980x200'
          - series: '\(series),status="503"}'
            values: '0+20x200'
          alert_rule_test:
          - eval_time: 150m
            alertname: SLOErrorBudgetBurn
            exp_alerts:
        \(alerts("page", "1h", "5m"))
        \(alerts("page", "6h", "30m"))
        \(alerts("ticket", "1d", "2h"))
        \(alerts("ticket", "3d", "6h"))
        - interval: 1m
          input_series:
          - series: '\(series),status="200"}'
            values: '0+9995x200'
          - series: '\(series),status="503"}'
            values: '0+5x200'
          alert_rule_test:
          - eval_time: 150m
            alertname: SLOErrorBudgetBurn
            exp_alerts: []
        """
        try test.write(to: directory.appendingPathComponent("test.yaml"), atomically: true, encoding: .utf8)
        let unit = try ExternalTool.run("promtool", ["test", "rules", directory.appendingPathComponent("test.yaml").path])
        #expect(unit.status == 0, "\(unit.stdout)\(unit.stderr)")
    }

    @Test func aRunningGatewayReportsTheLiveBudget() async throws {
        let harness = GatewayHarness()
        try await harness.startBackend("svc")
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(), Manifests.service("svc", targetPort: harness.backendPorts["svc"]!),
            Manifests.route("shop", path: "/", service: "svc"),
            Self.shopSLO.replacingOccurrences(of: "objective: 99.9", with: "objective: 99").replacingOccurrences(of: "window: 30d", with: "window: 1h")))
        try await harness.start()
        defer { Task { await harness.stop() } }
        let client = try await harness.client()
        for _ in 0..<98 { #expect(try await client.request(.GET, "/ok", host: "s.example.com").status == 200) }
        for _ in 0..<2 { #expect(try await client.request(.GET, "/__echo/status/503", host: "s.example.com").status == 503) }
        await client.close()

        // 2 bad of 100 against a 1% allowance: the budget is overspent twice over.
        var budget: [[String: Any]] = []
        for _ in 0..<100 {
            let admin = try await TestHTTPClient.connect(port: harness.adminPort, group: harness.group)
            let text = try await admin.request(.GET, "/slo", host: "admin").text
            await admin.close()
            budget = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [[String: Any]] ?? []
            if budget.first?["total"] as? Int == 100 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let shop = try #require(budget.first)
        #expect(shop["name"] as? String == "default/shop-availability")
        #expect(shop["bad"] as? Int == 2 && shop["total"] as? Int == 100)
        #expect(abs((shop["budgetRemaining"] as? Double ?? 0) - -1.0) < 1e-9)
        #expect(abs((shop["burnRate1h"] as? Double ?? 0) - 2.0) < 1e-9)
        #expect(abs((shop["budgetSeconds"] as? Double ?? 0) - 36) < 1e-9, "1% of an hour")
        let samples = try await MetricsTests.scrape(harness)
        #expect(abs((samples[#"gateway_slo_error_budget_remaining_ratio{slo="default/shop-availability"}"#] ?? 0) - -1) < 1e-9)
        #expect(abs((samples[#"gateway_slo_burn_rate{slo="default/shop-availability",window="1h"}"#] ?? 0) - 2) < 1e-9)
    }
}

/// The playbook's third kind: "handle N requests a second; may drop below it X% of the time".
struct ThroughputObjectiveTests {
    /// Minutes are what a Throughput objective counts: each whole minute below the floor is bad, a
    /// minute without a single request included, and the minute still counting is not judged yet.
    @Test func aMinuteBelowTheFloorIsBadAndAQuietMinuteToo() {
        let spec = SLOSpec(name: "t", kind: .throughput, objective: 0.9, windowSeconds: 3_600, minRequestsPerSecond: 10)
        let tracker = SLOTracker(spec: spec)
        let start = ContinuousClock.now
        // Minute 0: 900 requests (15/s, good). Minute 1: 300 (5/s, bad). Minute 2: nothing (bad). Minute 3: counting.
        for _ in 0..<900 { tracker.record(status: 200, durationNanos: 1_000_000, now: start) }
        for _ in 0..<300 { tracker.record(status: 200, durationNanos: 1_000_000, now: start + .seconds(61)) }
        for _ in 0..<5 { tracker.record(status: 200, durationNanos: 1_000_000, now: start + .seconds(185)) }
        let snapshot = tracker.snapshot(now: start + .seconds(190))
        #expect(snapshot.unit == "minutes")
        #expect(snapshot.total == 3 && snapshot.bad == 2, "\(snapshot)")
        // 2 bad minutes of 3 against a 10% allowance.
        #expect(abs(snapshot.budgetRemaining - (1 - (2.0 / 3) / 0.1)) < 1e-9)
        #expect(abs(snapshot.budgetSeconds - 360) < 1e-9, "10% of an hour")
        #expect(ServiceLevelReport.table([snapshot]).contains("3m"))
    }

    static let apiThroughput = """
        apiVersion: archway.dev/v1alpha1
        kind: ServiceLevelObjective
        metadata: {name: api-throughput, namespace: default}
        spec:
          targetRef: {group: gateway.networking.k8s.io, kind: HTTPRoute, name: api}
          type: Throughput
          objective: 90
          window: 30d
          minRequestsPerSecond: 100
        """

    @Test func itsRulesFireWhenTheRouteServesTooLittleForTooLong() throws {
        let loaded = ManifestLoader().parse(text: Self.apiThroughput, file: "slo.yaml")
        guard case .serviceLevelObjective(let slo) = loaded.resources.first?.resource else { Issue.record("\(loaded.errors)"); return }
        let missing = ManifestLoader().parse(text: Self.apiThroughput.replacingOccurrences(of: "  minRequestsPerSecond: 100", with: ""), file: "slo.yaml")
        #expect(missing.errors.map(\.description).contains { $0.contains("spec.minRequestsPerSecond: is required for type Throughput") }, "\(missing.errors)")
        let rules = ServiceLevelRules.yaml([slo])
        #expect(rules.contains(#"(sum(rate(gateway_http_requests_total{namespace="default",route_name="api"}[1m])) or vector(0)) < bool 100"#), "\(rules)")
        #expect(rules.contains(#"avg_over_time(slo:throughput_below:rate1m{slo="default/api-throughput"}[5m])"#), "\(rules)")
        guard let directory = try ServiceLevelTests.checkedByPromtool(rules) else { return }
        defer { try? FileManager.default.removeItem(at: directory) }
        // 50 requests/s against a floor of 100 for 150 minutes: every minute is bad, ten times the 10%
        // allowance. That fires every alert whose factor is under 10 (a 90% objective can never burn
        // at 14.4×); at 150 requests/s nothing does.
        let series = #"gateway_http_requests_total{gateway_name="gw",namespace="default",route_name="api",backend_name="svc",method="GET",status="200"}"#
        let test = """
        rule_files: [rules.yaml]
        evaluation_interval: 1m
        tests:
        - interval: 1m
          input_series:
          - series: '\(series)'
            values: '0+3000x200'
          alert_rule_test:
          - eval_time: 150m
            alertname: SLOErrorBudgetBurn
            exp_alerts:
            - exp_labels: {severity: page, slo: default/api-throughput, long_window: 6h}
              exp_annotations: {summary: 'default/api-throughput is spending its error budget 6x too fast (6h and 30m windows)'}
            - exp_labels: {severity: ticket, slo: default/api-throughput, long_window: 1d}
              exp_annotations: {summary: 'default/api-throughput is spending its error budget 3x too fast (1d and 2h windows)'}
            - exp_labels: {severity: ticket, slo: default/api-throughput, long_window: 3d}
              exp_annotations: {summary: 'default/api-throughput is spending its error budget 1x too fast (3d and 6h windows)'}
        - interval: 1m
          input_series:
          - series: '\(series)'
            values: '0+9000x200'
          alert_rule_test:
          - eval_time: 150m
            alertname: SLOErrorBudgetBurn
            exp_alerts: []
        """
        try test.write(to: directory.appendingPathComponent("test.yaml"), atomically: true, encoding: .utf8)
        let unit = try ExternalTool.run("promtool", ["test", "rules", directory.appendingPathComponent("test.yaml").path])
        #expect(unit.status == 0, "\(unit.stdout)\(unit.stderr)")
    }
}
