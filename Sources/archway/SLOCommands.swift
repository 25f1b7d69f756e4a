import ArchwayCore
import ArgumentParser
import Foundation
import RoutingTable
import Translator

struct SLO: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slo", abstract: "ServiceLevelObjectives: Prometheus rules for them, and their live error budgets.",
        subcommands: [Rules.self, Budget.self])

    struct Rules: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print Prometheus recording and burn-rate alerting rules for every ServiceLevelObjective (exit 1 if any is invalid).")

        @OptionGroup var options: ConfigOptions

        func validate() throws { try options.requireConfig() }

        func run() async throws {
            let (yaml, problems) = ServiceLevelRules.generate(paths: options.config, controllerName: options.controllerName)
            print(yaml, terminator: "")
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
