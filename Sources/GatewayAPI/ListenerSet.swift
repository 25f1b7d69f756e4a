/// Gateway API v1 ListenerSet (standard channel since v1.6): listeners that join an existing Gateway,
/// so that teams can add their own ports and hostnames without editing the shared Gateway.
public struct ListenerSet: Codable, Sendable, Equatable {
    /// `ParentGatewayReference`: a ListenerSet always names one Gateway.
    public struct ParentReference: Codable, Sendable, Equatable {
        public var group: String?
        public var kind: String?
        public var name: String
        public var namespace: String?
    }
    public struct Spec: Codable, Sendable, Equatable {
        public var parentRef: ParentReference
        /// `ListenerEntry` has the fields of a Gateway listener, so the Gateway's validation applies as it is.
        public var listeners: [Gateway.Listener]
    }
    public var metadata: ObjectMeta
    public var spec: Spec

    /// The Gateway this ListenerSet asks to join, or nil when its parentRef is not a Gateway.
    public var parentGateway: NamespacedName? {
        guard (spec.parentRef.group ?? GatewayAPIGroup.name) == GatewayAPIGroup.name,
              (spec.parentRef.kind ?? "Gateway") == "Gateway" else { return nil }
        return NamespacedName(spec.parentRef.namespace ?? metadata.namespace ?? "default", spec.parentRef.name)
    }

    /// The spec's listener precedence among ListenerSets: oldest first (RFC 3339 in UTC sorts as
    /// text; a missing timestamp counts as newest), then "namespace/name".
    public static func precedes(_ a: ListenerSet, _ b: ListenerSet) -> Bool {
        let (ca, cb) = (a.metadata.creationTimestamp ?? "~", b.metadata.creationTimestamp ?? "~")
        if ca != cb { return ca < cb }
        return a.metadata.namespacedName < b.metadata.namespacedName
    }
}

/// `Gateway.spec.allowedListeners`: which ListenerSets may join a Gateway. None unless it says so.
public struct AllowedListeners: Codable, Sendable, Equatable {
    public struct Namespaces: Codable, Sendable, Equatable {
        public enum From: String, Codable, Sendable { case All, Same, Selector, None }
        public var from: From?
        public var selector: LabelSelector?
    }
    public var namespaces: Namespaces?
}

/// `.status` of a ListenerSet: its own conditions and one entry per listener, shaped as a Gateway's.
public struct ListenerSetStatus: Codable, Sendable, Equatable {
    public var conditions: [Condition]
    public var listeners: [ListenerStatus]
    public init(conditions: [Condition], listeners: [ListenerStatus]) {
        self.conditions = conditions
        self.listeners = listeners
    }
}

extension Gateway {
    /// Where ListenerSets may come from: `allowedListeners.namespaces.from`, None when unset.
    public var listenerSetsFrom: AllowedListeners.Namespaces.From {
        spec.allowedListeners?.namespaces?.from ?? AllowedListeners.Namespaces.From.None
    }
}
