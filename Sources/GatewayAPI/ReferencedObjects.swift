extension ResourceSnapshot {
    /// `referencedObjects` of these resources, read from the kinds that name Secrets and ConfigMaps
    /// alone: a provider asks at every change, and at 10,000 routes a whole snapshot made for the
    /// question cost a third of what translating the change did.
    public static func referencedObjects(in resources: some Sequence<Resource>) -> Set<ObjectRef> {
        ResourceSnapshot(resources.filter { resource in
            switch resource {
            case .gateway, .listenerSet, .ingress, .backendTLSPolicy, .acmeIssuer: true
            default: false
            }
        }).referencedObjects
    }

    /// The Secrets and ConfigMaps that some resource names: what a provider that does not load every
    /// Secret of a cluster must fetch. Whether a reference is allowed (ReferenceGrant) is the
    /// translator's question, not this one's: a refused reference is still fetched so that it can be
    /// reported precisely.
    /// Only the kinds `referencedObjects(in:)` keeps are read here: a kind added below is added there.
    public var referencedObjects: Set<ObjectRef> {
        var refs: Set<ObjectRef> = []
        for gateway in gateways { refs.formUnion(gateway.tlsReferencedObjects) }
        // A ListenerSet's certificates are relative to its own namespace, as a Gateway's are to its.
        let listeners = gateways.map { ($0.metadata.namespace ?? "default", $0.spec.listeners) }
            + listenerSets.map { ($0.metadata.namespace ?? "default", $0.spec.listeners) }
        for (namespace, listeners) in listeners {
            for listener in listeners {
                for ref in listener.tls?.certificateRefs ?? [] where (ref.group ?? "").isEmpty && (ref.kind ?? "Secret") == "Secret" {
                    refs.insert(ObjectRef(kind: "Secret", namespace: ref.namespace ?? namespace, name: ref.name))
                }
            }
        }
        for ingress in ingresses {
            for tls in ingress.spec.tls ?? [] {
                guard let name = tls.secretName else { continue }
                refs.insert(ObjectRef(kind: "Secret", namespace: ingress.metadata.namespace ?? "default", name: name))
            }
        }
        for policy in backendTLSPolicies {
            for ref in policy.spec.validation.caCertificateRefs ?? [] where (ref.group ?? "").isEmpty && ["ConfigMap", "Secret"].contains(ref.kind) {
                refs.insert(ObjectRef(kind: ref.kind, namespace: policy.metadata.namespace ?? "default", name: ref.name))
            }
        }
        // An ACMEIssuer's EAB key and TSIG secret (namespace "default" when the ref names none).
        for issuer in acmeIssuers {
            for ref in [issuer.spec.externalAccountBinding?.keySecretRef, issuer.spec.dns01?.rfc2136.tsigSecretRef].compactMap({ $0 }) {
                refs.insert(ObjectRef(kind: "Secret", namespace: ref.namespace ?? "default", name: ref.name))
            }
        }
        return refs
    }
}
