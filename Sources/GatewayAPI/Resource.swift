/// One decoded manifest of a kind archway understands, or an opaque one it tolerates and ignores.
///
/// Indirect: each case's payload lives in a box of its own, so a `Resource` is one pointer. Inline it
/// took the size of its largest case (426 bytes), and the arrays and dictionaries of resources a load,
/// a snapshot and the cluster's object cache keep were mostly padding: at 10,000 routes, ~8 MB for each
/// dictionary of them.
public indirect enum Resource: Sendable, Equatable {
    case gatewayClass(GatewayClass)
    case gateway(Gateway)
    case listenerSet(ListenerSet)
    case httpRoute(HTTPRoute)
    case streamRoute(StreamRoute)
    case grpcRoute(GRPCRoute)
    case backendTLSPolicy(BackendTLSPolicy)
    case backendTrafficPolicy(BackendTrafficPolicy)
    case serviceLevelObjective(ServiceLevelObjective)
    case addressPool(AddressPool)
    case acmeIssuer(ACMEIssuer)
    case rollout(Rollout)
    case edgePolicy(EdgePolicy)
    case configMap(ConfigMap)
    case referenceGrant(ReferenceGrant)
    case service(Service)
    case endpointSlice(EndpointSlice)
    case secret(Secret)
    case namespace(Namespace)
    case ingress(Ingress)
    case ingressClass(IngressClass)
    /// GKE's FrontendConfig and BackendConfig, read for GCE Ingresses.
    case frontendConfig(FrontendConfig)
    case backendConfig(BackendConfig)
    case ingressExtension(IngressExtension)
    case other(apiVersion: String, kind: String, metadata: ObjectMeta?)

    public var kind: String {
        switch self {
        case .gatewayClass: "GatewayClass"
        case .gateway: "Gateway"
        case .listenerSet: "ListenerSet"
        case .httpRoute: "HTTPRoute"
        case .streamRoute(let r): r.kind.rawValue
        case .grpcRoute: "GRPCRoute"
        case .backendTLSPolicy: "BackendTLSPolicy"
        case .backendTrafficPolicy: "BackendTrafficPolicy"
        case .serviceLevelObjective: "ServiceLevelObjective"
        case .addressPool: "AddressPool"
        case .acmeIssuer: "ACMEIssuer"
        case .rollout: "Rollout"
        case .edgePolicy(let r): r.kind.rawValue
        case .configMap: "ConfigMap"
        case .referenceGrant: "ReferenceGrant"
        case .service: "Service"
        case .endpointSlice: "EndpointSlice"
        case .secret: "Secret"
        case .namespace: "Namespace"
        case .ingress: "Ingress"
        case .ingressClass: "IngressClass"
        case .frontendConfig: "FrontendConfig"
        case .backendConfig: "BackendConfig"
        case .ingressExtension(let r): r.kind
        case .other(_, let kind, _): kind
        }
    }

    public var metadata: ObjectMeta? {
        switch self {
        case .gatewayClass(let r): r.metadata
        case .gateway(let r): r.metadata
        case .listenerSet(let r): r.metadata
        case .httpRoute(let r): r.metadata
        case .streamRoute(let r): r.metadata
        case .grpcRoute(let r): r.metadata
        case .backendTLSPolicy(let r): r.metadata
        case .backendTrafficPolicy(let r): r.metadata
        case .serviceLevelObjective(let r): r.metadata
        case .addressPool(let r): r.metadata
        case .acmeIssuer(let r): r.metadata
        case .rollout(let r): r.metadata
        case .edgePolicy(let r): r.metadata
        case .configMap(let r): r.metadata
        case .referenceGrant(let r): r.metadata
        case .service(let r): r.metadata
        case .endpointSlice(let r): r.metadata
        case .secret(let r): r.metadata
        case .namespace(let r): r.metadata
        case .ingress(let r): r.metadata
        case .ingressClass(let r): r.metadata
        case .frontendConfig(let r): r.metadata
        case .backendConfig(let r): r.metadata
        case .ingressExtension(let r): r.metadata
        case .other(_, _, let metadata): metadata
        }
    }

    public var ref: ObjectRef {
        ObjectRef(kind: kind, namespace: metadata?.namespace ?? "", name: metadata?.name ?? "")
    }

    /// Cluster-scoped kinds keep an empty namespace; every other kind defaults to `default`, as kubectl does.
    static func isClusterScoped(kind: String) -> Bool {
        ["GatewayClass", "Namespace", "IngressClass", "AddressPool", "ACMEIssuer", "KongClusterPlugin", "ClusterRole", "ClusterRoleBinding",
         "CustomResourceDefinition"].contains(kind)
    }
}

/// Where a manifest came from, for error messages people can act on.
public struct SourceLocation: Sendable, Hashable, Codable, CustomStringConvertible {
    public var file: String
    /// 1-based index of the YAML document in the file (items of a `kind: List` share their document).
    public var document: Int
    public init(file: String, document: Int) {
        self.file = file
        self.document = document
    }
    /// Document 0: the whole source is one object (an API server object, an unreadable file).
    public var description: String { document == 0 ? file : "\(file): document \(document)" }
}

public struct LoadedResource: Sendable, Equatable {
    public var location: SourceLocation
    public var resource: Resource
    public init(location: SourceLocation, resource: Resource) {
        self.location = location
        self.resource = resource
    }
}

/// A manifest that could not be accepted, located precisely enough to fix it.
public struct ManifestError: Error, Sendable, Equatable, CustomStringConvertible {
    public var location: SourceLocation
    public var object: String?
    public var field: String?
    public var message: String

    public init(location: SourceLocation, object: String? = nil, field: String? = nil, message: String) {
        self.location = location
        self.object = object
        self.field = field
        self.message = message
    }

    public var description: String {
        var text = location.description
        if let object { text += " (\(object))" }
        if let field, !field.isEmpty { text += ": \(field)" }
        return text + ": " + message
    }
}
