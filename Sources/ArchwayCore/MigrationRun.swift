import DataPlane
import GatewayAPI
import Logging
import Migrate
import Providers
import Translator

/// `archway migrate` and `archway inventory` without the command line, so tests run them in-process.
public enum MigrationRun {
    public struct Output: Sendable {
        public var stdout = ""
        public var stderr: [String] = []
        public var exitCode: Int32 = 0
    }

    public static func migrate(inputs: [String], gatewayClass: String, gatewayNamespace: String?, json: Bool, verify: Bool) -> Output {
        migrate(load: ManifestLoader().load(paths: inputs), from: inputs.joined(separator: ", "), gatewayClass: gatewayClass,
                gatewayNamespace: gatewayNamespace, json: json, verify: verify)
    }

    /// `from` names where the resources came from, for the message when there is no Ingress.
    public static func migrate(load: ManifestLoader.Result, from: String, gatewayClass: String, gatewayNamespace: String?, json: Bool,
                               verify: Bool) -> Output {
        var output = Output()
        output.stderr += load.errors.map { "error: \($0)" }
        let resources = load.resources.map(\.resource)
        let snapshot = ResourceSnapshot(resources)
        if snapshot.ingresses.isEmpty {
            output.stderr.append("error: no networking.k8s.io/v1 Ingress in \(from)")
            output.exitCode = 1
            return output
        }
        let migration = IngressConverter.convert(snapshot, options: MigrationOptions(gatewayClass: gatewayClass, gatewayNamespace: gatewayNamespace))
        output.stderr += migration.report.map(\.description)
        do {
            let yaml = try Manifest.yaml(migration.documents)
            output.stdout = json ? try Manifest.json(migration.documents) : yaml
            if verify {
                let certificates = TLSContextCache()
                let result = MigrationVerifier.verify(input: snapshot, generated: yaml, inputResources: resources, gatewayClass: gatewayClass,
                                                      certificateCheck: { certificates.problem(chainPEM: $0, keyPEM: $1) })
                output.stderr += result.loadErrors.map { "verify: generated manifests do not load: \($0)" }
                for difference in result.differences { output.stderr.append("verify: differs: \(difference)") }
                output.stderr.append("verify: \(result.probes) probes, \(result.differences.count) differ")
                if !result.differences.isEmpty || !result.loadErrors.isEmpty { output.exitCode = 1 }
            }
        } catch {
            output.stderr.append("error: cannot write manifests: \(error)")
            output.exitCode = 1
        }
        if !load.errors.isEmpty { output.exitCode = 1 }
        return output
    }

    public static func inventory(inputs: [String], json: Bool) -> Output {
        inventory(load: ManifestLoader().load(paths: inputs), json: json)
    }

    /// What `inventory` and `migrate` read from a cluster: the Ingresses, their classes, the Services
    /// and EndpointSlices behind them, Namespaces, and the TLS Secrets they name.
    public static func readCluster(_ connection: KubeConnection, logger: Logger = Logger(label: "archway")) async throws -> ManifestLoader.Result {
        let client = try KubeClient(connection: connection)
        do {
            let load = try await KubernetesProvider.readOnce(
                client: client, kinds: [.ingress, .ingressClass, .service, .endpointSlice, .namespace], logger: logger)
            await client.shutdown()
            return load
        } catch {
            await client.shutdown()
            throw error
        }
    }

    public static func inventory(load: ManifestLoader.Result, json: Bool) -> Output {
        var output = Output()
        output.stderr += load.errors.map { "error: \($0)" }
        let inventory = IngressInventory(ResourceSnapshot(load.resources.map(\.resource)))
        output.stdout = json ? ((try? inventory.json()) ?? "{}") : inventory.table()
        if !load.errors.isEmpty { output.exitCode = 1 }
        return output
    }
}
