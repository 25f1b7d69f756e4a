import GatewayAPI

/// One cross-namespace reference an object makes, and the ReferenceGrant that allows it (nil: none
/// does, and the reference is refused).
public struct ReferenceGrantUse: Sendable, Codable, Equatable {
    /// "backendRef Service payments/api", "certificateRef Secret certs/wildcard".
    public var reference: String
    /// "payments/allow-shop-routes".
    public var grant: String?
    public init(reference: String, grant: String?) {
        self.reference = reference
        self.grant = grant
    }
}

extension ResourceSnapshot {
    /// The cross-namespace backendRefs of a route (rules and mirror filters) and the grants they rely on.
    public func referenceGrantUses(ofRoute kind: String, namespace: String, backendRefs: [BackendReference]) -> [ReferenceGrantUse] {
        backendRefs.compactMap { ref in
            let group = ref.group ?? "", refKind = ref.kind ?? "Service"
            return use(what: "backendRef", fromKind: kind, fromNamespace: namespace, toGroup: group, toKind: refKind,
                       toNamespace: ref.namespace ?? namespace, toName: ref.name)
        }
    }

    /// The cross-namespace certificateRefs of a Gateway's listeners and the grants they rely on.
    public func referenceGrantUses(ofGateway gateway: Gateway) -> [ReferenceGrantUse] {
        let namespace = gateway.metadata.namespace ?? "default"
        return gateway.spec.listeners.flatMap { $0.tls?.certificateRefs ?? [] }.compactMap { ref in
            use(what: "certificateRef", fromKind: "Gateway", fromNamespace: namespace, toGroup: ref.group ?? "", toKind: ref.kind ?? "Secret",
                toNamespace: ref.namespace ?? namespace, toName: ref.name)
        }
    }

    private func use(what: String, fromKind: String, fromNamespace: String, toGroup: String, toKind: String,
                     toNamespace: String, toName: String) -> ReferenceGrantUse? {
        guard toNamespace != fromNamespace else { return nil }
        let grant = grantAllowing(fromGroup: GatewayAPIGroup.name, fromKind: fromKind, fromNamespace: fromNamespace,
                                  toGroup: toGroup, toKind: toKind, toNamespace: toNamespace, toName: toName)
        return ReferenceGrantUse(reference: "\(what) \(toKind) \(toNamespace)/\(toName)", grant: grant.map { "\(toNamespace)/\($0.metadata.name)" })
    }
}
