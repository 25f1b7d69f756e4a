import GatewayAPI
import Testing
import Translator

/// Gateways and Services as written, turned into claims and served by the pools.
struct AddressPoolClaimTests {
    static let manifests = """
        apiVersion: v1
        kind: Namespace
        metadata: {name: edge, labels: {tier: edge}}
        ---
        apiVersion: archway.dev/v1alpha1
        kind: AddressPool
        metadata: {name: edge-pool}
        spec:
          addresses: [172.21.5.240/28]
          autoAssign: false
          namespaceSelector: {matchLabels: {tier: edge}}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata:
          name: pinned
          namespace: edge
          annotations: {archway.dev/address-pool: edge-pool}
        spec:
          gatewayClassName: archway
          listeners: [{name: http, protocol: HTTP, port: 80}]
          addresses: [{type: IPAddress, value: 172.21.5.250}, {type: Hostname, value: edge.example.com}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata:
          name: any
          namespace: edge
          annotations: {archway.dev/address-pool: edge-pool}
        spec:
          gatewayClassName: archway
          listeners: [{name: http, protocol: HTTP, port: 80}]
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: lb
          namespace: edge
          annotations: {archway.dev/address-pool: edge-pool, archway.dev/load-balancer-ips: "172.21.5.241, 172.21.5.242"}
        spec: {type: LoadBalancer, ports: [{port: 443}]}
        """

    @Test func gatewaysAndServicesTakeWhatTheirManifestsAskFor() throws {
        let loaded = ManifestLoader().parse(text: Self.manifests, file: "claims.yaml")
        #expect(loaded.errors.isEmpty)
        let snapshot = ResourceSnapshot(loaded.resources.map(\.resource))
        let claims = snapshot.gateways.map { AddressClaim.gateway($0, in: snapshot) }
            + snapshot.services.values.map { AddressClaim.service($0, in: snapshot) }
        let allocation = AddressAllocator.allocate(pools: snapshot.addressPools, claims: claims)
        func held(_ kind: String, _ name: String) -> [String] {
            allocation.holders[ObjectRef(kind: kind, namespace: "edge", name: name)]?.addresses.map(\.address.description) ?? []
        }
        #expect(held("Gateway", "pinned") == ["172.21.5.250"], "its IPAddress, not its Hostname")
        #expect(held("Gateway", "any").count == 1, "a Gateway listing no address gets one from the pool it names")
        #expect(held("Service", "lb") == ["172.21.5.241", "172.21.5.242"])
        #expect(allocation.poolStatuses(for: snapshot.addressPools)["edge-pool"]?.used == 4)
    }
}
