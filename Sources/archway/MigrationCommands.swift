import ArchwayCore
import ArgumentParser
import Foundation
import GatewayAPI

/// Where `migrate` and `inventory` read Ingresses from: manifest files, or the cluster.
struct IngressSource: ParsableArguments {
    @Option(name: .long, help: "An Ingress manifest file or a directory (repeatable); Services there resolve named ports.")
    var input: [String] = []

    @Flag(name: .long, help: "Read the Ingresses (and their classes, Services, EndpointSlices, Namespaces and TLS Secrets) from the cluster instead of --input.")
    var fromCluster = false

    @OptionGroup var cluster: ClusterConnectionOptions

    func validate() throws {
        if input.isEmpty == !fromCluster { throw ValidationError("give either --input FILE_OR_DIR (repeatable) or --from-cluster") }
    }

    /// The resources, and a name for where they came from.
    func load() async throws -> (load: ManifestLoader.Result, from: String) {
        if fromCluster { return (try await MigrationRun.readCluster(try cluster.connection()), "the cluster") }
        return (ManifestLoader().load(paths: input), input.joined(separator: ", "))
    }
}

extension MigrationRun.Output {
    /// stdout, stderr line by line, and the exit code.
    func emit() throws {
        print(stdout, terminator: "")
        for line in stderr { FileHandle.standardError.write(Data((line + "\n").utf8)) }
        if exitCode != 0 { throw ExitCode(exitCode) }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert networking.k8s.io/v1 Ingresses to Gateway API manifests (stdout); report every annotation (stderr).")

    enum Format: String, ExpressibleByArgument { case yaml, json }

    @OptionGroup var source: IngressSource

    @Option(name: .long, help: "GatewayClass of the generated Gateways.")
    var gatewayClass = "archway"

    @Option(name: .long, help: "Namespace of the generated Gateways (default: the Ingresses' own when they share one, else default).")
    var gatewayNamespace: String?

    @Option(name: .shortAndLong, help: "yaml or json.")
    var output = Format.yaml

    @Flag(name: .long, help: "Probe the Ingresses and the generated routes with the same requests; exit 1 if any routing decision differs.")
    var verify = false

    func run() async throws {
        let (load, from) = try await source.load()
        try MigrationRun.migrate(load: load, from: from, gatewayClass: gatewayClass, gatewayNamespace: gatewayNamespace,
                                 json: output == .json, verify: verify).emit()
    }
}

struct Inventory: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Count the Ingresses by namespace and class, their annotations (and how each converts), hosts, paths and TLS.")

    enum Format: String, ExpressibleByArgument { case table, json }

    @OptionGroup var source: IngressSource

    @Option(name: .shortAndLong, help: "table or json.")
    var output = Format.table

    func run() async throws {
        try MigrationRun.inventory(load: try await source.load().load, json: output == .json).emit()
    }
}
