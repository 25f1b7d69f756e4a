import GatewayAPI
import Migrate
import Testing
import Translator
import Yams

/// `archway migrate` for F5 NGINX Ingress Controller (`nginx.org/*`) Ingresses, in the situations of
/// ingress2gateway's nginx provider fixtures (manifests written here): each conversion is checked on
/// the output, on the report line, and on what both readings do with requests (`--verify`).
@Suite struct MigrateNginxIncTests {
    static let nicClass = """
        ---
        apiVersion: networking.k8s.io/v1
        kind: IngressClass
        metadata: {name: nginx}
        spec: {controller: nginx.org/ingress-controller}

        """

    /// An Ingress of class nginx on one host; `paths`: (path, pathType, Service), each Service on port 80.
    static func ingress(_ name: String, host: String = "cafe.example.com", annotations: [String: String] = [:],
                        paths: [(String, String, String)], tls: Bool = false) -> String {
        let notes = annotations.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \"\($0.value)\"" }.joined(separator: ", ")
        let rules = paths.map { "{path: \"\($0.0)\", pathType: \($0.1), backend: {service: {name: \($0.2), port: {number: 80}}}}" }
        return """
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata: {name: \(name), namespace: apps, annotations: {\(notes)}}
            spec:
              ingressClassName: nginx
              \(tls ? "tls: [{hosts: [\(host)], secretName: \(name)-tls}]" : "")
              rules: [{host: \(host), http: {paths: [\(rules.joined(separator: ", "))]}}]

            """
    }

    static func nic(_ name: String) -> String { "nginx.org/" + name }

    /// The conversion, its verification, and the documents as dictionaries.
    static func convert(_ yaml: String) throws -> (Migration, Verification, [[String: Any]]) {
        let (migration, verification, output) = MigrateTests.verify(nicClass + yaml)
        let documents = try Yams.load_all(yaml: output).compactMap { $0 as? [String: Any] }
        return (migration, verification, documents)
    }

    static func document(_ documents: [[String: Any]], kind: String, name: String) -> [String: Any]? {
        documents.first { $0["kind"] as? String == kind && ($0["metadata"] as? [String: Any])?["name"] as? String == name }
    }

    static func line(_ migration: Migration, _ key: String) -> String {
        migration.report.first { $0.key == key }?.description ?? "(no line for \(key))"
    }

    /// Both readings agree on every probe, or differ only where an accepted difference says why.
    static func expectEquivalent(_ verification: Verification, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        #expect(verification.loadErrors.isEmpty && verification.routeProblems.isEmpty,
                "\(verification.loadErrors) \(verification.routeProblems)", sourceLocation: sourceLocation)
        #expect(verification.probes > 0, sourceLocation: sourceLocation)
        #expect(verification.differences.isEmpty, "\(verification.differences.prefix(3).map(\.description))", sourceLocation: sourceLocation)
    }

    @Test func theControllerIsToldByClassThenAnnotationsThenName() throws {
        func controller(_ yaml: String) -> IngressController {
            let (snapshot, _) = MigrateTests.snapshot(yaml)
            return IngressController.of(snapshot.ingresses[0], classes: snapshot.ingressClasses)
        }
        let plain = Self.ingress("a", paths: [("/", "Prefix", "app")])
        // Class "nginx" is both controllers' default name: the IngressClass decides when it is there...
        #expect(controller(Self.nicClass + plain) == .nginxInc)
        #expect(controller(plain) == .ingressNginx)
        // ...else the annotations only one of them reads.
        #expect(controller(Self.ingress("a", annotations: [Self.nic("hsts"): "true"], paths: [("/", "Prefix", "app")])) == .nginxInc)
        #expect(controller(Self.ingress("a", annotations: ["nginx.ingress.kubernetes.io/use-regex": "true"], paths: [("/", "Prefix", "app")])) == .ingressNginx)
        // An ingress-nginx annotation on an NGINX Ingress Controller Ingress is ignored by it, and said so.
        let (migration, _, _) = try Self.convert(Self.ingress("a", annotations: ["nginx.ingress.kubernetes.io/rewrite-target": "/"],
                                                               paths: [("/tea", "Prefix", "tea")]))
        #expect(Self.line(migration, "nginx.ingress.kubernetes.io/rewrite-target").contains("not mapped: ignored: this Ingress is for F5 NGINX Ingress Controller"))
    }

    @Test func pathsAreNginxLocations() throws {
        let (migration, verification, documents) = try Self.convert(Self.ingress("cafe", paths: [
            ("/tea", "Prefix", "tea"), ("/coffee/", "Prefix", "coffee"), ("/menu", "Exact", "menu"), ("/", "Prefix", "home"),
        ]))
        Self.expectEquivalent(verification)
        // `location /tea` is a string prefix; the PathPrefix is not, and the verifier names that difference.
        #expect(verification.outcomes("http://cafe.example.com/teapot")?.ingress == "forward to apps/tea:80 with path /teapot")
        #expect(verification.outcomes("http://cafe.example.com/teapot")?.gateway == "forward to apps/home:80 with path /teapot")
        #expect(verification.accepted.contains { $0.difference.kind == .segmentPrefix("/tea") && !$0.probes.isEmpty })
        // `location /coffee/` answers /coffee with 301 to /coffee/ (nginx's auto_redirect), on both sides.
        let slash = verification.outcomes("http://cafe.example.com/coffee?x=1")
        #expect(slash?.ingress == "redirect 301 to http://cafe.example.com/coffee/?x=1")
        #expect(slash?.gateway == slash?.ingress)
        #expect(verification.outcomes("http://cafe.example.com/menu/")?.gateway == "forward to apps/home:80 with path /menu/")
        let route = try #require(Self.document(documents, kind: "HTTPRoute", name: "cafe-cafe-example-com"))
        let rules = try #require((route["spec"] as? [String: Any])?["rules"] as? [[String: Any]])
        #expect(rules.contains { ($0["filters"] as? [[String: Any]])?.first?["type"] as? String == "RequestRedirect" }, "the slash redirect is a rule")
    }

    @Test func pathRegexBecomesRegularExpressionsInNginxOrder() throws {
        let sensitive = try Self.convert(Self.ingress("api", annotations: [Self.nic("path-regex"): "case_sensitive"],
                                                      paths: [("/api/v[0-9]+", "Prefix", "api"), ("/static", "Prefix", "static")], tls: true))
        Self.expectEquivalent(sensitive.1)
        // The cleartext redirect covers exactly what the regex locations match.
        #expect(sensitive.1.outcomes("http://cafe.example.com/api/v2/users")?.gateway == "redirect 301 to https://cafe.example.com/api/v2/users")
        #expect(sensitive.1.outcomes("http://cafe.example.com/api/vx")?.gateway == "404 (no route)")
        #expect(sensitive.1.outcomes("https://cafe.example.com/api/v2/users")?.gateway == "forward to apps/api:80 with path /api/v2/users")
        #expect(sensitive.1.outcomes("https://cafe.example.com/API/v2")?.ingress == "404 (no route)")
        #expect(sensitive.1.outcomes("https://cafe.example.com/staticfile")?.gateway == "forward to apps/static:80 with path /staticfile")
        #expect(Self.line(sensitive.0, Self.nic("path-regex")).contains("partly mapped: RegularExpression path matches"))

        let insensitive = try Self.convert(Self.ingress("api", annotations: [Self.nic("path-regex"): "case_insensitive"],
                                                        paths: [("/api/v[0-9]+", "Prefix", "api")]))
        Self.expectEquivalent(insensitive.1)
        #expect(insensitive.1.outcomes("http://cafe.example.com/API/V2")?.gateway == "forward to apps/api:80 with path /API/V2")

        let exact = try Self.convert(Self.ingress("api", annotations: [Self.nic("path-regex"): "exact"], paths: [("/tea", "Prefix", "tea")]))
        Self.expectEquivalent(exact.1)
        #expect(exact.1.outcomes("http://cafe.example.com/tea/x")?.ingress == "404 (no route)")
        #expect(Self.line(exact.0, Self.nic("path-regex")).hasSuffix(": mapped"))

        // ingress2gateway's fixture says "true", which NGINX Ingress Controller does not know: plain prefixes stay.
        let unknown = try Self.convert(Self.ingress("api", annotations: [Self.nic("path-regex"): "true"], paths: [("/api", "Prefix", "api")]))
        Self.expectEquivalent(unknown.1)
        #expect(unknown.1.outcomes("http://cafe.example.com/api/v[0-9]")?.gateway == "forward to apps/api:80 with path /api/v[0-9]")
        #expect(Self.line(unknown.0, Self.nic("path-regex")).contains("not mapped: \"true\" is not case_sensitive, case_insensitive or exact"))
    }

    @Test func rewritesReplaceTheLocationPerService() throws {
        let (migration, verification, _) = try Self.convert(Self.ingress("cafe", annotations: [
            Self.nic("rewrites"): "serviceName=tea rewrite=/;serviceName=coffee rewrite=/beans",
        ], paths: [("/tea/", "Prefix", "tea"), ("/coffee", "Prefix", "coffee"), ("/juice", "Prefix", "juice")]))
        Self.expectEquivalent(verification)
        #expect(verification.outcomes("http://cafe.example.com/tea/green?x=1")?.gateway == "forward to apps/tea:80 with path /green")
        #expect(verification.outcomes("http://cafe.example.com/tea/green")?.ingress == verification.outcomes("http://cafe.example.com/tea/green")?.gateway)
        #expect(verification.outcomes("http://cafe.example.com/coffee/arabica")?.gateway == "forward to apps/coffee:80 with path /beans/arabica")
        #expect(verification.outcomes("http://cafe.example.com/juice/x")?.gateway == "forward to apps/juice:80 with path /juice/x")
        #expect(Self.line(migration, Self.nic("rewrites")).hasSuffix(": mapped"))

        // "/tea" with rewrite "/" gives nginx a doubled slash; the report and the verifier say so.
        let doubled = try Self.convert(Self.ingress("cafe", annotations: [Self.nic("rewrites"): "serviceName=tea rewrite=/"],
                                                    paths: [("/tea", "Prefix", "tea")]))
        Self.expectEquivalent(doubled.1)
        #expect(doubled.1.outcomes("http://cafe.example.com/tea/green")?.ingress == "forward to apps/tea:80 with path //green")
        #expect(doubled.1.outcomes("http://cafe.example.com/tea/green")?.gateway == "forward to apps/tea:80 with path /green")
        #expect(Self.line(doubled.0, Self.nic("rewrites")).contains("partly mapped: /tea: nginx writes / and then the rest"))
    }

    @Test func redirectsHSTSAndHeaders() throws {
        let annotations = [Self.nic("redirect-to-https"): "true", Self.nic("hsts"): "true", Self.nic("hsts-max-age"): "600",
                           Self.nic("proxy-set-headers"): "X-Forwarded-ABC: abc, X-Passed", Self.nic("proxy-hide-headers"): "Server, X-Powered-By"]
        let (migration, verification, _) = try Self.convert(Self.ingress("cafe", annotations: annotations, paths: [("/", "Prefix", "app")], tls: true))
        Self.expectEquivalent(verification)
        // ssl-redirect is on by default for a TLS host: 301, NGINX's code.
        #expect(verification.outcomes("http://cafe.example.com/a?b=1")?.gateway == "redirect 301 to https://cafe.example.com/a?b=1")
        // redirect-to-https: behind a TLS-offloading balancer, X-Forwarded-Proto: http is sent to https.
        let offloaded = verification.outcomes("https://cafe.example.com/a", headers: ["X-Forwarded-Proto": "http"])
        #expect(offloaded?.ingress == "redirect 301 to https://cafe.example.com/a" && offloaded?.gateway == offloaded?.ingress)
        let served = verification.outcomes("https://cafe.example.com/a")
        #expect(served?.gateway == "forward to apps/app:80 with path /a, x-forwarded-abc: abc; response sets strict-transport-security: max-age=600; response drops server, x-powered-by")
        #expect(served?.ingress == served?.gateway)
        for key in annotations.keys { #expect(Self.line(migration, key).hasSuffix(": mapped"), "\(Self.line(migration, key))") }

        // Without the redirect the host is served in cleartext too, and HSTS stays off it there.
        let cleartext = try Self.convert(Self.ingress("cafe", annotations: [Self.nic("hsts"): "true", Self.nic("ssl-redirect"): "false"],
                                                      paths: [("/", "Prefix", "app")], tls: true))
        Self.expectEquivalent(cleartext.1)
        #expect(cleartext.1.outcomes("http://cafe.example.com/a")?.gateway == "forward to apps/app:80 with path /a")
        #expect(cleartext.1.outcomes("https://cafe.example.com/a")?.gateway.contains("strict-transport-security: max-age=2592000") == true)
        #expect(Self.document(cleartext.2, kind: "HTTPRoute", name: "cafe-cafe-example-com-http") != nil)
    }

    @Test func grpcTLSAndWebSocketServices() throws {
        let grpcOnly = try Self.convert(Self.ingress("greeter", host: "grpc.example.com", annotations: [Self.nic("grpc-services"): "greeter"],
                                                     paths: [("/helloworld.Greeter", "Prefix", "greeter")]))
        let route = try #require(Self.document(grpcOnly.2, kind: "GRPCRoute", name: "greeter-grpc-example-com"))
        let match = ((route["spec"] as? [String: Any])?["rules"] as? [[String: Any]])?.first?["matches"] as? [[String: Any]]
        #expect((match?.first?["method"] as? [String: Any])?["service"] as? String == "helloworld.Greeter")

        let mixed = try Self.convert(Self.ingress("cafe", annotations: [
            Self.nic("grpc-services"): "greeter", Self.nic("ssl-services"): "secure", Self.nic("websocket-services"): "chat",
        ], paths: [("/helloworld.Greeter", "Prefix", "greeter"), ("/secure", "Prefix", "secure"), ("/chat", "Prefix", "chat")]))
        Self.expectEquivalent(mixed.1)
        #expect(Self.document(mixed.2, kind: "HTTPRoute", name: "cafe-cafe-example-com") != nil, "gRPC and HTTP Services on one host stay one HTTPRoute")
        let policy = try #require(Self.document(mixed.2, kind: "BackendTLSPolicy", name: "secure-backend-tls"))
        #expect(((policy["spec"] as? [String: Any])?["validation"] as? [String: Any])?["hostname"] as? String == "secure.apps.svc")
        #expect(Self.document(mixed.2, kind: "BackendTLSPolicy", name: "chat-backend-tls") == nil)
        #expect(Self.line(mixed.0, Self.nic("grpc-services")).contains("partly mapped: hosts whose paths all go to gRPC Services became GRPCRoutes"))
        #expect(Self.line(mixed.0, Self.nic("ssl-services")).contains("partly mapped: a BackendTLSPolicy per Service"))
        #expect(Self.line(mixed.0, Self.nic("websocket-services")).hasSuffix(": mapped"))
    }

    @Test func listenPortsBecomeListeners() throws {
        let (migration, verification, documents) = try Self.convert(Self.ingress("cafe", annotations: [
            Self.nic("listen-ports"): "8080,8081", Self.nic("listen-ports-ssl"): "8443",
        ], paths: [("/", "Prefix", "app")], tls: true))
        Self.expectEquivalent(verification)
        let gateway = try #require(Self.document(documents, kind: "Gateway", name: "nginx"))
        let listeners = ((gateway["spec"] as? [String: Any])?["listeners"] as? [[String: Any]] ?? []).map { "\($0["name"]!):\($0["port"]!)" }
        #expect(Set(listeners).isSuperset(of: ["http-8080:8080", "http-8081:8081", "https-8443-cafe-example-com:8443"]))
        #expect(verification.outcomes("https://cafe.example.com:8443/x")?.gateway == "forward to apps/app:80 with path /x")
        // NGINX redirects to its first TLS port.
        #expect(verification.outcomes("http://cafe.example.com:8081/x")?.gateway == "redirect 301 to https://cafe.example.com:8443/x")
        #expect(verification.outcomes("http://cafe.example.com:8081/x")?.ingress == "redirect 301 to https://cafe.example.com:8443/x")
        // Neither reading serves the Ingress on 80 or 443 any more.
        #expect(verification.outcomes("https://cafe.example.com/x")?.ingress == "404 (no route)")
        #expect(verification.outcomes("https://cafe.example.com/x")?.gateway == "404 (no route)")
        #expect(Self.line(migration, Self.nic("listen-ports")).hasSuffix(": mapped"))
    }

    @Test func accessAndLimitsBecomePolicies() throws {
        let (migration, _, documents) = try Self.convert(Self.ingress("cafe", annotations: [
            Self.nic("basic-auth-secret"): "cafe-users", Self.nic("basic-auth-realm"): "Cafe", Self.nic("limit-req-rate"): "10r/s",
            Self.nic("limit-req-burst"): "5", Self.nic("client-max-body-size"): "4m", Self.nic("server-snippets"): "deny all;",
            Self.nic("lb-method"): "least_conn",
        ], paths: [("/", "Prefix", "app")]))
        let auth = try #require(Self.document(documents, kind: "BasicAuth", name: "cafe-basicauth"))
        let secretRef = (auth["spec"] as? [String: Any])?["secretRef"] as? [String: Any]
        #expect(secretRef?["name"] as? String == "cafe-users" && secretRef?["key"] as? String == "htpasswd")
        let limit = try #require(Self.document(documents, kind: "RateLimit", name: "cafe-ratelimit"))
        #expect((limit["spec"] as? [String: Any])?["requests"] as? Int == 10 && (limit["spec"] as? [String: Any])?["burst"] as? Int == 15)
        let body = try #require(Self.document(documents, kind: "BodySize", name: "cafe-bodysize"))
        #expect((body["spec"] as? [String: Any])?["maxRequestBody"] as? String == "4Mi")
        #expect(Self.line(migration, Self.nic("basic-auth-secret")).hasSuffix(": mapped"))
        #expect(Self.line(migration, Self.nic("server-snippets")).contains("not mapped: snippets are raw nginx configuration"))
        #expect(Self.line(migration, Self.nic("lb-method")).contains("not mapped: load-balancing"))
        #expect(migration.report.count == 7, "every annotation has its line")
    }
}
