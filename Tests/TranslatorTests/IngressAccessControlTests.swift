import GatewayAPI
import Migrate
import RoutingTable
import Testing
import Translator

/// Serving Ingresses side by side enforces none of the controllers' access checks, so an Ingress
/// that asks for one is refused: here, every way such a check can be asked for (a review found
/// several that were served open), and the cases known harmless that stay served.
@Suite struct IngressAccessControlTests {
    typealias NIC = MigrateNginxIncTests

    static func access(_ yaml: String, ingress name: String = "app") -> [String] {
        let (snapshot, _) = MigrateTests.snapshot(yaml)
        let ingress = snapshot.ingresses.first { $0.metadata.name == name }!
        return IngressIntent.reading(ingress, in: snapshot).accessControl
    }

    static func ingress(_ annotations: [String: String], name: String = "app", className: String = "archway", service: String = "app") -> String {
        NIC.ingress(name, annotations: annotations, paths: [("/", "Prefix", service)]).replacingOccurrences(of: "ingressClassName: nginx", with: "ingressClassName: \(className)")
    }

    @Test func anotherControllersAccessAnnotationStillRefuses() {
        // Annotations of two controllers: the guess is ingress-nginx, and NGINX Ingress Controller's basic auth still counts.
        let mixed = Self.access(Self.ingress(["nginx.org/basic-auth-secret": "users", "nginx.ingress.kubernetes.io/proxy-body-size": "8m"]))
        #expect(mixed == ["nginx.org/basic-auth-secret"])
        #expect(Self.access(Self.ingress(["nginx.com/jwt-key": "cafe-jwk"])) == ["nginx.com/jwt-key"])
        #expect(Self.access(Self.ingress(["appprotect.f5.com/app-protect-enable": "True"])) == ["appprotect.f5.com/app-protect-enable"])
        #expect(Self.access(Self.ingress(["nginx.org/server-snippets": "deny all;"])) == ["nginx.org/server-snippets (allow/deny/auth directives)"])
        #expect(Self.access(Self.ingress(["nginx.org/server-snippets": "add_header X-Served archway;"])).isEmpty)
        #expect(Self.access(Self.ingress(["nginx.ingress.kubernetes.io/configuration-snippet": "satisfy any;"])).count == 1)
    }

    @Test func kongPluginsAreRefusedUnlessKnownHarmless() {
        func plugin(_ name: String, _ kind: String, extra: String = "") -> String {
            "---\napiVersion: configuration.konghq.com/v1\nkind: KongPlugin\nmetadata: {name: \(name), namespace: apps}\nplugin: \(kind)\n\(extra)"
        }
        let kong = { (plugins: String) in Self.ingress(["konghq.com/plugins": plugins], className: "kong") }
        #expect(Self.access(plugin("block", "request-termination", extra: "config: {status_code: 403}\n") + kong("block")) == ["konghq.com/plugins: block"])
        #expect(Self.access(plugin("cors", "cors") + kong("cors")).isEmpty)
        #expect(Self.access(plugin("keys", "key-auth", extra: "disabled: true\n") + kong("keys")).isEmpty, "Kong does not run a disabled plugin")
        #expect(Self.access(kong("not-in-the-input")) == ["konghq.com/plugins: not-in-the-input"])
        // On the Service the path goes to, and global cluster plugins, as Kong applies them.
        let service = "---\napiVersion: v1\nkind: Service\nmetadata: {name: app, namespace: apps, annotations: {konghq.com/plugins: keys}}\nspec: {ports: [{port: 80}]}\n"
        #expect(Self.access(plugin("keys", "key-auth") + service + kong("")) == ["Service apps/app konghq.com/plugins: keys"])
        let global = "---\napiVersion: configuration.konghq.com/v1\nkind: KongClusterPlugin\nmetadata: {name: office, labels: {global: \"true\"}}\nplugin: ip-restriction\n"
        #expect(Self.access(global + kong("")) == ["KongClusterPlugin office (global)"])
    }

    @Test func traefikMiddlewaresAreRefusedUnlessKnownHarmless() {
        func middleware(_ name: String, _ spec: String) -> String {
            "---\napiVersion: traefik.io/v1alpha1\nkind: Middleware\nmetadata: {name: \(name), namespace: apps}\nspec: \(spec)\n"
        }
        let traefik = { (references: String) in Self.ingress(["traefik.ingress.kubernetes.io/router.middlewares": references], className: "traefik") }
        // A chain may hold basicAuth: not known harmless.
        #expect(Self.access(middleware("protect", "{chain: {middlewares: [{name: basic}]}}") + traefik("apps-protect@kubernetescrd")).count == 1)
        #expect(Self.access(traefik("auth@file")).count == 1)
        // safeNaming writes NAMESPACE_NAME: found, and a compress middleware keeps no one out.
        #expect(Self.access(middleware("gzip", "{compress: {}}") + traefik("apps_gzip@kubernetescrd")).isEmpty)
        #expect(Self.access(middleware("strip", "{stripPrefix: {prefixes: [/api]}}") + traefik("apps-strip@kubernetescrd")).isEmpty)
    }

    @Test func aMinionTakesItsMastersAccessControl() {
        let master = Self.ingress(["nginx.org/mergeable-ingress-type": "master", "nginx.org/basic-auth-secret": "users"], name: "cafe-master")
        let minion = Self.ingress(["nginx.org/mergeable-ingress-type": "minion"], name: "tea")
        #expect(Self.access(master + minion, ingress: "tea") == ["nginx.org/basic-auth-secret of Ingress apps/cafe-master (on the master Ingress of this minion)"])
        #expect(Self.access(minion, ingress: "tea").first?.contains("minion without a master Ingress") == true)
    }

    @Test func gkeIdentityAwareProxyRefuses() {
        let yaml = """
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: app, namespace: apps, annotations: {cloud.google.com/backend-config: '{"default": "protected"}'}}
            spec: {ports: [{port: 80}]}
            ---
            apiVersion: cloud.google.com/v1
            kind: BackendConfig
            metadata: {name: protected, namespace: apps}
            spec: {iap: {enabled: true, oauthclientCredentials: {secretName: oauth}}}

            """ + Self.ingress(["kubernetes.io/ingress.class": "gce"], className: "gce")
        #expect(Self.access(yaml) == ["BackendConfig apps/protected iap"])
    }

    @Test func kongHostAliasesGrowTheTableLinearlyAndUpperCaseHeadersMatch() {
        let aliases = (1...24).map { "alias\($0).example.com" }.joined(separator: ",")
        let yaml = Self.ingress(["konghq.com/host-aliases": aliases, "konghq.com/headers.X-Tenant": "blue"], className: "kong")
        var options = Translator.Options()
        options.ingress = IngressServing(everyClass: true)
        let table = Translator(options: options).translate(MigrateTests.snapshot(yaml).0).table
        let entries = table.ports.flatMap(\.listeners).flatMap(\.virtualHosts).flatMap(\.routes)
        #expect(entries.count == 25, "one entry per host: the Ingress's and each alias")
        #expect(entries.allSatisfy { $0.match.headers == [ValueMatch(name: "x-tenant", kind: .exact, value: "blue")] })
    }
}
