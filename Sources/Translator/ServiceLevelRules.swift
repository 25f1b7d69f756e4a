import Foundation
import GatewayAPI

/// `archway slo rules`: Prometheus recording rules for each ServiceLevelObjective's error ratio over
/// the windows the alerts need, and multi-window, multi-burn-rate alerts (the SRE workbook's: page at
/// 14.4× over 1h and 5m or 6× over 6h and 30m; ticket at 3× over 1d and 2h or 1× over 3d and 6h).
/// The expressions read archway's own series, so they work as written against its /metrics.
public enum ServiceLevelRules {
    static let windows = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]
    static let alerts: [(severity: String, factor: Double, long: String, short: String)] = [
        ("page", 14.4, "1h", "5m"), ("page", 6, "6h", "30m"), ("ticket", 3, "1d", "2h"), ("ticket", 1, "3d", "6h"),
    ]

    public static func yaml(_ objectives: [ServiceLevelObjective]) -> String {
        var out = "groups:\n"
        for slo in objectives.sorted(by: { $0.metadata.namespacedName < $1.metadata.namespacedName }) {
            let name = slo.metadata.namespacedName.description
            let group = "slo-" + name.replacingOccurrences(of: "/", with: "-")
            let allowed = 1 - slo.spec.objective / 100
            out += "- name: \(group)\n  rules:\n"
            if slo.spec.type == .Throughput {
                // Each minute below the floor (1) or not (0), recorded once: the windows average it
                // instead of each re-evaluating a subquery over days of raw samples.
                let threshold = trimmed(slo.spec.minRequestsPerSecond ?? 0)
                out += "  - record: slo:throughput_below:rate1m\n"
                out += "    expr: '(sum(rate(gateway_http_requests_total{\(selector(slo))}[1m])) or vector(0)) < bool \(threshold)'\n"
                out += "    labels:\n      slo: \(name)\n"
            }
            for window in windows {
                out += "  - record: slo:error_ratio:rate\(window)\n"
                out += "    expr: '\(errorRatio(slo, window: window))'\n"
                out += "    labels:\n      slo: \(name)\n"
            }
            for (index, alert) in alerts.enumerated() {
                let threshold = trimmed(alert.factor * allowed)
                out += "  - alert: SLOErrorBudgetBurn\n"
                out += "    expr: 'slo:error_ratio:rate\(alert.long){slo=\"\(name)\"} > \(threshold) and slo:error_ratio:rate\(alert.short){slo=\"\(name)\"} > \(threshold)'\n"
                out += "    for: \(index % 2 == 0 ? "2m" : "15m")\n"
                out += "    labels:\n      severity: \(alert.severity)\n      slo: \(name)\n      long_window: \(alert.long)\n"
                out += "    annotations:\n"
                out += "      summary: '\(name) is spending its error budget \(trimmed(alert.factor))x too fast (\(alert.long) and \(alert.short) windows)'\n"
            }
        }
        return out
    }

    /// The same groups as a Prometheus Operator `PrometheusRule` (monitoring.coreos.com/v1), which the
    /// operator loads by its labels (`ruleSelector`, often `release: <helm release>`).
    public static func prometheusRule(_ objectives: [ServiceLevelObjective], name: String, namespace: String,
                                      labels: [(String, String)]) -> String {
        var out = "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n  name: \(name)\n  namespace: \(namespace)\n"
        if !labels.isEmpty {
            out += "  labels:\n" + labels.map { "    \($0.0): \(quoted($0.1))\n" }.joined()
        }
        out += "spec:\n"
        out += yaml(objectives).split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "  " + $0 }.joined(separator: "\n")
        return out
    }

    /// A YAML scalar that stays a string whatever it holds ("true", "1.0", "a: b").
    private static func quoted(_ value: String) -> String { "'" + value.replacingOccurrences(of: "'", with: "''") + "'" }

    /// The bad share of requests over `window`, from archway's own counters and histogram.
    static func errorRatio(_ slo: ServiceLevelObjective, window: String) -> String {
        let selector = selector(slo)
        switch slo.spec.type {
        case .Availability:
            return "sum(rate(gateway_http_requests_total{\(selector),status=~\"5..\"}[\(window)])) / sum(rate(gateway_http_requests_total{\(selector)}[\(window)]))"
        case .Latency:
            let millis = slo.spec.latencyThreshold.flatMap(parseGatewayDuration) ?? 0
            let le = String(Double(millis) / 1000)
            return "1 - (sum(rate(gateway_http_request_duration_seconds_bucket{\(selector),le=\"\(le)\"}[\(window)])) / sum(rate(gateway_http_request_duration_seconds_count{\(selector)}[\(window)])))"
        case .Throughput:
            // The share of minutes in the window whose request rate fell below the floor (a minute
            // without a single request, no series at all, is below it too).
            return "avg_over_time(slo:throughput_below:rate1m{slo=\"\(slo.metadata.namespacedName)\"}[\(window)])"
        }
    }

    /// Routes by their namespace and name; a Gateway by its name (the series label the metrics carry).
    static func selector(_ slo: ServiceLevelObjective) -> String {
        let namespace = slo.metadata.namespace ?? "default"
        switch slo.spec.targetRef.kind {
        case "Gateway": return "gateway_name=\"\(slo.spec.targetRef.name)\""
        default: return "namespace=\"\(namespace)\",route_name=\"\(slo.spec.targetRef.name)\""
        }
    }

    static func trimmed(_ value: Double) -> String {
        let text = String(format: "%.6f", value)
        var trimmed = Substring(text)
        while trimmed.hasSuffix("0") { trimmed = trimmed.dropLast() }
        if trimmed.hasSuffix(".") { trimmed = trimmed.dropLast() }
        return String(trimmed)
    }
}
