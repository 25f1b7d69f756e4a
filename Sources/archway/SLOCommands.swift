import ArchwayCore
import ArgumentParser
import DataPlane
import Foundation
import Translator

struct SLO: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slo", abstract: "ServiceLevelObjectives: Prometheus rules for them, and their live error budgets.",
        subcommands: [Rules.self, Budget.self])

    struct Rules: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print Prometheus recording and burn-rate alerting rules for every ServiceLevelObjective (exit 1 if any is invalid).")

        @OptionGroup var options: ConfigOptions

        enum Format: String, ExpressibleByArgument { case rules, prometheusrule }

        @Option(name: .shortAndLong, help: "rules (a Prometheus rule file) or prometheusrule (a Prometheus Operator PrometheusRule).")
        var output = Format.rules

        @Option(name: .long, help: "The PrometheusRule's name.")
        var ruleName = "archway-slos"

        @Option(name: .long, help: "The PrometheusRule's namespace.")
        var ruleNamespace = "monitoring"

        @Option(name: .long, help: "A label the Prometheus Operator's ruleSelector wants on the PrometheusRule, KEY=VALUE (repeatable), e.g. release=kube-prometheus-stack.")
        var ruleLabel: [String] = []

        func validate() throws {
            try options.requireConfig()
            for label in ruleLabel where !label.contains("=") { throw ValidationError("--rule-label takes KEY=VALUE, got \(label)") }
        }

        func run() async throws {
            let (objectives, problems) = ServiceLevelRules.acceptedObjectives(paths: options.config, controllerName: options.controllerName)
            switch output {
            case .rules: print(ServiceLevelRules.yaml(objectives), terminator: "")
            case .prometheusrule:
                let labels = ruleLabel.map { label in
                    let parts = label.split(separator: "=", maxSplits: 1).map(String.init)
                    return (parts[0], parts.count > 1 ? parts[1] : "")
                }
                print(ServiceLevelRules.prometheusRule(objectives, name: ruleName, namespace: ruleNamespace, labels: labels), terminator: "")
            }
            for problem in problems { FileHandle.standardError.write(Data((problem + "\n").utf8)) }
            if !problems.isEmpty { throw ExitCode(1) }
        }
    }

    struct Budget: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status", abstract: "Show the live error budget of every ServiceLevelObjective a running archway tracks.")

        enum Format: String, ExpressibleByArgument { case table, json }

        @Option(name: .long, help: "The running archway's admin endpoint.")
        var admin = HostPort(argument: "127.0.0.1:9901")!

        @Option(name: .shortAndLong, help: "table or json.")
        var output = Format.table

        func run() async throws {
            let data = try await AdminReader.get(host: admin.host, port: admin.port, path: "/slo")
            if output == .json { return print(String(decoding: data, as: UTF8.self), terminator: "") }
            let snapshots = try JSONDecoder().decode([SLOTracker.Snapshot].self, from: data)
            print(ServiceLevelReport.table(snapshots), terminator: "")
        }
    }
}
