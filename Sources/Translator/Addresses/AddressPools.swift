import GatewayAPI

extension Translator {
    /// The Gateways and LoadBalancer Services asking the AddressPools for addresses. None yet: the
    /// Gateway address work builds them (spec.addresses, the `archway.dev/address-pool` annotation, the
    /// addresses held before) and uses the allocation for `status.addresses`. Until then the pools
    /// report their size and that nothing is held.
    func addressClaims(_ snapshot: ResourceSnapshot) -> [AddressClaim] {
        []
    }
}
