import GatewayAPI
import RoutingTable

extension Translator {
    /// Each ServiceLevelObjective whose target exists is tracked: its spec goes into the table and its
    /// name onto the target's route entries (every route attached through a targeted Gateway).
    func resolveServiceLevels(_ snapshot: ResourceSnapshot, into statuses: inout StatusSet, builder: inout TableBuilder) {
        let gateways = Set(snapshot.gateways.map(\.metadata.namespacedName))
        let httpRoutes = Set(snapshot.httpRoutes.map(\.metadata.namespacedName))
        let grpcRoutes = Set(snapshot.grpcRoutes.map(\.metadata.namespacedName))
        for slo in snapshot.serviceLevelObjectives {
            let name = slo.metadata.namespacedName
            let target = NamespacedName(name.namespace, slo.spec.targetRef.name)
            let exists = switch slo.spec.targetRef.kind {
            case "Gateway": gateways.contains(target)
            case "HTTPRoute": httpRoutes.contains(target)
            case "GRPCRoute": grpcRoutes.contains(target)
            default: false
            }
            let generation = slo.metadata.generation ?? 1
            guard exists, let window = ServiceLevelObjective.windowSeconds(slo.spec.window) else {
                statuses.serviceLevelObjectives[name] = [Condition(type: "Accepted", status: false, reason: "TargetNotFound",
                                                                   message: "\(slo.spec.targetRef.kind) \(target) not found", observedGeneration: generation)]
                continue
            }
            let kind: SLOSpec.Kind = switch slo.spec.type {
            case .Availability: .availability
            case .Latency: .latency
            case .Throughput: .throughput
            }
            let spec = SLOSpec(name: name.description, kind: kind, objective: slo.spec.objective / 100, windowSeconds: window,
                               latencyThresholdMillis: slo.spec.latencyThreshold.flatMap(parseGatewayDuration),
                               minRequestsPerSecond: slo.spec.minRequestsPerSecond)
            builder.slos[name.description] = spec
            builder.sloTargets["\(slo.spec.targetRef.kind) \(target)", default: []].append(name.description)
            let budget = ServiceLevelObjective.budgetSeconds(objectivePercent: slo.spec.objective, windowSeconds: window)
            statuses.serviceLevelObjectives[name] = [Condition(type: "Accepted", status: true, reason: "Accepted",
                                                               message: "error budget \(Self.describe(seconds: budget)) over \(slo.spec.window)"
                                                                   + (slo.spec.minRequestsPerSecond.map { " below \(ServiceLevelRules.trimmed($0)) requests/second" } ?? ""),
                                                               observedGeneration: generation)]
        }
    }

    /// 2592 s → "43.2 minutes"; 15552 s → "4.32 hours".
    public static func describe(seconds: Double) -> String {
        func trimmed(_ value: Double) -> String {
            let rounded = (value * 100).rounded() / 100
            return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
        }
        if seconds >= 86_400 { return "\(trimmed(seconds / 86_400)) days" }
        if seconds >= 3_600 { return "\(trimmed(seconds / 3_600)) hours" }
        if seconds >= 60 { return "\(trimmed(seconds / 60)) minutes" }
        return "\(trimmed(seconds)) seconds"
    }
}
