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

    @Flag(name: .long, help: "Read the Ingresses (and their Services, EndpointSlices and TLS Secrets) from the cluster instead of --input.")
    var fromCluster = false

    @OptionGroup var cluster: ClusterConnectionOptions

    func validate() throws {
        if input.isEmpty == !fromCluster { throw ValidationError("give either --input FILE_OR_DIR (repeatable) or --from-cluster") }
    }

    func run() async throws {
        let result = fromCluster
            ? MigrationRun.migrate(load: try await MigrationRun.readCluster(try cluster.connection()), from: "the cluster", gatewayClass: gatewayClass,
                                   gatewayNamespace: gatewayNamespace, json: output == .json, verify: verify)
            : MigrationRun.migrate(inputs: input, gatewayClass: gatewayClass, gatewayNamespace: gatewayNamespace,
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

    @Flag(name: .long, help: "Read the Ingresses from the cluster instead of --input.")
    var fromCluster = false

    @OptionGroup var cluster: ClusterConnectionOptions

    func validate() throws {
        if input.isEmpty == !fromCluster { throw ValidationError("give either --input FILE_OR_DIR (repeatable) or --from-cluster") }
    }

    func run() async throws {
        let result = fromCluster
            ? MigrationRun.inventory(load: try await MigrationRun.readCluster(try cluster.connection()), json: output == .json)
            : MigrationRun.inventory(inputs: input, json: output == .json)
        print(result.stdout, terminator: "")
        for line in result.stderr { FileHandle.standardError.write(Data((line + "\n").utf8)) }
        if result.exitCode != 0 { throw ExitCode(result.exitCode) }
    }
}
