import ArchwayCore
import ArgumentParser
import Foundation

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert networking.k8s.io/v1 Ingresses to Gateway API manifests (stdout); report every annotation (stderr).")

    enum Format: String, ExpressibleByArgument { case yaml, json }

    @Option(name: .long, help: "An Ingress manifest file or a directory (repeatable); Services there resolve named ports.")
    var input: [String] = []

    @Option(name: .long, help: "GatewayClass of the generated Gateways.")
    var gatewayClass = "archway"

    @Option(name: .long, help: "Namespace of the generated Gateways (default: the Ingresses' own when they share one, else default).")
    var gatewayNamespace: String?

    @Option(name: .shortAndLong, help: "yaml or json.")
    var output = Format.yaml

    @Flag(name: .long, help: "Probe the Ingresses and the generated routes with the same requests; exit 1 if any routing decision differs.")
    var verify = false

    func validate() throws {
        if input.isEmpty { throw ValidationError("at least one --input FILE_OR_DIR is required") }
    }

    func run() async throws {
        let result = MigrationRun.migrate(inputs: input, gatewayClass: gatewayClass, gatewayNamespace: gatewayNamespace,
                                          json: output == .json, verify: verify)
        print(result.stdout, terminator: "")
        for line in result.stderr { FileHandle.standardError.write(Data((line + "\n").utf8)) }
        if result.exitCode != 0 { throw ExitCode(result.exitCode) }
    }
}

struct Inventory: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Count the Ingresses by namespace and class, their annotations (and how each converts), hosts, paths and TLS.")

    enum Format: String, ExpressibleByArgument { case table, json }

    @Option(name: .long, help: "An Ingress manifest file or a directory (repeatable).")
    var input: [String] = []

    @Option(name: .shortAndLong, help: "table or json.")
    var output = Format.table

    func validate() throws {
        if input.isEmpty { throw ValidationError("at least one --input FILE_OR_DIR is required") }
    }

    func run() async throws {
        let result = MigrationRun.inventory(inputs: input, json: output == .json)
        print(result.stdout, terminator: "")
        for line in result.stderr { FileHandle.standardError.write(Data((line + "\n").utf8)) }
        if result.exitCode != 0 { throw ExitCode(result.exitCode) }
    }
}
