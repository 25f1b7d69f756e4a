import Foundation

/// What the fake API server serves, and the discovery documents that say so.
extension FakeAPIServer {
    /// One kind's REST collection, served at each of `versions` (the same objects at every one).
    /// Its identity is its group and plural: a CRD upgrade changes the versions, not the objects.
    struct Collection: Hashable {
        var group: String
        var versions: [String]
        var plural: String
        var kind: String
        var namespaced: Bool
        var builtIn: Bool

        static func == (a: Collection, b: Collection) -> Bool { a.group == b.group && a.plural == b.plural }
        func hash(into hasher: inout Hasher) {
            hasher.combine(group)
            hasher.combine(plural)
        }

        func apiVersion(_ version: String) -> String { group.isEmpty ? version : "\(group)/\(version)" }
        /// The version objects are stored at: the API server's preferred one for the group.
        var storedVersion: String { versions.sorted(by: FakeAPIServer.higherPriority).first! }
    }

    /// The Gateway API kinds as the v1.6.1 standard-channel CRDs serve them (`served: true` in
    /// kubernetes-sigs/gateway-api v1.6.1, config/crd/standard/*.yaml). Versions those CRDs still
    /// list with `served: false` are left out: TCPRoute, UDPRoute v1alpha2; TLSRoute v1alpha2 and
    /// v1alpha3; BackendTLSPolicy v1alpha3. The experimental channel serves those too.
    static let gatewayAPIv1_6_1: [Collection] = [
        .init(group: gatewayGroup, versions: ["v1", "v1beta1"], plural: "gatewayclasses", kind: "GatewayClass", namespaced: false, builtIn: false),
        .init(group: gatewayGroup, versions: ["v1", "v1beta1"], plural: "gateways", kind: "Gateway", namespaced: true, builtIn: false),
        .init(group: gatewayGroup, versions: ["v1", "v1beta1"], plural: "httproutes", kind: "HTTPRoute", namespaced: true, builtIn: false),
        .init(group: gatewayGroup, versions: ["v1"], plural: "grpcroutes", kind: "GRPCRoute", namespaced: true, builtIn: false),
        .init(group: gatewayGroup, versions: ["v1"], plural: "tcproutes", kind: "TCPRoute", namespaced: true, builtIn: false),
        .init(group: gatewayGroup, versions: ["v1"], plural: "tlsroutes", kind: "TLSRoute", namespaced: true, builtIn: false),
        .init(group: gatewayGroup, versions: ["v1"], plural: "udproutes", kind: "UDPRoute", namespaced: true, builtIn: false),
        .init(group: gatewayGroup, versions: ["v1", "v1beta1"], plural: "referencegrants", kind: "ReferenceGrant", namespaced: true, builtIn: false),
        .init(group: gatewayGroup, versions: ["v1"], plural: "backendtlspolicies", kind: "BackendTLSPolicy", namespaced: true, builtIn: false),
        .init(group: gatewayGroup, versions: ["v1"], plural: "listenersets", kind: "ListenerSet", namespaced: true, builtIn: false),
    ]

    static let gatewayGroup = "gateway.networking.k8s.io"

    static let defaultCollections: [Collection] = gatewayAPIv1_6_1 + [
        // archway's own CRDs: BackendTrafficPolicy only. ServiceLevelObjective and the edge policies are
        // left out on purpose: a cluster without those CRDs, where archway must skip them.
        .init(group: "archway.dev", versions: ["v1alpha1"], plural: "backendtrafficpolicies", kind: "BackendTrafficPolicy", namespaced: true, builtIn: false),
        .init(group: "", versions: ["v1"], plural: "services", kind: "Service", namespaced: true, builtIn: true),
        .init(group: "discovery.k8s.io", versions: ["v1"], plural: "endpointslices", kind: "EndpointSlice", namespaced: true, builtIn: true),
        .init(group: "", versions: ["v1"], plural: "namespaces", kind: "Namespace", namespaced: false, builtIn: true),
        .init(group: "", versions: ["v1"], plural: "secrets", kind: "Secret", namespaced: true, builtIn: true),
        .init(group: "", versions: ["v1"], plural: "configmaps", kind: "ConfigMap", namespaced: true, builtIn: true),
        .init(group: "networking.k8s.io", versions: ["v1"], plural: "ingresses", kind: "Ingress", namespaced: true, builtIn: true),
        .init(group: "networking.k8s.io", versions: ["v1"], plural: "ingressclasses", kind: "IngressClass", namespaced: false, builtIn: true),
        .init(group: "coordination.k8s.io", versions: ["v1"], plural: "leases", kind: "Lease", namespaced: true, builtIn: true),
        .init(group: "events.k8s.io", versions: ["v1"], plural: "events", kind: "Event", namespaced: true, builtIn: true),
    ]

