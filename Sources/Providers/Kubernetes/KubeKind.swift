import GatewayAPI

/// A kind archway reads from the API server, and where its REST collection lives.
public struct KubeKind: Sendable, Hashable, CustomStringConvertible {
    public var group: String
    /// archway's first choice. For the Gateway API and archway's own kinds, whose served versions
    /// depend on the CRDs installed, `APIDiscovery` replaces it with the one the server serves.
    public var version: String
    public var kind: String
    public var plural: String
    public var namespaced: Bool
    /// Installed with the experimental channel or by archway's own CRDs: a 404 is expected and only logged.
    public var optional: Bool

    public init(_ group: String, _ version: String, _ kind: String, _ plural: String, namespaced: Bool = true, optional: Bool = false) {
        self.group = group
        self.version = version
        self.kind = kind
        self.plural = plural
        self.namespaced = namespaced
        self.optional = optional
    }

    /// The same kind at another version of its group.
    public func at(version: String) -> KubeKind {
        var kind = self
        kind.version = version
        return kind
    }

    /// The kind at the version of an `apiVersion` (`group/version`, or `v1` for the core group).
    public func at(apiVersion: String) -> KubeKind {
        guard let version = apiVersion.split(separator: "/").last else { return self }
        return at(version: String(version))
    }

    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    public var description: String { "\(kind) (\(apiVersion))" }

    /// `/api/v1` for the core group, `/apis/GROUP/VERSION` otherwise.
    var groupPath: String { group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)" }

    /// The collection, across all namespaces or in one.
    public func collectionPath(namespace: String? = nil) -> String {
        guard namespaced, let namespace else { return "\(groupPath)/\(plural)" }
        return "\(groupPath)/namespaces/\(namespace)/\(plural)"
    }

    public func objectPath(namespace: String?, name: String) -> String {
        collectionPath(namespace: namespaced ? namespace ?? "default" : nil) + "/" + name
    }

    static let gatewayGroup = "gateway.networking.k8s.io"
    static let archwayGroup = "archway.dev"

    public static let gatewayClass = KubeKind(gatewayGroup, "v1", "GatewayClass", "gatewayclasses", namespaced: false)
    public static let gateway = KubeKind(gatewayGroup, "v1", "Gateway", "gateways")
    /// Standard since Gateway API v1.6; optional so that a cluster with older CRDs still runs.
    public static let listenerSet = KubeKind(gatewayGroup, "v1", "ListenerSet", "listenersets", optional: true)
    public static let httpRoute = KubeKind(gatewayGroup, "v1", "HTTPRoute", "httproutes")
    public static let grpcRoute = KubeKind(gatewayGroup, "v1", "GRPCRoute", "grpcroutes")
    public static let tcpRoute = KubeKind(gatewayGroup, "v1", "TCPRoute", "tcproutes", optional: true)
    public static let tlsRoute = KubeKind(gatewayGroup, "v1", "TLSRoute", "tlsroutes", optional: true)
    public static let udpRoute = KubeKind(gatewayGroup, "v1", "UDPRoute", "udproutes", optional: true)
    public static let referenceGrant = KubeKind(gatewayGroup, "v1", "ReferenceGrant", "referencegrants")
    public static let backendTLSPolicy = KubeKind(gatewayGroup, "v1", "BackendTLSPolicy", "backendtlspolicies", optional: true)
    public static let backendTrafficPolicy = KubeKind(archwayGroup, "v1alpha1", "BackendTrafficPolicy", "backendtrafficpolicies", optional: true)
    public static let serviceLevelObjective = KubeKind(archwayGroup, "v1alpha1", "ServiceLevelObjective", "servicelevelobjectives", optional: true)
    public static let addressPool = KubeKind(archwayGroup, "v1alpha1", "AddressPool", "addresspools", namespaced: false, optional: true)
    public static let acmeIssuer = KubeKind(archwayGroup, "v1alpha1", "ACMEIssuer", "acmeissuers", namespaced: false, optional: true)
    public static let rollout = KubeKind(archwayGroup, "v1alpha1", "Rollout", "rollouts", optional: true)
    /// BasicAuth, RateLimit and the other edge policies (optional: their CRDs may not be installed).
    public static let edgePolicies: [KubeKind] = EdgePolicy.Kind.allCases.map {
        KubeKind(archwayGroup, "v1alpha1", $0.rawValue, $0.rawValue.lowercased() + "s", optional: true)
    }
    public static let service = KubeKind("", "v1", "Service", "services")
    public static let endpointSlice = KubeKind("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices")
    public static let namespace = KubeKind("", "v1", "Namespace", "namespaces", namespaced: false)
    public static let ingress = KubeKind("networking.k8s.io", "v1", "Ingress", "ingresses")
    public static let ingressClass = KubeKind("networking.k8s.io", "v1", "IngressClass", "ingressclasses", namespaced: false)
    /// GKE's FrontendConfig and BackendConfig, which GCE Ingresses and their Services name (optional:
    /// only GKE clusters have them). Read by `inventory` / `migrate --from-cluster`, not watched.
    public static let frontendConfig = KubeKind("networking.gke.io", "v1beta1", "FrontendConfig", "frontendconfigs", optional: true)
    public static let backendConfig = KubeKind("cloud.google.com", "v1", "BackendConfig", "backendconfigs", optional: true)
    public static let secret = KubeKind("", "v1", "Secret", "secrets")
    public static let configMap = KubeKind("", "v1", "ConfigMap", "configmaps")
    public static let lease = KubeKind("coordination.k8s.io", "v1", "Lease", "leases")
    /// Other Ingress controllers' objects the Ingresses they serve name (IngressExtension): read so that
    /// serving and converting those Ingresses honour them; optional, as their CRDs may not be installed.
    public static let ingressExtensions: [KubeKind] = [
        KubeKind("configuration.konghq.com", "v1", "KongPlugin", "kongplugins", optional: true),
        KubeKind("configuration.konghq.com", "v1", "KongClusterPlugin", "kongclusterplugins", namespaced: false, optional: true),
        KubeKind("traefik.io", "v1alpha1", "Middleware", "middlewares", optional: true),
    ]

    /// Watched whole, across all namespaces. Secrets and ConfigMaps are not: only the ones a resource
    /// references are watched, one by one, so archway never holds every Secret of the cluster.
    public static let watchedWhole: [KubeKind] = [
        gatewayClass, gateway, listenerSet, httpRoute, grpcRoute, tcpRoute, tlsRoute, udpRoute, referenceGrant,
        backendTLSPolicy, backendTrafficPolicy, serviceLevelObjective, addressPool, acmeIssuer, rollout, service, endpointSlice, namespace,
        ingress, ingressClass,
    ] + edgePolicies + ingressExtensions

    /// Kinds whose `.status` archway writes, by kind name.
    public static let byKind: [String: KubeKind] = Dictionary(
        (watchedWhole + [secret, configMap, lease]).map { ($0.kind, $0) }, uniquingKeysWith: { first, _ in first })
}
