import ArchwayCore
import Foundation
import GatewayAPI
import RoutingTable
import Testing
import Translator
import Yams

/// Beside each fixture's hand-written `Expect`, its whole output: every status as `archway status -o
/// yaml` shows it and the whole routing table (the IR the data plane compiles), in
/// `<fixture>.out.yaml`. A change to any status or IR field then shows up in review as a diff of
/// these files. Regenerate them with `ARCHWAY_REGENERATE_GOLDEN=1 swift test --filter GoldenOutputTests`.
enum GoldenOutput {
    static let suffix = ".out.yaml"
    /// The source tree's fixtures (not the test bundle's copy): where regenerated files must go.
    static let sourceDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    struct Document: Encodable {
        var statuses: [StatusReport.Item]
        var table: RoutingTable
        /// The certificates Gateways ask archway to obtain; left out when there are none.
        var certificates: [ManagedCertificate]?
    }

    static func render(fixture text: String, name: String) throws -> String {
        let loaded = ManifestLoader().parse(text: text, file: name)
        let snapshot = FixtureTests.snapshot(loaded)
        let result = FixtureTests.translator.translate(snapshot)
        // A fixed clock: lastTransitionTime must not change the file.
        let report = StatusReport(snapshot: snapshot, statuses: result.statuses, timestamp: Date(timeIntervalSince1970: 0))
        let encoder = YAMLEncoder()
        encoder.options.sortKeys = true
        return "# The whole translator output for \(name): regenerate with ARCHWAY_REGENERATE_GOLDEN=1 (see GoldenOutputTests.swift).\n"
            + (try encoder.encode(Document(statuses: report.items, table: result.table,
                                           certificates: result.certificates.isEmpty ? nil : result.certificates)))
    }
}

struct GoldenOutputTests {
    @Test(arguments: FixtureTests.names)
    func goldenOutput(_ name: String) throws {
        let text = try String(contentsOfFile: FixtureTests.directory.appendingPathComponent(name).path, encoding: .utf8)
        let actual = try GoldenOutput.render(fixture: text, name: name)
        let golden = GoldenOutput.sourceDirectory.appendingPathComponent(String(name.dropLast(".yaml".count)) + GoldenOutput.suffix)
        if ProcessInfo.processInfo.environment["ARCHWAY_REGENERATE_GOLDEN"] != nil {
            try actual.write(to: golden, atomically: true, encoding: .utf8)
            return
        }
        guard let expected = try? String(contentsOf: golden, encoding: .utf8) else {
            Issue.record("\(golden.lastPathComponent) is missing: run ARCHWAY_REGENERATE_GOLDEN=1 swift test --filter GoldenOutputTests and review it")
            return
        }
        guard actual != expected else { return }
        let actualLines = actual.split(separator: "\n", omittingEmptySubsequences: false)
        let expectedLines = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let first = zip(actualLines, expectedLines).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(actualLines.count, expectedLines.count)
        Issue.record("""
            \(golden.lastPathComponent) differs from the translator's output from line \(first + 1):
              golden: \(first < expectedLines.count ? expectedLines[first] : "(end of file)")
              now:    \(first < actualLines.count ? actualLines[first] : "(end of file)")
            If the change is intended, regenerate (ARCHWAY_REGENERATE_GOLDEN=1) and review the diff.
            """)
    }
}
