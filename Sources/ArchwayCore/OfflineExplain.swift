import DataPlane
import RoutingTable
import Translator

/// `archway explain --config`: the manifests translated and compiled as `serve` would, then the
/// request explained against that table (no endpoint health: nothing has been tried).
public enum OfflineExplain {
    public static func explain(_ query: ExplainQuery, paths: [String], controllerName: String,
                               ingress: IngressServing?) throws -> (loadErrors: [String], explanation: RequestExplanation) {
        let offline = OfflineTranslation(paths: paths, controllerName: controllerName, ingress: ingress)
        let table = try CompiledTable(offline.result.table)
        let explanation = RequestExplainer.explain(query, table: table, source: "manifests: \(paths.joined(separator: ", "))")
        return (offline.load.errors.map { "\($0)" }, explanation)
    }
}
