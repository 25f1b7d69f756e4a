import DataPlane
import Foundation
import Observability
import Translator

/// The live error budgets: exported as gauges and as the admin endpoint's /slo document, and read
/// back by `archway slo status`.
public enum ServiceLevelReport {
    static func publish(_ snapshots: [SLOTracker.Snapshot], metrics: GatewayMetrics, admin: AdminServer) {
        let sorted = snapshots.sorted { $0.name < $1.name }
        for snapshot in sorted {
            metrics.setSLO(name: snapshot.name, budgetRemaining: snapshot.budgetRemaining, burnRate5m: snapshot.burnRate5m,
                           burnRate1h: snapshot.burnRate1h, exhaustionSeconds: snapshot.exhaustionSeconds)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        if let data = try? encoder.encode(sorted) { admin.setSLOs(String(decoding: data, as: UTF8.self) + "\n") }
    }

    /// A table for people: one line per objective.
    public static func table(_ snapshots: [SLOTracker.Snapshot]) -> String {
        // A Throughput objective counts minutes, not requests: its counts carry an "m".
        var out = "SLO                                  REQUESTS   BAD  BUDGET LEFT  BURN 5m  BURN 1h  EXHAUSTED IN\n"
        for s in snapshots {
            let left = String(format: "%.1f%%", s.budgetRemaining * 100)
            let exhausted = s.exhaustionSeconds.map(Translator.describe(seconds:)) ?? "not burning"
            out += s.name.padding(toLength: 36, withPad: " ", startingAt: 0) + " "
                + (String(s.total) + (s.unit == "minutes" ? "m" : "")).leftPadded(8) + " " + (String(s.bad) + (s.unit == "minutes" ? "m" : "")).leftPadded(5)
                + " " + left.leftPadded(12) + " "
                + String(format: "%.2f", s.burnRate5m).leftPadded(8) + " " + String(format: "%.2f", s.burnRate1h).leftPadded(8) + "  " + exhausted + "\n"
        }
        return out
    }
}

private extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
