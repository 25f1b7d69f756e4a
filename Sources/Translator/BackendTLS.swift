import GatewayAPI
import RoutingTable

/// BackendTLSPolicies resolved per Service (and port name, when the targetRef has a sectionName).
struct BackendTLSIndex {
    private var byService: [NamespacedName: [(sectionName: String?, tls: UpstreamTLS)]] = [:]

    mutating func add(_ tls: UpstreamTLS, service: NamespacedName, sectionName: String?) {
        byService[service, default: []].append((sectionName, tls))
    }

    /// A policy naming the port wins over one naming the whole Service.
    func tls(service: NamespacedName, portName: String?) -> UpstreamTLS? {
        let policies = byService[service] ?? []
        return policies.first { $0.sectionName != nil && $0.sectionName == portName }?.tls
            ?? policies.first { $0.sectionName == nil }?.tls
    }
}

extension Translator {
    /// Validates each BackendTLSPolicy: CA certificates from ConfigMaps in the policy's namespace (key
    /// `ca.crt`) or `wellKnownCACertificates: System`, exactly one of the two. A policy that cannot be
    /// used is not applied, and says why (Accepted=False / ResolvedRefs=False). Its status lists every
    /// Gateway of ours as an ancestor.
    func resolveBackendTLS(_ snapshot: ResourceSnapshot, gateways: [Gateway], into statuses: inout StatusSet) -> BackendTLSIndex {
        var index = BackendTLSIndex()
        for policy in snapshot.backendTLSPolicies {
            let namespace = policy.metadata.namespace ?? "default"
            let generation = policy.metadata.generation ?? 1
            let name = "\(namespace)/\(policy.metadata.name)"
            var problem: (accepted: String, refs: String?, message: String)?
            let validation = policy.spec.validation
            let refs = validation.caCertificateRefs ?? []
            var caPEM: String?
            if refs.isEmpty == (validation.wellKnownCACertificates == nil) {
                problem = ("Invalid", nil, "exactly one of caCertificateRefs and wellKnownCACertificates must be set")
            } else if let wellKnown = validation.wellKnownCACertificates, wellKnown != "System" {
                problem = ("Invalid", nil, "wellKnownCACertificates \"\(wellKnown)\" is not supported (only System)")
            } else if !refs.isEmpty {
                var bundle = ""
                for ref in refs {
                    guard (ref.group ?? "").isEmpty, ref.kind == "ConfigMap" else {
                        problem = ("NoValidCACertificate", "InvalidKind", "caCertificateRef \(ref.kind) \(ref.name) is not a ConfigMap")
                        break
                    }
                    guard let pem = snapshot.configMaps[NamespacedName(namespace, ref.name)]?.data?["ca.crt"],
                          pem.contains("-----BEGIN CERTIFICATE-----") else {
                        problem = ("NoValidCACertificate", "InvalidCACertificateRef",
                                   "ConfigMap \(namespace)/\(ref.name) does not exist or has no PEM certificate under ca.crt")
                        break
                    }
                    bundle += pem.hasSuffix("\n") ? pem : pem + "\n"
                }
                caPEM = bundle
            }
            if problem == nil {
                let tls = UpstreamTLS(hostname: validation.hostname, caPEM: caPEM, policy: name)
                for target in policy.spec.targetRefs where (target.group ?? "").isEmpty && target.kind == "Service" {
                    index.add(tls, service: NamespacedName(namespace, target.name), sectionName: target.sectionName)
                }
            }
            var conditions: [Condition] = []
            if let problem {
                conditions.append(Condition(type: "Accepted", status: false, reason: problem.accepted, message: problem.message, observedGeneration: generation))
                if let refs = problem.refs {
                    conditions.append(Condition(type: "ResolvedRefs", status: false, reason: refs, message: problem.message, observedGeneration: generation))
                }
            } else {
                conditions.append(Condition(type: "Accepted", status: true, reason: "Accepted", message: "Policy is accepted", observedGeneration: generation))
                conditions.append(Condition(type: "ResolvedRefs", status: true, reason: "ResolvedRefs", message: "CA certificates resolved", observedGeneration: generation))
            }
            let ancestors = gateways.map { gateway in
                PolicyStatus.Ancestor(ancestorRef: ParentReference(group: GatewayAPIGroup.name, kind: "Gateway",
                                                                   namespace: gateway.metadata.namespace ?? "default", name: gateway.metadata.name),
                                      controllerName: options.controllerName, conditions: conditions)
            }
            statuses.backendTLSPolicies[policy.metadata.namespacedName] = PolicyStatus(ancestors: ancestors)
        }
        return index
    }
}
