import GatewayAPI
import RoutingTable

extension Translator {
    /// Resolves each BackendTrafficPolicy to the Services it targets. A Service claimed by an older
    /// policy (then by namespace/name) keeps that one; the later policy says it is Conflicted. Status
    /// lists every Gateway of ours as an ancestor, as for BackendTLSPolicy.
    func resolveBackendTraffic(_ snapshot: ResourceSnapshot, gateways: [Gateway], into statuses: inout StatusSet) -> [NamespacedName: BackendResilience] {
        var index: [NamespacedName: BackendResilience] = [:]
        var owner: [NamespacedName: String] = [:]
        let policies = snapshot.backendTrafficPolicies.sorted {
            ($0.metadata.creationTimestamp ?? "", $0.metadata.namespacedName) < ($1.metadata.creationTimestamp ?? "", $1.metadata.namespacedName)
        }
        for policy in policies {
            let namespace = policy.metadata.namespace ?? "default"
            let name = "\(namespace)/\(policy.metadata.name)"
            let resilience = Self.resilience(policy, name: name)
            var problems: [(reason: String, message: String)] = []
            for target in policy.spec.targetRefs {
                let service = NamespacedName(namespace, target.name)
                guard (target.group ?? "").isEmpty, target.kind == "Service" else {
                    problems.append(("InvalidKind", "targetRef \(target.kind) \(target.name) is not a Service"))
                    continue
                }
                guard snapshot.services[service] != nil else {
                    problems.append(("TargetNotFound", "Service \(service) not found"))
                    continue
                }
                if let holder = owner[service] {
                    problems.append(("Conflicted", "Service \(service) already has BackendTrafficPolicy \(holder)"))
                    continue
                }
                owner[service] = name
                index[service] = resilience
            }
            let generation = policy.metadata.generation ?? 1
            let condition = problems.first.map {
                Condition(type: "Accepted", status: false, reason: $0.reason, message: problems.map(\.message).joined(separator: "; "), observedGeneration: generation)
            } ?? Condition(type: "Accepted", status: true, reason: "Accepted", message: "Policy is accepted", observedGeneration: generation)
            statuses.backendTrafficPolicies[policy.metadata.namespacedName] = PolicyStatus(ancestors: gateways.map { gateway in
                PolicyStatus.Ancestor(ancestorRef: ParentReference(group: GatewayAPIGroup.name, kind: "Gateway",
                                                                   namespace: gateway.metadata.namespace ?? "default", name: gateway.metadata.name),
                                      controllerName: options.controllerName, conditions: [condition])
            })
        }
        return index
    }

    private static func resilience(_ policy: BackendTrafficPolicy, name: String) -> BackendResilience {
        let spec = policy.spec
        let millis = { (text: String?, fallback: Int) in text.flatMap(parseGatewayDuration) ?? fallback }
        let check = spec.healthCheck.map {
            BackendResilience.HealthCheck(path: $0.path ?? "/", intervalMillis: millis($0.interval, 5000), timeoutMillis: millis($0.timeout, 1000),
                                          unhealthyThreshold: $0.unhealthyThreshold ?? 3, healthyThreshold: $0.healthyThreshold ?? 2,
                                          expectedStatuses: $0.expectedStatuses ?? Array(200...399))
        }
        return BackendResilience(policy: name, maxConnections: spec.circuitBreaker?.maxConnections,
                                 maxPendingRequests: spec.circuitBreaker?.maxPendingRequests, maxRequests: spec.circuitBreaker?.maxRequests,
                                 consecutive5xx: spec.outlierDetection?.consecutive5xx,
                                 consecutiveConnectFailures: spec.outlierDetection?.consecutiveConnectFailures,
                                 baseEjectionMillis: millis(spec.outlierDetection?.baseEjectionTime, 30_000),
                                 maxEjectionMillis: millis(spec.outlierDetection?.maxEjectionTime, 300_000), healthCheck: check)
    }
}
