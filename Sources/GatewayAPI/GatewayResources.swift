/// Gateway API v1 GatewayClass and Gateway, plus v1beta1 ReferenceGrant.

public enum GatewayAPIGroup {
    public static let name = "gateway.networking.k8s.io"
}

public struct GatewayClass: Codable, Sendable, Equatable {
    public struct Spec: Codable, Sendable, Equatable {
        public var controllerName: String
        public var description: String?
    }
    public var metadata: ObjectMeta
    public var spec: Spec
}

public struct Gateway: Codable, Sendable, Equatable {
    public struct Spec: Codable, Sendable, Equatable {
        public var gatewayClassName: String
        public var listeners: [Listener]
        public var addresses: [AddressRequest]?
        public var infrastructure: Infrastructure?
        /// Client-certificate validation on HTTPS listeners and the certificate presented to backends.
        public var tls: GatewayTLSConfig?
        public var allowedListeners: AllowedListeners?
    }
    /// Labels and annotations for generated infrastructure, and a reference to implementation
    /// parameters (archway defines no parameters kind).
    public struct Infrastructure: Codable, Sendable, Equatable {
        public var labels: [String: String]?
        public var annotations: [String: String]?
        public var parametersRef: ParametersReference?
    }
    public struct ParametersReference: Codable, Sendable, Equatable {
        public var group: String
        public var kind: String
        public var name: String
    }
    /// An address the spec asks for; without a value it asks the implementation to assign one.
    public struct AddressRequest: Codable, Sendable, Equatable {
        public var type: String?
        public var value: String?
        public init(type: String? = nil, value: String? = nil) {
            self.type = type
            self.value = value
        }
    }
    /// An address the Gateway is served on, as status reports it.
    public struct Address: Codable, Sendable, Equatable {
        public var type: String?
        public var value: String
        public init(type: String?, value: String) {
            self.type = type
            self.value = value
        }
    }
    public struct Listener: Codable, Sendable, Equatable {
        public var name: String
        public var hostname: String?
        public var port: Int
        public var `protocol`: String
        public var tls: TLSConfig?
        public var allowedRoutes: AllowedRoutes?
    }
    public struct TLSConfig: Codable, Sendable, Equatable {
        public var mode: String?
        public var certificateRefs: [SecretObjectReference]?
        public var options: [String: String]?
    }
    public struct AllowedRoutes: Codable, Sendable, Equatable {
        public struct Namespaces: Codable, Sendable, Equatable {
            public enum From: String, Codable, Sendable { case All, Same, Selector }
            public var from: From?
            public var selector: LabelSelector?
        }
        public var namespaces: Namespaces?
        public var kinds: [RouteGroupKind]?
    }
    /// What the object says it was given last time (written by the status-writing replica in a
    /// cluster, carried over from the last translation in file mode): only its addresses are read, so
    /// an address taken from a pool stays the Gateway's across reloads, restarts and leader changes.
    public struct ObservedStatus: Codable, Sendable, Equatable {
        public var addresses: [Address]?
        public init(addresses: [Address]?) { self.addresses = addresses }
    }
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: ObservedStatus?
    /// The Gateway without its observed status, which feeds only the address pools' claims (the
    /// addresses a Gateway held are kept first). What a route's translation reads of a Gateway leaves
    /// it out: the claims' outcome reaches routes through the listeners' sockets, compared on their
    /// own. In file mode the first apply's addresses are carried into the next one's Gateways, and
    /// with the status compared that next change translated every route again.
    public var withoutObservedStatus: Gateway {
        var gateway = self
        gateway.status = nil
        return gateway
    }
}

public struct RouteGroupKind: Codable, Sendable, Equatable, Hashable {
    public var group: String?
    public var kind: String
    public init(group: String? = GatewayAPIGroup.name, kind: String) {
        self.group = group
        self.kind = kind
    }
}

public struct SecretObjectReference: Codable, Sendable, Equatable {
    public var group: String?
    public var kind: String?
    public var name: String
    public var namespace: String?
}

public struct ReferenceGrant: Codable, Sendable, Equatable {
    public struct From: Codable, Sendable, Equatable {
        public var group: String
        public var kind: String
        public var namespace: String
    }
    public struct To: Codable, Sendable, Equatable {
        public var group: String
        public var kind: String
        public var name: String?
    }
    public struct Spec: Codable, Sendable, Equatable {
        public var from: [From]
        public var to: [To]
    }
    public var metadata: ObjectMeta
    public var spec: Spec
}
