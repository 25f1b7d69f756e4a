import GatewayAPI
import Testing
import Translator

/// What the Kubernetes provider relies on from the pure core: which Secrets and ConfigMaps to fetch,
/// and the Gateway addresses taken from archway's own Service.
struct ClusterInputsTests {
    static func snapshot(_ yaml: String) throws -> ResourceSnapshot {
        let result = ManifestLoader().parse(text: yaml, file: "test.yaml")
        #expect(result.errors.isEmpty, "\(result.errors)")
        return ResourceSnapshot(result.resources.map(\.resource))
    }

    static let gateway = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: GatewayClass
        metadata: {name: archway}
        spec: {controllerName: archway.dev/gateway-controller}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: gw, namespace: edge}
        spec:
          gatewayClassName: archway
          listeners:
          - {name: http, protocol: HTTP, port: 80}
          - {name: https, protocol: HTTPS, port: 443, tls: {certificateRefs: [{name: site}, {name: shared, namespace: certs}]}}
        """

    /// What the provider fetches: `referencedObjects(in:)` reads only the kinds that name Secrets and
    /// ConfigMaps, and must find what the whole snapshot's `referencedObjects` finds.
    static func referenced(_ yaml: String) throws -> Set<ObjectRef> {
        let result = ManifestLoader().parse(text: yaml, file: "test.yaml")
        #expect(result.errors.isEmpty, "\(result.errors)")
        let resources = result.resources.map(\.resource)
        let found = ResourceSnapshot.referencedObjects(in: resources)
        #expect(found == ResourceSnapshot(resources).referencedObjects)
        return found
    }

    @Test(arguments: FixtureTests.names)
    func everyFixturesReferencesAreFoundFromTheKindsThatName(fixture: String) throws {
        let text = try String(contentsOf: FixtureTests.directory.appendingPathComponent(fixture), encoding: .utf8)
        let resources = ManifestLoader().parse(text: text, file: fixture).resources.map(\.resource)
        #expect(ResourceSnapshot.referencedObjects(in: resources) == ResourceSnapshot(resources).referencedObjects)
    }

    @Test func referencedSecretsAndConfigMapsAreTheOnesResourcesName() throws {
        let referenced = try Self.referenced(Self.gateway + """

            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata: {name: legacy, namespace: apps}
            spec: {tls: [{secretName: legacy-tls}], rules: []}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: BackendTLSPolicy
            metadata: {name: p, namespace: apps}
            spec:
              targetRefs: [{group: "", kind: Service, name: api}]
              validation: {hostname: api.example, caCertificateRefs: [{group: "", kind: ConfigMap, name: api-ca}]}
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: unrelated, namespace: apps}
            type: Opaque
            """)
        #expect(referenced == [
            ObjectRef(kind: "Secret", namespace: "edge", name: "site"), ObjectRef(kind: "Secret", namespace: "certs", name: "shared"),
            ObjectRef(kind: "Secret", namespace: "apps", name: "legacy-tls"), ObjectRef(kind: "ConfigMap", namespace: "apps", name: "api-ca"),
        ])
    }

    /// Gateway `spec.tls`: the frontend CA bundles (default and perPort, ConfigMap or Secret) and the
    /// backend client certificate, in the Gateway's namespace unless the reference names another.
    @Test func gatewayTLSReferencesAreFetched() throws {
        let referenced = try Self.referenced("""
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: gw, namespace: edge}
            spec:
              gatewayClassName: archway
              listeners: [{name: http, protocol: HTTP, port: 80}]
              tls:
                backend: {clientCertificateRef: {name: to-backends}}
                frontend:
                  default: {validation: {caCertificateRefs: [{kind: ConfigMap, group: "", name: clients-ca}]}}
                  perPort:
                  - {port: 8443, tls: {validation: {caCertificateRefs: [{kind: Secret, group: "", name: partner-ca, namespace: partners}, {kind: Service, group: "", name: not-a-ca}]}}}
            """)
        #expect(referenced == [
            ObjectRef(kind: "Secret", namespace: "edge", name: "to-backends"), ObjectRef(kind: "ConfigMap", namespace: "edge", name: "clients-ca"),
            ObjectRef(kind: "Secret", namespace: "partners", name: "partner-ca"),
        ])
    }

    static func addresses(service: String?) throws -> [String] {
        let snapshot = try Self.snapshot(Self.gateway + (service.map { "\n---\n" + $0 } ?? ""))
        var options = Translator.Options()
        options.gatewayService = NamespacedName("archway-system", "archway")
        let status = Translator(options: options).translate(snapshot).statuses.gateways[NamespacedName("edge", "gw")]
        return status?.addresses.map { "\($0.type ?? "?")=\($0.value)" } ?? ["no status"]
    }

    @Test func gatewaysReportTheirServicesLoadBalancerAddress() throws {
        let base = "apiVersion: v1\nkind: Service\nmetadata: {name: archway, namespace: archway-system}\nspec: {type: LoadBalancer, clusterIP: 10.96.0.10}"
        #expect(try Self.addresses(service: base + "\nstatus: {loadBalancer: {ingress: [{ip: 203.0.113.7}, {hostname: lb.example.net}]}}")
                == ["IPAddress=203.0.113.7", "Hostname=lb.example.net"])
        #expect(try Self.addresses(service: base) == ["IPAddress=10.96.0.10"], "before the cloud assigns an address, the cluster IP")
        #expect(try Self.addresses(service: nil) == [], "no Service, no address")
    }
}
