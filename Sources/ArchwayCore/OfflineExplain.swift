import DataPlane
import GatewayAPI
import Logging
import Providers
import RoutingTable
import Translator

/// `archway explain --config` and `--from-cluster`: the objects translated and compiled as `serve`
/// would, then the request explained against that table (no endpoint health: nothing has been tried).
public enum OfflineExplain {
    public static func explain(_ query: ExplainQuery, paths: [String], controllerName: String,
                               ingress: IngressServing?) throws -> (loadErrors: [String], explanation: RequestExplanation) {
        try explain(query, load: ManifestLoader().load(paths: paths), origin: "manifests: \(paths.joined(separator: ", "))",
                    controllerName: controllerName, ingress: ingress)
    }

    /// Every kind `serve --kubernetes` watches whole (EndpointSlices included: they are the endpoints)
    /// and the Secrets and ConfigMaps they reference, read once.
    public static func explain(_ query: ExplainQuery, connection: KubeConnection, controllerName: String, ingress: IngressServing?,
                               logger: Logger = Logger(label: "archway")) async throws -> (loadErrors: [String], explanation: RequestExplanation) {
        let client = try KubeClient(connection: connection)
        let load: ManifestLoader.Result
        do {
            let kinds = KubeKind.watchedWhole.filter { !KubeKind.ingressExtensions.contains($0) }
            load = try await KubernetesProvider.readObjects(client: client, kinds: kinds, logger: logger).load()
            await client.shutdown()
        } catch {
            await client.shutdown()
            throw error
        }
        return try explain(query, load: load, origin: "the cluster (\(connection.server)), translated here as archway would",
                           controllerName: controllerName, ingress: ingress)
    }

    static func explain(_ query: ExplainQuery, load: ManifestLoader.Result, origin: String, controllerName: String,
                        ingress: IngressServing?) throws -> (loadErrors: [String], explanation: RequestExplanation) {
        let offline = OfflineTranslation(load: load, controllerName: controllerName, ingress: ingress)
        let table = try CompiledTable(offline.result.table)
        return (offline.load.errors.map { "\($0)" }, RequestExplainer.explain(query, table: table, source: origin))
    }
}
