import GatewayAPI

extension ResourceSnapshot {
    /// May an object of (fromGroup, fromKind) in `fromNamespace` refer to (toGroup, toKind, toName) in
    /// `toNamespace`? Same-namespace references always may; others need a ReferenceGrant in the target
    /// namespace whose `from` and `to` entries both match (entries are ORed, empty `name` means any).
    func referenceAllowed(fromGroup: String, fromKind: String, fromNamespace: String,
                          toGroup: String, toKind: String, toNamespace: String, toName: String) -> Bool {
        if fromNamespace == toNamespace { return true }
        return grantAllowing(fromGroup: fromGroup, fromKind: fromKind, fromNamespace: fromNamespace,
                             toGroup: toGroup, toKind: toKind, toNamespace: toNamespace, toName: toName) != nil
    }

    /// The first ReferenceGrant that allows a cross-namespace reference (what `archway describe` names
    /// as relied on), nil when none does.
    public func grantAllowing(fromGroup: String, fromKind: String, fromNamespace: String,
                              toGroup: String, toKind: String, toNamespace: String, toName: String) -> ReferenceGrant? {
        for grant in referenceGrants[toNamespace] ?? [] {
            let fromMatches = grant.spec.from.contains {
                $0.group == fromGroup && $0.kind == fromKind && $0.namespace == fromNamespace
            }
            let toMatches = grant.spec.to.contains {
                $0.group == toGroup && $0.kind == toKind && (($0.name ?? "").isEmpty || $0.name == toName)
            }
            if fromMatches && toMatches { return grant }
        }
        return nil
    }
}
