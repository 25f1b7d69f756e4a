import GatewayAPI
import Translator

extension ServiceLevelRules {
    /// The rules for the objectives in `paths` whose targets exist; problems (manifest errors, targets
    /// not found) are returned for stderr.
    public static func generate(paths: [String], controllerName: String) -> (yaml: String, problems: [String]) {
        let translation = OfflineTranslation(paths: paths, controllerName: controllerName)
        var problems = translation.load.errors.map(\.description)
        var accepted: [ServiceLevelObjective] = []
        for slo in translation.snapshot.serviceLevelObjectives {
            let conditions = translation.result.statuses.serviceLevelObjectives[slo.metadata.namespacedName] ?? []
            if let refused = conditions.first(where: { $0.type == "Accepted" && $0.status != "True" }) {
                problems.append("ServiceLevelObjective \(slo.metadata.namespacedName): \(refused.reason): \(refused.message)")
            } else {
                accepted.append(slo)
            }
        }
        return (yaml(accepted), problems)
    }
}
