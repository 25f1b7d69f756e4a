import GatewayAPI
import Migrate
import RoutingTable
import Testing
import Translator
import Yams

/// `archway migrate` for Cilium Ingresses (`ingress.cilium.io/*`): the output, the report lines, and
/// what both readings do with requests (`--verify`), in the situations of Cilium's own path-types
/// example and annotation reference.
@Suite struct MigrateCiliumTests {
    typealias NIC = MigrateNginxIncTests

    static func cilium(_ name: String) -> String { "ingress.cilium.io/" + name }

    static func ingress(_ name: String, host: String = "pathtypes.example.com", annotations: [String: String] = [:],
                        paths: [(String, String, String)], tls: Bool = false) -> String {
        NIC.ingress(name, host: host, annotations: annotations, paths: paths, tls: tls)
            .replacingOccurrences(of: "ingressClassName: nginx", with: "ingressClassName: cilium")
    }

    static func convert(_ yaml: String) throws -> (Migration, Verification, [[String: Any]]) {
        let (migration, verification, output) = MigrateTests.verify(yaml)
        return (migration, verification, try Yams.load_all(yaml: output).compactMap { $0 as? [String: Any] })
    }

    static func rules(_ documents: [[String: Any]], route: String) -> [[String: Any]] {
        (NIC.document(documents, kind: "HTTPRoute", name: route)?["spec"] as? [String: Any])?["rules"] as? [[String: Any]] ?? []
    }

    @Test func ciliumIsToldByClassControllerNameOrAnnotations() {
        func controller(_ yaml: String) -> IngressController {
            let (snapshot, _) = MigrateTests.snapshot(yaml)
            return IngressController.of(snapshot.ingresses[0], classes: snapshot.ingressClasses)
        }
        let named = NIC.ingress("a", paths: [("/", "Prefix", "app")]).replacingOccurrences(of: "ingressClassName: nginx", with: "ingressClassName: edge")
        let edgeClass = "---\napiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: edge}\nspec: {controller: cilium.io/ingress-controller}\n"
        #expect(controller(edgeClass + named) == .cilium)
        #expect(controller(Self.ingress("a", paths: [("/", "Prefix", "app")])) == .cilium)
        #expect(controller(NIC.ingress("a", annotations: [Self.cilium("force-https"): "enabled"], paths: [("/", "Prefix", "app")])) == .cilium)
    }

    /// Cilium's path-types example: Exact, Prefix by segment, ImplementationSpecific as a whole-path regex.
    @Test func pathsAreTheSpecsAndImplementationSpecificIsARegex() throws {
        let (_, verification, documents) = try Self.convert(Self.ingress("multiple-path-types", paths: [
            ("/exact", "Exact", "exactpath"), ("/", "Prefix", "prefixpath"), ("/prefix", "Prefix", "prefixpath2"),
            ("/impl", "ImplementationSpecific", "implpath"), ("/impl.+", "ImplementationSpecific", "implpath2"),
        ]))
        NIC.expectEquivalent(verification)
        let expected = ["/": "prefixpath", "/exact": "exactpath", "/prefix": "prefixpath2", "/prefix/x": "prefixpath2", "/prefixed": "prefixpath",
                        "/impl": "implpath", "/implementation": "implpath2", "/exact/x": "prefixpath"]
        for (path, service) in expected {
            let outcome = verification.outcomes("http://pathtypes.example.com\(path)")
            #expect(outcome?.ingress == "forward to apps/\(service):80 with path \(path)", "\(path)")
            #expect(outcome?.gateway == outcome?.ingress, "\(path)")
        }
        // A regex without metacharacters matches only itself: Exact, which every implementation supports.
        let matches = Self.rules(documents, route: "multiple-path-types-pathtypes-example-com").compactMap { ($0["matches"] as? [[String: Any]])?.first?["path"] as? [String: String] }
        #expect(matches.contains(["type": "Exact", "value": "/impl"]))
        #expect(matches.contains(["type": "RegularExpression", "value": "/impl.+"]))
    }

    @Test func forceHTTPSRedirectsTLSHostsWith301() throws {
        let forced = try Self.convert(Self.ingress("app", annotations: [Self.cilium("force-https"): "enabled"], paths: [("/", "Prefix", "app")], tls: true))
        NIC.expectEquivalent(forced.1)
        #expect(forced.1.outcomes("http://pathtypes.example.com/a?b=1")?.gateway == "redirect 301 to https://pathtypes.example.com/a?b=1")
        #expect(forced.1.outcomes("https://pathtypes.example.com/a")?.gateway == "forward to apps/app:80 with path /a")
        #expect(NIC.line(forced.0, Self.cilium("force-https")).hasSuffix(": mapped"))

        // Unset, Cilium's enforce-ingress-https (on in its Helm chart) redirects TLS hosts all the same.
        let unset = try Self.convert(Self.ingress("app", paths: [("/", "Prefix", "app")], tls: true))
        #expect(unset.1.outcomes("http://pathtypes.example.com/a")?.ingress == "redirect 301 to https://pathtypes.example.com/a")

        let disabled = try Self.convert(Self.ingress("app", annotations: [Self.cilium("force-https"): "disabled"], paths: [("/", "Prefix", "app")], tls: true))
        NIC.expectEquivalent(disabled.1)
        #expect(disabled.1.outcomes("http://pathtypes.example.com/a")?.gateway == "forward to apps/app:80 with path /a")

        // Hosts without TLS are never redirected, whatever the annotation says.
        let plain = try Self.convert(Self.ingress("app", annotations: [Self.cilium("force-https"): "true"], paths: [("/", "Prefix", "app")]))
        #expect(plain.1.outcomes("http://pathtypes.example.com/a")?.ingress == "forward to apps/app:80 with path /a")
        #expect(NIC.line(plain.0, Self.cilium("force-https")).contains("not mapped: Cilium redirects only hosts with TLS"))
    }

