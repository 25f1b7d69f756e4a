import GatewayAPI
import Migrate
import Testing

/// `archway inventory` over an estate of seven controllers: each Ingress counted under the
/// controller that serves it (its IngressClass, else what its annotations or class name say, marked
/// assumed), and each annotation marked with what `migrate` makes of it.
@Suite struct InventoryProvidersTests {
    typealias NIC = MigrateNginxIncTests

    @Test func everyControllerIsCountedAndEveryAnnotationJudged() throws {
        let yaml = NIC.nicClass
            + NIC.ingress("nic", annotations: ["nginx.org/hsts": "true", "nginx.org/server-snippets": "deny all;"], paths: [("/", "Prefix", "a")], tls: true)
            + MigrateKongTests.ingress("kong", annotations: ["konghq.com/strip-path": "true"], paths: [("/api", "Prefix", "api")])
            + MigrateTraefikTests.ingress("traefik", middlewares: [], paths: [("/", "Prefix", "site")], extra: ["traefik.ingress.kubernetes.io/router.priority": "10"])
            + MigrateVerifyTests.ingress("community", host: "shop.example.com", annotations: ["nginx.ingress.kubernetes.io/use-regex": "true"],
                                         paths: [("/x", "Prefix", "x")])
                .replacingOccurrences(of: "ingressClassName: nginx", with: "ingressClassName: public")
            + """
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata: {name: gke, namespace: apps, annotations: {kubernetes.io/ingress.class: gce, kubernetes.io/ingress.allow-http: "false"}}
            spec:
              rules: [{host: gke.example.com, http: {paths: [{path: "/*", pathType: ImplementationSpecific, backend: {service: {name: web, port: {number: 80}}}}]}}]

            """
            + NIC.ingress("cilium", host: "c.example.com", annotations: ["ingress.cilium.io/loadbalancer-mode": "shared"], paths: [("/", "Prefix", "c")])
                .replacingOccurrences(of: "ingressClassName: nginx", with: "ingressClassName: cilium")
            + NIC.ingress("apisix", host: "x.example.com", annotations: ["k8s.apisix.apache.org/enable-websocket": "true"], paths: [("/", "Prefix", "x")])
                .replacingOccurrences(of: "ingressClassName: nginx", with: "ingressClassName: apisix")
        let (snapshot, _) = MigrateTests.snapshot(yaml)
        let inventory = IngressInventory(snapshot)
        #expect(inventory.total == 7)
        let controllers = Dictionary(inventory.classes.map { ($0.ingressClass, $0.controller) }) { first, _ in first }
        #expect(controllers["nginx"] == "nginx.org/ingress-controller")
        #expect(controllers["kong"] == "Kong Ingress Controller (ingress-controllers.konghq.com/kong) (assumed)")
        #expect(controllers["traefik"] == "Traefik (traefik.io/ingress-controller) (assumed)")
        #expect(controllers["public"] == "ingress-nginx (k8s.io/ingress-nginx) (assumed)")
        #expect(controllers["gce"]?.hasSuffix("(assumed)") == true && controllers["gce"]?.contains("GCE") == true, "\(controllers)")
        #expect(controllers["cilium"] == "Cilium Ingress (cilium.io/ingress-controller) (assumed)")
        #expect(controllers["apisix"]?.hasPrefix("APISIX Ingress Controller") == true)
        let support = Dictionary(inventory.annotations.map { ($0.key, $0.support) }) { first, _ in first }
        #expect(support["nginx.org/hsts"] == "convertible")
        #expect(support["nginx.org/server-snippets"] == "not convertible")
        #expect(support["konghq.com/strip-path"] == "convertible")
        #expect(support["traefik.ingress.kubernetes.io/router.priority"] == "not convertible")
        #expect(support["nginx.ingress.kubernetes.io/use-regex"] == "convertible")
        #expect(support["kubernetes.io/ingress.allow-http"] == "convertible", "\(support)")
        #expect(support["ingress.cilium.io/loadbalancer-mode"] == "not convertible")
        #expect(support["k8s.apisix.apache.org/enable-websocket"] == "convertible")
        #expect(inventory.table().contains("konghq.com/"))
    }
}
