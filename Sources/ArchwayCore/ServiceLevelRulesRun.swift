import GatewayAPI
import Translator

extension ServiceLevelRules {
    /// The objectives in `paths` whose targets exist, and the problems with the others.
    public static func acceptedObjectives(paths: [String], controllerName: String) -> ([ServiceLevelObjective], [String]) {
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
        return (accepted, problems)
    }
}