    /// archway's AddressPool CRD, for the tests of a cluster that has it installed.
    static let addressPools = Collection(group: "archway.dev", versions: ["v1alpha1"], plural: "addresspools", kind: "AddressPool",
                                         namespaced: false, builtIn: false)

    /// archway's ACMEIssuer CRD, for the tests of ordering certificates in a cluster.
    static let acmeIssuers = Collection(group: "archway.dev", versions: ["v1alpha1"], plural: "acmeissuers", kind: "ACMEIssuer",
                                        namespaced: false, builtIn: false)

    /// archway's Rollout CRD, for the tests of Rollouts in a cluster.
    static let rollouts = Collection(group: "archway.dev", versions: ["v1alpha1"], plural: "rollouts", kind: "Rollout",
                                     namespaced: true, builtIn: false)

    /// Kubernetes' version priority, which orders discovery's version lists: GA before beta before
    /// alpha, then the higher major, then the higher minor (v1 > v1beta2 > v1beta1 > v1alpha3).
    static func higherPriority(_ a: String, _ b: String) -> Bool {
        func rank(_ version: String) -> (Int, Int, Int) {
            let scanner = Scanner(string: version)
            _ = scanner.scanString("v")
            let major = scanner.scanInt() ?? 0
            let stability = scanner.scanString("beta") != nil ? 1 : scanner.scanString("alpha") != nil ? 0 : 2
            return (stability, major, scanner.scanInt() ?? 0)
        }
        return rank(a) > rank(b)
    }

    /// The served versions of `group`, highest priority first; empty when no kind of it is served.
    func servedVersions(of group: String) -> [String] {
        Array(Set(collections.filter { $0.group == group }.flatMap(\.versions))).sorted(by: Self.higherPriority)
    }

    /// `GET /api`, `/apis`, `/apis/GROUP`, `/api/v1` or `/apis/GROUP/VERSION`: the documents discovery
    /// reads. nil for any other path. An unknown group or version is the real server's plain 404.
    func discoveryAnswer(path: String) -> Answer? {
        let segments = path.split(separator: "/").map(String.init)
        let pageNotFound = Answer(status: .notFound, text: "404 page not found\n")
        switch (segments.first, segments.count) {
        case ("api", 1):
            return Answer(status: .ok, body: ["kind": "APIVersions", "versions": servedVersions(of: "")])
        case ("apis", 1):
            let groups = Set(collections.map(\.group)).subtracting([""]).sorted()
            return Answer(status: .ok, body: ["kind": "APIGroupList", "apiVersion": "v1", "groups": groups.map(groupDocument)])
        case ("apis", 2):
            return servedVersions(of: segments[1]).isEmpty ? pageNotFound : Answer(status: .ok, body: groupDocument(segments[1]))
        case ("api", 2), ("apis", 3):
            let group = segments.first == "api" ? "" : segments[1]
            let version = segments.last!
            let served = collections.filter { $0.group == group && $0.versions.contains(version) }
            guard !served.isEmpty else { return pageNotFound }
            return Answer(status: .ok, body: ["kind": "APIResourceList", "apiVersion": "v1",
                                              "groupVersion": served[0].apiVersion(version),
                                              "resources": served.flatMap(resourceEntries)])
        default:
            return nil
        }
    }

    private func groupDocument(_ group: String) -> [String: Any] {
        let versions = servedVersions(of: group).map { ["groupVersion": "\(group)/\($0)", "version": $0] }
        return ["kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": versions, "preferredVersion": versions[0]]
    }

    /// A collection and, for CRDs, its status subresource, as an APIResourceList lists them.
    private func resourceEntries(_ collection: Collection) -> [[String: Any]] {
        let resource: [String: Any] = ["name": collection.plural, "singularName": collection.kind.lowercased(),
                                       "namespaced": collection.namespaced, "kind": collection.kind,
                                       "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]]
        guard !collection.builtIn else { return [resource] }
        return [resource, ["name": collection.plural + "/status", "singularName": "", "namespaced": collection.namespaced,
                           "kind": collection.kind, "verbs": ["get", "patch", "update"]]]
    }
}
