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
        output.stderr += migration.notes.map { "note: \($0)" }
        output.stderr += migration.report.map(\.description)
        do {
            let yaml = try Manifest.yaml(migration.documents)
            output.stdout = json ? try Manifest.json(migration.documents) : yaml
            if verify {
                let certificates = TLSContextCache()
                let result = MigrationVerifier.verify(input: snapshot, generated: yaml, inputResources: resources,
                                                      accepted: migration.accepted,
                                                      certificateCheck: { certificates.problem(chainPEM: $0, keyPEM: $1) })
                output.stderr += verifyReport(result)
                // Accepted differences are listed, not failed: the conversion cannot do better with Gateway API.
                if !result.differences.isEmpty || !result.loadErrors.isEmpty || !result.routeProblems.isEmpty {
                    output.exitCode = 1
                }
            }
        } catch {
            output.stderr.append("error: cannot write manifests: \(error)")
            output.exitCode = 1
        }
        if !load.errors.isEmpty { output.exitCode = 1 }
        return output
    }

    /// The `verify:` lines: what was substituted, what does not load, every difference (defects
    /// first, then each accepted difference with the probes it explains), and the count. The command
    /// fails on the defects; accepted differences are what Gateway API cannot say, listed so that
    /// nobody learns of them in production.
    static func verifyReport(_ result: Verification) -> [String] {
        var lines = result.substitutedSecrets.map { "verify: \($0)" }
        lines += result.loadErrors.map { "verify: generated manifests do not load: \($0)" }
        lines += result.routeProblems.map { "verify: generated route not accepted as it is: \($0)" }
        lines += result.differences.map { "verify: differs: \($0)" }
        for accepted in result.accepted {
            lines.append("verify: accepted: \(accepted.difference) (\(accepted.probes.count) probes)")
            lines += accepted.probes.map { "verify: differs (accepted): \($0)" }
        }
        let total = result.differences.count + result.acceptedProbes
        lines.append("verify: \(result.probes) probes, \(total) differ"
            + (result.accepted.isEmpty ? "" : ": \(result.acceptedProbes) accepted, \(result.differences.count) not"))
        return lines
    }

    public static func inventory(inputs: [String], json: Bool) -> Output {
        inventory(load: ManifestLoader().load(paths: inputs), json: json)
    }

    /// What `inventory` and `migrate` read from a cluster: the Ingresses, their classes, the Services
    /// and EndpointSlices behind them, Namespaces, the KongPlugins and Traefik Middlewares they name,
    /// the TLS Secrets they name, and on GKE the FrontendConfigs and BackendConfigs of GCE Ingresses.
    public static func readCluster(_ connection: KubeConnection, logger: Logger = Logger(label: "archway")) async throws -> ManifestLoader.Result {
        let client = try KubeClient(connection: connection)
        do {
            let load = try await KubernetesProvider.readOnce(
                client: client, kinds: [.ingress, .ingressClass, .service, .endpointSlice, .namespace, .frontendConfig, .backendConfig]
                    + KubeKind.ingressExtensions, logger: logger)
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
