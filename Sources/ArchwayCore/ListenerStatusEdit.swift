import GatewayAPI

extension StatusSet {
    /// Edits one listener's status, found by the name the routing table gives it: "listener" for a
    /// Gateway's own, "namespace/set/listener" for one a ListenerSet declared (whose status is the
    /// ListenerSet's). `edit` gets the listener's own name and that status's listener list.
    mutating func editListener(of gateway: NamespacedName, served name: String,
                               _ edit: (_ listener: String, [ListenerStatus]) -> [ListenerStatus]) {
        let parts = name.split(separator: "/", maxSplits: 2).map(String.init)
        if parts.count == 3 {
            let set = NamespacedName(parts[0], parts[1])
            guard let listeners = listenerSets[set]?.listeners else { return }
            listenerSets[set]?.listeners = edit(parts[2], listeners)
        } else {
            guard let listeners = gateways[gateway]?.listeners else { return }
            gateways[gateway]?.listeners = edit(name, listeners)
        }
    }
}
