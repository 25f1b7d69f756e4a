import Yams

/// Maps (apiVersion, kind) to a model type. Kinds of other groups or versions are kept as opaque
/// resources: tolerated, never an error, never served.
enum ResourceDecoder {
    /// For a document `decode` refused: the resource that must still exist so that refusing it
    /// fails closed (only edge policies need one), or nil.
    static func placeholder(for node: Node, kind: String, apiVersion: String, problem: String) -> Resource? {
        guard apiVersion.hasPrefix(BackendTrafficPolicy.group + "/"), let kind = EdgePolicy.Kind(rawValue: kind) else { return nil }
        return EdgePolicy.unreadable(node, kind: kind, problem: problem).map(Resource.edgePolicy)
    }

    static func decode(_ node: Node, kind: String, apiVersion: String) throws -> Resource {
        let decoder = ManifestDecoder()
        let group = apiVersion.split(separator: "/").dropLast().joined(separator: "/")
        switch (group, kind) {
        case (GatewayAPIGroup.name, "GatewayClass"): return .gatewayClass(try decoder.decode(from: node))
        case (GatewayAPIGroup.name, "Gateway"): return .gateway(try decoder.decode(from: node))
        case (GatewayAPIGroup.name, "ListenerSet"): return .listenerSet(try decoder.decode(from: node))
        case (GatewayAPIGroup.name, "HTTPRoute"): return .httpRoute(try decoder.decode(from: node))
        case (GatewayAPIGroup.name, "TCPRoute"), (GatewayAPIGroup.name, "UDPRoute"), (GatewayAPIGroup.name, "TLSRoute"):
            var route: StreamRoute = try decoder.decode(from: node)
            route.kind = StreamRoute.Kind(rawValue: kind)!
            return .streamRoute(route)
        case (GatewayAPIGroup.name, "GRPCRoute"): return .grpcRoute(try decoder.decode(from: node))
        case (GatewayAPIGroup.name, "BackendTLSPolicy"): return .backendTLSPolicy(try decoder.decode(from: node))
        case (BackendTrafficPolicy.group, "BackendTrafficPolicy"): return .backendTrafficPolicy(try decoder.decode(from: node))
        case (BackendTrafficPolicy.group, _) where EdgePolicy.Kind(rawValue: kind) != nil:
            return .edgePolicy(try EdgePolicy.decode(node, kind: EdgePolicy.Kind(rawValue: kind)!, with: decoder))
        case (BackendTrafficPolicy.group, "ServiceLevelObjective"): return .serviceLevelObjective(try decoder.decode(from: node))
        case (BackendTrafficPolicy.group, "AddressPool"): return .addressPool(try decoder.decode(from: node))
        case (BackendTrafficPolicy.group, "ACMEIssuer"): return .acmeIssuer(try decoder.decode(from: node))
        case (BackendTrafficPolicy.group, "Rollout"): return .rollout(try decoder.decode(from: node))
        case ("", "ConfigMap"): return .configMap(try decoder.decode(from: node))
        case (GatewayAPIGroup.name, "ReferenceGrant"): return .referenceGrant(try decoder.decode(from: node))
        case ("", "Service"): return .service(try decoder.decode(from: node))
        case ("discovery.k8s.io", "EndpointSlice"): return .endpointSlice(try decoder.decode(from: node))
        case ("", "Secret"): return .secret(try decoder.decode(from: node))
        case ("", "Namespace"): return .namespace(try decoder.decode(from: node))
        case ("networking.k8s.io", "Ingress"): return .ingress(try decoder.decode(from: node))
        case ("networking.k8s.io", "IngressClass"): return .ingressClass(try decoder.decode(from: node))
        case (FrontendConfig.group, "FrontendConfig"): return .frontendConfig(try decoder.decode(from: node))
        case (BackendConfig.group, "BackendConfig"): return .backendConfig(try decoder.decode(from: node))
        case _ where IngressExtension.kinds.contains(IngressExtension.GroupKind(group: group, kind: kind)):
            return .ingressExtension(IngressExtension(apiVersion: apiVersion, kind: kind,
                                                      metadata: try decoder.decode(ObjectMeta.self, from: node.field("metadata") ?? Node.mapping(Node.Mapping([]))),
                                                      document: try decoder.decode(from: node)))
        default:
            if let problem = KnownKinds.problem(kind: kind, group: group) { throw FieldProblemError(field: "kind", message: problem) }
            let metadata = try? decoder.decode(ObjectMeta.self, from: node.field("metadata") ?? Node.mapping(Node.Mapping([])))
            return .other(apiVersion: apiVersion, kind: kind, metadata: metadata)
        }
    }
}

extension Resource {
    mutating func defaultNamespace() {
        guard !Resource.isClusterScoped(kind: kind) else { return }
        editMetadata { meta in
            if meta.namespace?.isEmpty ?? true { meta.namespace = "default" }
        }
    }

    /// For comparing two versions of an object by content: the API server bumps resourceVersion on
    /// every write, status-only ones included.
    public mutating func clearResourceVersion() {
        editMetadata { $0.resourceVersion = nil }
    }

    mutating func editMetadata(_ edit: (inout ObjectMeta) -> Void) {
        switch self {
        case .gatewayClass(var r): edit(&r.metadata); self = .gatewayClass(r)
        case .gateway(var r): edit(&r.metadata); self = .gateway(r)
        case .listenerSet(var r): edit(&r.metadata); self = .listenerSet(r)
        case .httpRoute(var r): edit(&r.metadata); self = .httpRoute(r)
        case .streamRoute(var r): edit(&r.metadata); self = .streamRoute(r)
        case .grpcRoute(var r): edit(&r.metadata); self = .grpcRoute(r)
        case .backendTLSPolicy(var r): edit(&r.metadata); self = .backendTLSPolicy(r)
        case .backendTrafficPolicy(var r): edit(&r.metadata); self = .backendTrafficPolicy(r)
        case .serviceLevelObjective(var r): edit(&r.metadata); self = .serviceLevelObjective(r)
        case .addressPool(var r): edit(&r.metadata); self = .addressPool(r)
        case .acmeIssuer(var r): edit(&r.metadata); self = .acmeIssuer(r)
        case .rollout(var r): edit(&r.metadata); self = .rollout(r)
        case .edgePolicy(var r): edit(&r.metadata); self = .edgePolicy(r)
        case .configMap(var r): edit(&r.metadata); self = .configMap(r)
        case .referenceGrant(var r): edit(&r.metadata); self = .referenceGrant(r)
        case .service(var r): edit(&r.metadata); self = .service(r)
        case .endpointSlice(var r): edit(&r.metadata); self = .endpointSlice(r)
        case .secret(var r): edit(&r.metadata); self = .secret(r)
        case .namespace(var r): edit(&r.metadata); self = .namespace(r)
        case .ingress(var r): edit(&r.metadata); self = .ingress(r)
        case .ingressClass(var r): edit(&r.metadata); self = .ingressClass(r)
        case .frontendConfig(var r): edit(&r.metadata); self = .frontendConfig(r)
        case .backendConfig(var r): edit(&r.metadata); self = .backendConfig(r)
        case .ingressExtension(var r): edit(&r.metadata); self = .ingressExtension(r)
        case .other(let apiVersion, let kind, var meta?):
            edit(&meta)
            self = .other(apiVersion: apiVersion, kind: kind, metadata: meta)
        case .other: break
        }
    }
}
