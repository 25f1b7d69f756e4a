import ArchwayCore
import Foundation
import NIOHTTP1
import Testing

/// cert-manager's Gateway HTTP-01 flow through archway in Kubernetes mode, the test playing cert-manager:
/// it creates what cert-manager creates, in the shapes cert-manager writes them
/// (pkg/issuer/acme/http/{service,httproute}.go, pkg/controller/certificates/issuing/internal/secret.go),
/// and checks with real clients on real sockets what Let's Encrypt and the users would see.
@Suite(.timeLimit(.minutes(2)))
struct CertManagerFlowTests {
    static let domain = "app.example.com"
    static let secretName = "app-example-com-tls"
    /// An ACME token and its key authorization (token "." JWK thumbprint), as an order hands them out.
    static let token = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
    static let keyAuthorization = token + ".NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    static let challengePath = "/.well-known/acme-challenge/" + token
    /// cert-manager names its solver objects with generateName `cm-acme-http-solver-`.
    static let solverService = "cm-acme-http-solver-7xk2q"
    static let solverRoute = "cm-acme-http-solver-q9v4n"

    /// The user's side: GatewayClass, Gateway `web` annotated for cert-manager (HTTP on 80, HTTPS on
    /// 443 for app.example.com with a Secret that does not exist yet), every cleartext path redirected
    /// to HTTPS, app.example.com on HTTPS to the echo backend `app`.
    static func userManifests(appPort: Int) -> String {
        Manifests.join(
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: GatewayClass
            metadata: {name: archway}
            spec: {controllerName: archway.dev/gateway-controller}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata:
              name: web
              namespace: default
              annotations: {cert-manager.io/cluster-issuer: letsencrypt}
            spec:
              gatewayClassName: archway
              listeners:
              - {name: http, protocol: HTTP, port: 80}
              - name: https
                protocol: HTTPS
                port: 443
                hostname: \(domain)
                tls:
                  mode: Terminate
                  certificateRefs: [{kind: Secret, name: \(secretName)}]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: redirect-to-https, namespace: default}
            spec:
              parentRefs: [{name: web, sectionName: http}]
              rules:
              - matches: [{path: {type: PathPrefix, value: /}}]
                filters: [{type: RequestRedirect, requestRedirect: {scheme: https, statusCode: 301}}]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: app, namespace: default}
            spec:
              parentRefs: [{name: web, sectionName: https}]
              hostnames: [\(domain)]
              rules: [{backendRefs: [{name: app, port: 80}]}]
            """,
            Manifests.service("app", targetPort: appPort), KubernetesTests.archwayService)
    }

    /// The labels cert-manager puts on the solver pod, Service and HTTPRoute: adler32 of the domain and
    /// of the token, and the solver marker.
    static let solverLabels = """
        {acme.cert-manager.io/http-domain: "776668617", acme.cert-manager.io/http-token: "1204752135", acme.cert-manager.io/http01-solver: "true"}
        """
    /// The Challenge owns the solver objects: deleting it (once the order is valid) garbage-collects them.
    static let challengeOwner = """
        [{apiVersion: acme.cert-manager.io/v1, kind: Challenge, name: app-example-com-tls-1-3094417035-1452337408, uid: 6f0c3a52-1c55-4c2e-9d43-7d1f8d1f2a11, controller: true, blockOwnerDeletion: true}]
        """

    /// cert-manager's solver Service (port `http` 8089, selecting the solver pod), the EndpointSlice
    /// Kubernetes derives from it (the pod being the test's solver on loopback), and the solver
    /// HTTPRoute: `parentRefs` from the solver config, the domain as its one hostname, one rule
    /// matching the challenge path Exact, to the Service's port 8089 with weight 1.
    static func solverManifests(solverPort: Int, parentRef: String) -> String {
        Manifests.join(
            """
            apiVersion: v1
            kind: Service
            metadata:
              name: \(solverService)
              namespace: default
              labels: \(solverLabels)
              annotations: {auth.istio.io/8089: NONE}
              ownerReferences: \(challengeOwner)
            spec:
              type: ClusterIP
              clusterIP: 10.96.41.7
              ports: [{name: http, port: 8089, protocol: TCP, targetPort: 8089}]
              selector: \(solverLabels)
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: \(solverService)-m4x8d
              namespace: default
              labels: {kubernetes.io/service-name: \(solverService), endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io}
            addressType: IPv4
            # The pod listens on 8089; the test's solver on a port the kernel chose.
            ports: [{name: http, port: \(solverPort), protocol: TCP}]
            endpoints:
            - addresses: [127.0.0.1]
              conditions: {ready: true, serving: true, terminating: false}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata:
              name: \(solverRoute)
              namespace: default
              labels: \(solverLabels)
              ownerReferences: \(challengeOwner)
            spec:
              parentRefs: [\(parentRef)]
              hostnames: [\(domain)]
              rules:
              - matches: [{path: {type: Exact, value: \(challengePath)}}]
                backendRefs: [{group: "", kind: Service, name: \(solverService), namespace: default, port: 8089, weight: 1}]
            """)
    }

    /// The parentRefs cert-manager puts on its solver route. Since 1.20 the Gateway whose annotation
    /// asked for the certificate (name, namespace, kind: no sectionName, so every listener); before,
    /// and for Certificates made by hand, the issuer's `gatewayHTTPRoute.parentRefs`, often naming the
    /// HTTP listener.
    static let solverParentRefs = [
        "{kind: Gateway, name: web, namespace: default}",
        "{kind: Gateway, name: web, namespace: default, sectionName: http}",
    ]

    /// A stand-in for cert-manager's acmesolver pod, with its checks: the challenge directory, the
    /// domain in Host (port dropped), the token; anything else is 404.
    static func solver() -> StubHTTPServer {
        StubHTTPServer { head in
            let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            let host = head.headers.first(name: "host")?.split(separator: ":").first.map(String.init) ?? ""
            guard path == challengePath, host == domain else { return .init(status: 404, body: "404 page not found\n") }
            return .init(status: 200, headers: [("Cache-Control", "no-cache, no-store, must-revalidate")], body: keyAuthorization)
        }
    }

    /// `Type/Status/Reason` of each condition of the Gateway's listener `name`, and its messages.
    static func listener(_ server: FakeAPIServer, _ name: String) -> (conditions: [String: String], messages: [String: String]) {
        let status = server.object(kind: "Gateway", namespace: "default", name: "web")?["status"] as? [String: Any]
        let listener = (status?["listeners"] as? [[String: Any]] ?? []).first { $0["name"] as? String == name }
        var conditions: [String: String] = [:]
        var messages: [String: String] = [:]
        for condition in listener?["conditions"] as? [[String: Any]] ?? [] {
            let type = condition["type"] as? String ?? ""
            conditions[type] = "\(condition["status"] ?? "")/\(condition["reason"] ?? "")"
            messages[type] = condition["message"] as? String
        }
        return (conditions, messages)
    }

    /// What Let's Encrypt's validator does: GET http://DOMAIN/.well-known/acme-challenge/TOKEN on port 80
    /// (the Host header carries no port), here archway's port-80 socket.
    static func fetch(_ path: String, host: String = domain, harness: GatewayHarness) async throws -> (code: String, body: String, location: String) {
        let result = try await ExternalTool.curlOffThePool(["-H", "Host: \(host)", "-w", "\n@@\n%{http_code} %{redirect_url}",
                                                            "http://127.0.0.1:\(harness.port)\(path)"])
        #expect(result.status == 0, "curl: \(result.stderr)")
        let parts = result.writeOut.split(separator: " ", maxSplits: 1).map(String.init)
        return (parts.first ?? "", result.body, parts.count > 1 ? parts[1] : "")
    }

    @Test(arguments: solverParentRefs)
    func challengeRouteWinsOverTheCatchAllAndTheIssuedSecretIsServedAndRotated(_ parentRef: String) async throws {
        let harness = GatewayHarness()
        harness.extraPortMap = [443: 0]
        let server = FakeAPIServer()
        try await server.start()
        let solver = Self.solver()
        let solverPort = try await solver.start(group: harness.group)
        try await harness.startBackend("app")
        try server.apply(Self.userManifests(appPort: harness.backendPorts["app"]!))
        _ = try await KubernetesTests.replica(server, backends: harness)
        defer { Task { await solver.stop(); await harness.stop(); await server.stop() } }  // the solver runs on the harness's event loops

        // (b) Before cert-manager has issued anything: the HTTPS listener names the missing Secret,
        // the Gateway serves its HTTP listener, and the challenge path is the catch-all's like any other.
        try await KubernetesTests.waitUntil("the Gateway's status names the missing Secret") {
            Self.listener(server, "https").conditions["ResolvedRefs"] == "False/InvalidCertificateRef"
        }
        let missing = Self.listener(server, "https")
        #expect(missing.messages["ResolvedRefs"]?.contains("default/\(Self.secretName)") == true, "\(missing.messages)")
        #expect(missing.conditions["Programmed"]?.hasPrefix("False/") == true, "\(missing.conditions)")
        #expect(Self.listener(server, "http").conditions["Programmed"] == "True/Programmed")
        let gateway = KubernetesTests.conditions(server.object(kind: "Gateway", namespace: "default", name: "web"), at: ["status"])
        #expect(gateway["Programmed"]?["status"] as? String == "True", "the Gateway keeps serving its valid listener")
        try await KubernetesTests.waitUntil("the HTTP listener serves the catch-all") {
            try await harness.send("/", host: Self.domain).status == 301
        }
        let before = try await Self.fetch(Self.challengePath, harness: harness)
        #expect(before.code == "301" && before.location == "https://\(Self.domain)\(Self.challengePath)", "\(before)")

        // (c) cert-manager presents the challenge: solver Service, its endpoints, the solver HTTPRoute.
        try server.apply(Self.solverManifests(solverPort: solverPort, parentRef: parentRef))
        try await KubernetesTests.waitUntil("the challenge path reaches the solver") {
            try await harness.send(Self.challengePath, host: Self.domain).status == 200
        }
        let challenge = try await Self.fetch(Self.challengePath, harness: harness)
        #expect(challenge.code == "200" && challenge.body == Self.keyAuthorization, "the validator reads the key authorization: \(challenge)")
        let seen = try #require(solver.requests.last)
        #expect(seen.uri == Self.challengePath && seen.headers.first(name: "host") == Self.domain,
                "the solver got the path and the Host it checks: \(seen.uri) \(seen.headers)")
        // Everything else on port 80 is still the user's catch-all: the solver route matches one path, one host.
        let home = try await Self.fetch("/", harness: harness)
        #expect(home.code == "301" && home.location == "https://\(Self.domain)/", "\(home)")
        let otherToken = try await Self.fetch("/.well-known/acme-challenge/another-token", harness: harness)
        #expect(otherToken.code == "301", "an Exact match covers only its own token: \(otherToken)")
        let otherHost = try await Self.fetch(Self.challengePath, host: "www.example.com", harness: harness)
        #expect(otherHost.code == "301" && otherHost.location == "https://www.example.com\(Self.challengePath)", "\(otherHost)")
        try await KubernetesTests.waitUntil("the solver route's status is written") {
            server.statusWriteCount("HTTPRoute", "default", Self.solverRoute) >= 1
        }
        let solverRoute = server.object(kind: "HTTPRoute", namespace: "default", name: Self.solverRoute)
        let parents = (solverRoute?["status"] as? [String: Any])?["parents"] as? [[String: Any]] ?? []
        #expect(parents.count == 1)
        #expect((parents.first?["parentRef"] as? [String: Any])?["name"] as? String == "web")
        let routeConditions = KubernetesTests.conditions(solverRoute, at: ["status", "parents", "0"])
        #expect(routeConditions["Accepted"]?["status"] as? String == "True", "\(routeConditions)")
        #expect(routeConditions["ResolvedRefs"]?["status"] as? String == "True", "\(routeConditions)")

        // (d) The order is valid: cert-manager writes the Secret (leaf + intermediate in tls.crt, its
        // default RSA key in PKCS#1). The listener comes up with it, no restart.
        let issuer = try TestACMEIssuer(in: harness.directory)
        let issued = try issuer.issue(Self.domain)
        try server.apply(issued.certManagerSecret(Self.secretName, namespace: "default", issuer: "letsencrypt"))
        try await KubernetesTests.waitUntil("the HTTPS listener is programmed with the Secret") {
            Self.listener(server, "https").conditions["ResolvedRefs"] == "True/ResolvedRefs"
                && Self.listener(server, "https").conditions["Programmed"] == "True/Programmed"
        }
        // Status and sockets are updated from the same new configuration; wait for the handshake too.
        var httpsPort = 0
        var served = Handshake(verified: false, serial: nil, chainLength: 0, output: "")
        try await KubernetesTests.waitUntil("the issued certificate is served on port 443") {
            httpsPort = await harness.hostPort(443)
            guard httpsPort != 0 else { return false }
            served = try await Self.handshake(port: httpsPort, trusting: issuer)
            return served.serial != nil
        }
        #expect(served.verified, "the chain verifies against the root alone, so the intermediate is sent: \(served.output.suffix(400))")
        #expect(served.serial == issued.serial, "the issued certificate is served")
        #expect(served.chainLength == 2, "leaf and intermediate, as cert-manager wrote tls.crt")
        let open = try await TestHTTPClient.connect(port: httpsPort, group: harness.group, tls: (issuer.rootPEM, Self.domain))
        #expect(try await open.request(.GET, "/", host: Self.domain).echoName == "app")

        // Renewal: cert-manager rewrites the same Secret with a new key and certificate.
        let renewed = try issuer.issue(Self.domain)
        #expect(renewed.serial != issued.serial)
        try server.apply(renewed.certManagerSecret(Self.secretName, namespace: "default", issuer: "letsencrypt"))
        try await KubernetesTests.waitUntil("new handshakes get the renewed certificate") {
            try await Self.handshake(port: httpsPort, trusting: issuer).serial == renewed.serial
        }
        #expect(try await open.request(.GET, "/still-open", host: Self.domain).echoName == "app",
                "a connection made before the renewal goes on: nothing restarted")
        await open.close()
        let curl = try await ExternalTool.curlOffThePool(["--cacert", issuer.rootPath, "--resolve", "\(Self.domain):\(httpsPort):127.0.0.1",
                                                          "-w", "\n@@\n%{http_code}", "https://\(Self.domain):\(httpsPort)/"])
        #expect(curl.status == 0 && curl.writeOut == "200", "\(curl.stderr)")

        // (e) cert-manager cleans up (the Challenge is deleted, its objects garbage-collected): the
        // challenge path is the catch-all's again.
        server.delete(kind: "HTTPRoute", namespace: "default", name: Self.solverRoute)
        server.delete(kind: "EndpointSlice", namespace: "default", name: Self.solverService + "-m4x8d")
        server.delete(kind: "Service", namespace: "default", name: Self.solverService)
        try await KubernetesTests.waitUntil("the challenge path goes back to the catch-all") {
            try await harness.send(Self.challengePath, host: Self.domain).status == 301
        }
        let asked = solver.requests.count
        let after = try await Self.fetch(Self.challengePath, harness: harness)
        #expect(after.code == "301" && after.location == "https://\(Self.domain)\(Self.challengePath)", "\(after)")
        #expect(solver.requests.count == asked, "nothing reaches the solver once its route is gone")
        #expect(try await Self.handshake(port: httpsPort, trusting: issuer).serial == renewed.serial, "the certificate stays")
    }

    /// The example is what a user applies; before cert-manager has written the Secret, `archway status
    /// --config deploy/gatewayclass.yaml --config examples/cert-manager` reads it without an error (the
    /// ClusterIssuer is not archway's: kept, never served) and shows what the cluster will show at first.
    @Test func theExampleLoadsAndShowsTheListenerWaitingForItsSecret() throws {
        let directory = StatusReportTests.examples.appendingPathComponent("cert-manager").path
        let gatewayClass = DeployManifestTests.root.appendingPathComponent("deploy/gatewayclass.yaml").path
        let (errors, report) = StatusReport.compute(paths: [gatewayClass, directory], controllerName: KubernetesTests.controller)
        #expect(errors.isEmpty, "\(errors)")
        let list = try JSONSerialization.jsonObject(with: Data(try report.json().utf8)) as? [String: Any]
        let items = list?["items"] as? [[String: Any]] ?? []
        let gateway = try #require(items.first { $0["kind"] as? String == "Gateway" })
        let listeners = (gateway["status"] as? [String: Any])?["listeners"] as? [[String: Any]] ?? []
        func condition(_ listener: String, _ type: String) -> [String: Any]? {
            let conditions = listeners.first { $0["name"] as? String == listener }?["conditions"] as? [[String: Any]] ?? []
            return conditions.first { $0["type"] as? String == type }
        }
        #expect(condition("https", "ResolvedRefs")?["reason"] as? String == "InvalidCertificateRef")
        #expect((condition("https", "ResolvedRefs")?["message"] as? String)?.contains("default/app-example-com-tls") == true)
        #expect(condition("http", "Programmed")?["status"] as? String == "True")
        let routes = items.filter { $0["kind"] as? String == "HTTPRoute" }
        #expect(routes.count == 2)
        for route in routes {
            let parent = ((route["status"] as? [String: Any])?["parents"] as? [[String: Any]])?.first
            let accepted = (parent?["conditions"] as? [[String: Any]])?.first { $0["type"] as? String == "Accepted" }
            #expect(accepted?["status"] as? String == "True", "\(route["metadata"] ?? "")")
        }
    }

    struct Handshake {
        var verified: Bool
        var serial: String?
        var chainLength: Int
        var output: String
    }

    /// `openssl s_client` with SNI app.example.com, trusting only the test root: whether the chain
    /// verified for that name, and the serial of the certificate served.
    static func handshake(port: Int, trusting issuer: TestACMEIssuer) async throws -> Handshake {
        let result = try await ExternalTool.runOffThePool("openssl", [
            "s_client", "-connect", "127.0.0.1:\(port)", "-servername", domain, "-CAfile", issuer.rootPath,
            "-verify_hostname", domain, "-verify_return_error", "-showcerts",
        ])
        let output = result.stdout + result.stderr
        let blocks = output.components(separatedBy: "-----BEGIN CERTIFICATE-----").dropFirst()
            .compactMap { $0.components(separatedBy: "-----END CERTIFICATE-----").first }
            .map { "-----BEGIN CERTIFICATE-----" + $0 + "-----END CERTIFICATE-----\n" }
        let serial = try blocks.first.map { try TestACMEIssuer.serial(ofPEM: $0) }
        return Handshake(verified: result.stdout.contains("Verify return code: 0 (ok)"), serial: serial, chainLength: blocks.count, output: output)
    }
}

/// An ACME CA's shape for the test: a root, an intermediate it signs, and leaves the intermediate
/// signs, so tls.crt carries a chain as Let's Encrypt's does and clients trust only the root.
struct TestACMEIssuer {
    let directory: URL
    let rootPath: String
    let rootPEM: String
    private let intermediateBase: String

    struct Issued {
        /// Leaf then intermediate, as cert-manager writes tls.crt for an ACME certificate.
        let chainPEM: String
        let keyPEM: String
        let serial: String

        /// The Secret as cert-manager's issuing controller writes it.
        func certManagerSecret(_ name: String, namespace: String, issuer: String) -> String {
            func b64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
            return """
            apiVersion: v1
            kind: Secret
            metadata:
              name: \(name)
              namespace: \(namespace)
              labels: {controller.cert-manager.io/fao: "true"}
              annotations:
                cert-manager.io/alt-names: \(CertManagerFlowTests.domain)
                cert-manager.io/certificate-name: \(name)
                cert-manager.io/common-name: \(CertManagerFlowTests.domain)
                cert-manager.io/ip-sans: ""
                cert-manager.io/uri-sans: ""
                cert-manager.io/issuer-group: cert-manager.io
                cert-manager.io/issuer-kind: ClusterIssuer
                cert-manager.io/issuer-name: \(issuer)
            type: kubernetes.io/tls
            data: {tls.crt: \(b64(chainPEM)), tls.key: \(b64(keyPEM))}
            """
        }
    }

    init(in directory: URL) throws {
        self.directory = directory
        let root = directory.appendingPathComponent("acme-root-\(UUID().uuidString)").path
        try Self.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                          "-keyout", root + ".key", "-out", root + ".crt", "-days", "2", "-subj", "/CN=Test ACME Root",
                          "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        let intermediate = directory.appendingPathComponent("acme-intermediate-\(UUID().uuidString)").path
        try "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n"
            .write(toFile: intermediate + ".ext", atomically: true, encoding: .utf8)
        try Self.openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                          "-keyout", intermediate + ".key", "-out", intermediate + ".csr", "-subj", "/CN=Test ACME Intermediate"])
        try Self.openssl(["x509", "-req", "-in", intermediate + ".csr", "-CA", root + ".crt", "-CAkey", root + ".key",
                          "-CAcreateserial", "-out", intermediate + ".crt", "-days", "2", "-extfile", intermediate + ".ext"])
        rootPath = root + ".crt"
        rootPEM = try String(contentsOfFile: rootPath, encoding: .utf8)
        intermediateBase = intermediate
    }

    /// A leaf for `name` with a fresh RSA 2048 key in PKCS#1 (cert-manager's default private key) and a
    /// random serial.
    func issue(_ name: String) throws -> Issued {
        let base = directory.appendingPathComponent("acme-leaf-\(UUID().uuidString)").path
        try "subjectAltName=DNS:\(name)\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
            .write(toFile: base + ".ext", atomically: true, encoding: .utf8)
        try Self.openssl(["genrsa", "-traditional", "-out", base + ".key", "2048"])
        try Self.openssl(["req", "-new", "-key", base + ".key", "-out", base + ".csr", "-subj", "/CN=\(name)"])
        try Self.openssl(["x509", "-req", "-in", base + ".csr", "-CA", intermediateBase + ".crt", "-CAkey", intermediateBase + ".key",
                          "-set_serial", "0x" + String(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(30)),
                          "-out", base + ".crt", "-days", "2", "-extfile", base + ".ext"])
        let leaf = try String(contentsOfFile: base + ".crt", encoding: .utf8)
        let intermediate = try String(contentsOfFile: intermediateBase + ".crt", encoding: .utf8)
        return Issued(chainPEM: leaf + intermediate, keyPEM: try String(contentsOfFile: base + ".key", encoding: .utf8),
                      serial: try Self.serial(ofPEM: leaf))
    }

    /// The certificate's serial number as openssl prints it (hex).
    static func serial(ofPEM pem: String) throws -> String {
        let result = try ExternalTool.run("openssl", ["x509", "-noout", "-serial"], stdin: pem)
        guard result.status == 0 else { throw HarnessError.timeout("openssl x509 failed: \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "serial=", with: "")
    }

    private static func openssl(_ arguments: [String]) throws {
        let result = try ExternalTool.run("openssl", arguments)
        guard result.status == 0 else { throw HarnessError.timeout("openssl \(arguments[0]) failed: \(result.stderr)") }
    }
}
