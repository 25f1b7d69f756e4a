import ArchwayCore
import GatewayAPI
import Testing
import Translator

/// Which addresses layer-2 announcement answers for: only the AddressPools' addresses archway serves,
/// never an address a Gateway merely names (the router's, say) nor the shared default address.
struct AnnouncedAddressesTests {
    @Test func onlyPoolAddressesThatAreServedAreAnnounced() throws {
        let manifests = """
            apiVersion: gateway.networking.k8s.io/v1
            kind: GatewayClass
            metadata: {name: archway}
            spec: {controllerName: archway.dev/gateway-controller}
            ---
            apiVersion: archway.dev/v1alpha1
            kind: AddressPool
            metadata: {name: lan}
            spec: {addresses: [10.77.0.8/30]}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: pooled, namespace: default}
            spec: {gatewayClassName: archway, listeners: [{name: http, port: 80, protocol: HTTP}]}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: takes-the-router, namespace: default}
            spec:
              gatewayClassName: archway
              addresses: [{type: IPAddress, value: 192.168.1.1}]
              listeners: [{name: http, port: 80, protocol: HTTP}]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: local, namespace: default}
            spec:
              gatewayClassName: archway
              addresses: [{type: IPAddress, value: 127.0.0.7}]
              listeners: [{name: http, port: 80, protocol: HTTP}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: default}
            spec: {type: LoadBalancer, loadBalancerClass: archway.dev/load-balancer, ports: [{port: 80}]}
            """
        let loaded = ManifestLoader().parse(text: manifests, file: "announce.yaml")
        #expect(loaded.errors.isEmpty, "\(loaded.errors)")
        let snapshot = ResourceSnapshot(loaded.resources.map(\.resource))
        var options = Translator.Options()
        options.announcesAddresses = true
        options.loadBalancers = LoadBalancerServing()
        options.addressCheck = { ["127.0.0.7"].contains($0) ? nil : "no interface of this host has this address" }
        let statuses = Translator(options: options).translate(snapshot).statuses

        let pooled = try #require(statuses.gateways[NamespacedName("default", "pooled")]?.addresses.first?.value)
        let web = try #require(statuses.loadBalancers[NamespacedName("default", "web")]?.loadBalancer.ingress?.first?.ip)
        #expect(AnnouncedAddresses.served(snapshot, statuses) == Set([pooled, web].compactMap(IPAddress.init)))
        let router = statuses.gateways[NamespacedName("default", "takes-the-router")]
        #expect(router?.addresses.isEmpty == true && router?.conditions.contains { $0.type == "Programmed" && $0.reason == "AddressNotUsable" } == true,
                "an address outside the pools must be the node's own, announcing or not")
    }
}