    @Test func requestTimeoutBoundsEveryRuleOnBothSides() throws {
        let yaml = Self.ingress("app", annotations: [Self.cilium("request-timeout"): "1m30.5s"], paths: [("/", "Prefix", "app"), ("/api", "Prefix", "api")])
        let (migration, verification, documents) = try Self.convert(yaml)
        NIC.expectEquivalent(verification)
        let rules = Self.rules(documents, route: "app-pathtypes-example-com")
        #expect(rules.count == 2 && rules.allSatisfy { ($0["timeouts"] as? [String: String]) == ["request": "1m30s500ms"] })
        #expect(NIC.line(migration, Self.cilium("request-timeout")).hasSuffix(": mapped"))
        // Served side by side, each of the Ingress's entries carries the same 90.5 s limit.
        var options = Translator.Options()
        options.ingress = IngressServing(everyClass: true)
        let table = Translator(options: options).translate(MigrateTests.snapshot(yaml).0).table
        let entries = table.ports.flatMap(\.listeners).flatMap(\.virtualHosts).flatMap(\.routes)
        #expect(!entries.isEmpty && entries.allSatisfy { $0.timeouts?.requestMillis == 90_500 })
        // Cilium ignores what is not a Go duration, and so does the conversion, saying why.
        let (bad, _, badDocuments) = try Self.convert(Self.ingress("app", annotations: [Self.cilium("request-timeout"): "soon"], paths: [("/", "Prefix", "app")]))
        #expect(Self.rules(badDocuments, route: "app-pathtypes-example-com").allSatisfy { $0["timeouts"] == nil })
        #expect(NIC.line(bad, Self.cilium("request-timeout")).contains("not mapped: \"soon\" is not a positive Go duration"))
    }

    @Test func tlsPassthroughIsATLSRouteAndNothingInCleartext() throws {
        let (migration, verification, documents) = try Self.convert(Self.ingress("secure", host: "secure.example.com",
                                                                                 annotations: [Self.cilium("tls-passthrough"): "enabled"],
                                                                                 paths: [("/", "Prefix", "vault")]))
        // Neither side routes HTTP for the host, so there is nothing to probe, and nothing that differs.
        #expect(verification.loadErrors.isEmpty && verification.routeProblems.isEmpty && verification.differences.isEmpty)
        let route = try #require(NIC.document(documents, kind: "TLSRoute", name: "secure-secure-example-com"))
        let refs = ((route["spec"] as? [String: Any])?["rules"] as? [[String: Any]])?.first?["backendRefs"] as? [[String: Any]]
        #expect(refs?.first?["name"] as? String == "vault")
        let gateway = try #require(NIC.document(documents, kind: "Gateway", name: "cilium"))
        let listeners = (gateway["spec"] as? [String: Any])?["listeners"] as? [[String: Any]] ?? []
        #expect(listeners.contains { ($0["tls"] as? [String: Any])?["mode"] as? String == "Passthrough" && $0["hostname"] as? String == "secure.example.com" })
        // Unlike ingress-nginx's ssl-passthrough, Cilium serves the host in no cleartext route.
        #expect(NIC.document(documents, kind: "HTTPRoute", name: "secure-secure-example-com-http") == nil)
        #expect(verification.outcomes("http://secure.example.com/")?.ingress == "404 (no route)")
        #expect(NIC.line(migration, Self.cilium("tls-passthrough")).contains("partly mapped: a TLSRoute on a Passthrough listener"))
    }

    @Test func loadBalancerAndServiceAnnotationsAreReported() throws {
        let annotations = [Self.cilium("loadbalancer-mode"): "dedicated", Self.cilium("service-type"): "NodePort",
                           Self.cilium("insecure-node-port"): "30080", Self.cilium("secure-node-port"): "30443",
                           Self.cilium("host-listener-port"): "8080", Self.cilium("loadbalancer-class"): "io.cilium/bgp-control-plane",
                           Self.cilium("websocket"): "enabled"]
        let (migration, verification, _) = try Self.convert(Self.ingress("app", annotations: annotations, paths: [("/", "Prefix", "app")]))
        NIC.expectEquivalent(verification)
        #expect(migration.report.count == annotations.count, "every annotation has its line")
        #expect(NIC.line(migration, Self.cilium("loadbalancer-mode")).contains("not mapped: a dedicated Cilium load balancer"))
        for key in ["service-type", "insecure-node-port", "secure-node-port", "loadbalancer-class"] {
            #expect(NIC.line(migration, Self.cilium(key)).contains("not mapped: configures the Service Cilium puts in front of Envoy"))
        }
        #expect(NIC.line(migration, Self.cilium("host-listener-port")).contains("not mapped: Cilium's host-network listener port"))
        #expect(NIC.line(migration, Self.cilium("websocket")).contains("not mapped: no Gateway API equivalent"))
    }
}
