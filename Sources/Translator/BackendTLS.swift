import GatewayAPI
import RoutingTable

/// BackendTLSPolicies resolved per Service (and port name, when the targetRef has a sectionName).
struct BackendTLSIndex {
    private var byService: [NamespacedName: [(sectionName: String?, tls: UpstreamTLS)]] = [:]
    /// Services (or ports) an unusable policy asks TLS for: fail closed, never plaintext.
    private var refusedByService: [NamespacedName: [(sectionName: String?, reason: String)]] = [:]

    mutating func add(_ tls: UpstreamTLS, service: NamespacedName, sectionName: String?) {
        byService[service, default: []].append((sectionName, tls))
    }

    mutating func refuse(service: NamespacedName, sectionName: String?, reason: String) {
        refusedByService[service, default: []].append((sectionName, reason))
    }

    /// Why this Service port may not be reached, when a policy that cannot be used asks TLS for it
    /// and no usable one covers it.
    func refusal(service: NamespacedName, portName: String?) -> String? {
        guard tls(service: service, portName: portName) == nil else { return nil }
        let refused = refusedByService[service] ?? []
        return (refused.first { $0.sectionName != nil && $0.sectionName == portName } ?? refused.first { $0.sectionName == nil })?.reason
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
    /// used is not applied, and says why (Accepted=False / ResolvedRefs=False). Valid policies that
    /// select the same Service and sectionName conflict: the spec keeps the older one (then the first by
    /// namespace/name) and marks the others Accepted=False/Conflicted, so they are not applied anywhere.
    /// Its status lists every Gateway of ours as an ancestor.
    func resolveBackendTLS(_ snapshot: ResourceSnapshot, gateways: [Gateway], into statuses: inout StatusSet) -> BackendTLSIndex {
        var index = BackendTLSIndex()
        /// (Service, sectionName) → the policy that holds it. Only valid policies claim a target: a
        /// broken policy must not take a working one out of service.
        var claimed: [BackendTLSTarget: String] = [:]
        for policy in snapshot.backendTLSPolicies.sorted(by: Self.takesPrecedence) {
            let namespace = policy.metadata.namespace ?? "default"
            let generation = policy.metadata.generation ?? 1
            let name = "\(namespace)/\(policy.metadata.name)"
            var problem: (accepted: String, refs: String?, message: String)?
            switch Self.caBundle(policy.spec.validation, namespace: namespace, snapshot: snapshot) {
            case .failure(let invalid): problem = (invalid.accepted, invalid.refs, invalid.message)
            case .success(let caPEM?) where options.caBundleCheck?(caPEM) != nil:
                problem = ("NoValidCACertificate", "InvalidCACertificateRef",
                           "the CA certificates its caCertificateRefs hold cannot be used: \(options.caBundleCheck?(caPEM) ?? "")")
            case .success(let caPEM):
                let targets = policy.spec.targetRefs.filter { ($0.group ?? "").isEmpty && $0.kind == "Service" }
                    .map { BackendTLSTarget(service: NamespacedName(namespace, $0.name), sectionName: $0.sectionName) }
                if let taken = targets.first(where: { claimed[$0] != nil }) {
                    problem = ("Conflicted", nil,
                               "BackendTLSPolicy \(claimed[taken]!) also targets \(taken) and takes precedence (older, or first by namespace/name)")
                } else {
                    let tls = UpstreamTLS(hostname: policy.spec.validation.hostname, caPEM: caPEM, policy: name,
                                          subjectAltNames: Self.subjectAltNames(policy.spec.validation))
                    for target in targets {
                        claimed[target] = name
                        index.add(tls, service: target.service, sectionName: target.sectionName)
                    }
                }
            }
            if let problem, problem.accepted != "Conflicted" {
                // The policy's owner asked for TLS: until the policy can be used, nothing goes there in plaintext.
                for target in policy.spec.targetRefs where (target.group ?? "").isEmpty && target.kind == "Service" {
                    index.refuse(service: NamespacedName(namespace, target.name), sectionName: target.sectionName,
                                 reason: "BackendTLSPolicy \(name) asks for TLS to this backend but cannot be used: \(problem.message)")
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
            }
            if problem == nil || problem?.accepted == "Conflicted" {
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

    /// The spec's order between policies on one target: older first (RFC 3339 in UTC sorts as text; a
    /// missing timestamp counts as newest), then "namespace/name".
    static func takesPrecedence(_ a: BackendTLSPolicy, over b: BackendTLSPolicy) -> Bool {
        let (ca, cb) = (a.metadata.creationTimestamp ?? "~", b.metadata.creationTimestamp ?? "~")
        if ca != cb { return ca < cb }
        return "\(a.metadata.namespacedName)" < "\(b.metadata.namespacedName)"
    }

    struct InvalidValidation: Error {
        var accepted: String
        var refs: String?
        var message: String
    }

    /// The CA bundle a policy's validation names (nil for the system roots), or why it cannot be used.
    static func caBundle(_ validation: BackendTLSPolicy.Validation, namespace: String,
                         snapshot: ResourceSnapshot) -> Swift.Result<String?, InvalidValidation> {
        let refs = validation.caCertificateRefs ?? []
        if refs.isEmpty == (validation.wellKnownCACertificates == nil) {
            return .failure(.init(accepted: "Invalid", message: "exactly one of caCertificateRefs and wellKnownCACertificates must be set"))
        }
        if let wellKnown = validation.wellKnownCACertificates {
            guard wellKnown == "System" else {
                return .failure(.init(accepted: "Invalid", message: "wellKnownCACertificates \"\(wellKnown)\" is not supported (only System)"))
            }
            return .success(nil)
        }
        var bundle = ""
        for ref in refs {
            guard (ref.group ?? "").isEmpty, ref.kind == "ConfigMap" else {
                return .failure(.init(accepted: "NoValidCACertificate", refs: "InvalidKind", message: "caCertificateRef \(ref.kind) \(ref.name) is not a ConfigMap"))
            }
            guard let pem = snapshot.configMaps[NamespacedName(namespace, ref.name)]?.data?["ca.crt"],
                  pem.contains("-----BEGIN CERTIFICATE-----") else {
                return .failure(.init(accepted: "NoValidCACertificate", refs: "InvalidCACertificateRef",
                                      message: "ConfigMap \(namespace)/\(ref.name) does not exist or has no PEM certificate under ca.crt"))
            }
            bundle += pem.hasSuffix("\n") ? pem : pem + "\n"
        }
        return .success(bundle)
    }
}

/// What a BackendTLSPolicy targetRef selects: a Service, or one named port of it.
struct BackendTLSTarget: Hashable, CustomStringConvertible {
    var service: NamespacedName
    var sectionName: String?
    var description: String { "Service \(service)" + (sectionName.map { " port \($0)" } ?? "") }
}

extension Translator {
    /// The policy's subjectAltNames as the data plane checks them; entries without the value their
    /// type names are left out (the CRD's validation refuses them before they reach us).
    static func subjectAltNames(_ validation: BackendTLSPolicy.Validation) -> [SubjectAltName] {
        (validation.subjectAltNames ?? []).compactMap { name in
            switch name.type {
            case "Hostname": name.hostname.map { SubjectAltName(kind: .hostname, value: $0) }
            case "URI": name.uri.map { SubjectAltName(kind: .uri, value: $0) }
            default: nil
            }
        }
    }
}
