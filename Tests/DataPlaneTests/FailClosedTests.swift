import Foundation
import GatewayAPI
import Translator
import HummingbirdBcrypt
import NIOCore
import Testing

/// An edge policy that applies to a request but cannot be enforced refuses that request (500), at
/// every attachment level and for every kind; it is never served as if the policy were not there.
@Suite(.timeLimit(.minutes(3)))
struct FailClosedTests {
    /// Each kind with a spec (flow-style mapping entries) the translator cannot enforce, as a user
    /// would get it wrong.
    /// `id` names the objects made for the case (hostnames, routes, policies).
    static let brokenSpecs: [(kind: String, id: String, spec: String)] = [
        ("BasicAuth", "basicauth", "secretRef: {name: no-such-secret}"),
        ("APIKeyAuth", "apikeyauth", "secretRef: {name: no-such-secret}"),
        ("JWTAuth", "jwtauth", "jwks: {secretRef: {name: no-such-secret}}"),
        ("JWTAuth", "jwks", "jwks: {inline: '{\"keys\": [{\"kty\": \"RSA\", \"n\": \"\"}]}'}"),
        ("ForwardAuth", "forwardauth", "url: ftp://auth.example.com/check"),
        ("RateLimit", "ratelimit", "requests: 0, unit: Second"),
        ("IPAllowList", "ipallowlist", "allow: [not-an-address]"),
        ("BodySize", "bodysize", "maxRequestBody: lots"),
    ]

    static let levels = ["gateway", "listener", "route", "rule", "extensionref"]

    static func policy(_ kind: String, _ name: String, _ spec: String, target: String?) -> String {
        """
        apiVersion: archway.dev/v1alpha1
        kind: \(kind)
        metadata: {name: \(name)}
        spec: {\(target.map { "targetRefs: [\($0)], " } ?? "")\(spec)}
        """
    }

    /// For every kind and level: its own hostname, a route there, and the broken policy attached at
    /// that level. The rule-level route has a second, unguarded rule; a control route has none.
    static func configuration(backendPort: Int) -> String {
        var documents = [Manifests.service("api", targetPort: backendPort), """
            apiVersion: gateway.networking.k8s.io/v1
            kind: GatewayClass
            metadata: {name: archway}
            spec: {controllerName: archway.dev/gateway-controller}
            """]
        var mainListeners = ["{name: any, protocol: HTTP, port: 80}"]
        for (kind, k, spec) in brokenSpecs {
            mainListeners.append("{name: l-\(k), protocol: HTTP, port: 80, hostname: listener.\(k).test}")
            documents.append("""
                apiVersion: gateway.networking.k8s.io/v1
                kind: Gateway
                metadata: {name: gw-\(k)}
                spec:
                  gatewayClassName: archway
                  listeners: [{name: http, protocol: HTTP, port: 80, hostname: gateway.\(k).test}]
                """)
            func route(_ level: String, parent: String, rules: String) -> String {
                """
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {name: \(level)-\(k)}
                spec:
                  parentRefs: [\(parent)]
                  hostnames: [\(level).\(k).test]
                  rules:
                \(rules)
                """
            }
            let plain = "  - backendRefs: [{name: api, port: 80}]"
            documents += [
                route("gateway", parent: "{name: gw-\(k)}", rules: plain),
                policy(kind, "gateway-\(k)", spec, target: "{group: gateway.networking.k8s.io, kind: Gateway, name: gw-\(k)}"),
                route("listener", parent: "{name: gw, sectionName: l-\(k)}", rules: plain),
                policy(kind, "listener-\(k)", spec, target: "{group: gateway.networking.k8s.io, kind: Gateway, name: gw, sectionName: l-\(k)}"),
                route("route", parent: "{name: gw, sectionName: any}", rules: plain),
                policy(kind, "route-\(k)", spec, target: "{group: gateway.networking.k8s.io, kind: HTTPRoute, name: route-\(k)}"),
                route("rule", parent: "{name: gw, sectionName: any}", rules: """
                  - name: guarded
                    backendRefs: [{name: api, port: 80}]
                  - name: open
                    matches: [{path: {type: PathPrefix, value: /open}}]
                    backendRefs: [{name: api, port: 80}]
                """),
                policy(kind, "rule-\(k)", spec, target: "{group: gateway.networking.k8s.io, kind: HTTPRoute, name: rule-\(k), sectionName: guarded}"),
                route("extensionref", parent: "{name: gw, sectionName: any}", rules: """
                  - filters: [{type: ExtensionRef, extensionRef: {group: archway.dev, kind: \(kind), name: extensionref-\(k)}}]
                    backendRefs: [{name: api, port: 80}]
                """),
                policy(kind, "extensionref-\(k)", spec, target: nil),
            ]
        }
        documents.append("""
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: gw}
            spec:
              gatewayClassName: archway
              listeners:
            \(mainListeners.map { "  - " + $0 }.joined(separator: "\n"))
            """)
        documents.append(Manifests.route("control", path: "/", service: "api").replacingOccurrences(
            of: "parentRefs: [{name: gw}]", with: "parentRefs: [{name: gw, sectionName: any}]\n  hostnames: [control.test]"))
        return documents.joined(separator: "\n---\n") + "\n"
    }

    @Test(arguments: [true, false]) func everyKindAtEveryLevelRefusesWith500(fastLane: Bool) async throws {
        let harness = GatewayHarness()
        harness.fastLane = fastLane
        try await harness.startBackend("api")
        try harness.write("gw.yaml", Self.configuration(backendPort: harness.backendPorts["api"]!))
        try await harness.start()
        defer { Task { await harness.stop() } }

        #expect(try await harness.send("/", host: "control.test").echoName == "api", "a route no broken policy covers is served")
        var refused = 0
        for (kind, k, _) in Self.brokenSpecs {
            for level in Self.levels {
                let answer = try await harness.send("/", host: "\(level).\(k).test")
                #expect(answer.status == 500, "\(kind) at \(level) level: got \(answer.status)")
                #expect(answer.echoName == nil, "\(kind) at \(level) level reached the backend")
                #expect(!answer.text.contains("\(level)-\(k)"), "the body names the policy: \(answer.text)")
                if answer.status == 500 && answer.echoName == nil { refused += 1 }
            }
            #expect(try await harness.send("/open", host: "rule.\(k).test").echoName == "api",
                    "\(kind) on rule 'guarded' leaves the route's other rule alone")
        }
        #expect(refused == Self.brokenSpecs.count * Self.levels.count)

        let statuses = try #require(await harness.runtime.statuses)
        let basic = try #require(statuses.edgePolicies[.basicAuth]?[NamespacedName("default", "route-basicauth")])
        let accepted = try #require(basic.ancestors.first?.conditions.first)
        #expect(accepted.status == "False" && accepted.reason == "Invalid")
        #expect(accepted.message.contains("Secret default/no-such-secret not found")
                && accepted.message.contains("requests to HTTPRoute default/route-basicauth are refused with 500"), "\(accepted.message)")
        let routeConditions = try #require(statuses.httpRoutes[NamespacedName("default", "gateway-ratelimit")]?.parents.first?.conditions)
        let blocked = try #require(routeConditions.first { $0.type == "archway.dev/PoliciesEnforced" }, "\(routeConditions)")
        #expect(blocked.status == "False" && blocked.message.contains("RateLimit default/gateway-ratelimit cannot be enforced"))
        let extensionConditions = try #require(statuses.httpRoutes[NamespacedName("default", "extensionref-jwtauth")]?.parents.first?.conditions)
        #expect(extensionConditions.contains { $0.type == "ResolvedRefs" && $0.status == "False" })
        #expect(statuses.httpRoutes[NamespacedName("default", "control")]?.parents.first?.conditions.allSatisfy { $0.status == "True" } == true)

        let admin = try await TestHTTPClient.connect(port: harness.adminPort, group: harness.group)
        defer { Task { await admin.close() } }
        let metrics = try await admin.request(.GET, "/metrics", host: "admin").text
        #expect(metrics.contains("gateway_edge_policy_unenforceable{policy=\"IPAllowList default/listener-ipallowlist\"} 1"), "\(metrics.prefix(400))")
        let topology = try await admin.request(.GET, "/dashboard/topology", host: "admin").text
        #expect(topology.contains("BodySize default/rule-bodysize (cannot be enforced"), "the dashboard names the blocking policy")

        // Fixed: the same routes are served again, and the gauge says so.
        let fixed = Self.configuration(backendPort: harness.backendPorts["api"]!)
            .replacingOccurrences(of: "secretRef: {name: no-such-secret}", with: "secretRef: {name: present}")
            .replacingOccurrences(of: "jwks: {secretRef: {name: present}}", with: "jwks: {secretRef: {name: no-such-secret}}")
            + "---\napiVersion: v1\nkind: Secret\nmetadata: {name: present}\nstringData: {users: \"alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\", key: k}\n"
        let generation = await harness.runtime.generation
        try harness.write("gw.yaml", fixed)
        try await harness.waitForGeneration(atLeast: generation + 1)
        #expect(try await harness.send("/", host: "route.basicauth.test").status == 401, "a readable BasicAuth asks for credentials")
        #expect(try await harness.send("/", host: "route.apikeyauth.test").status == 401)
        let after = try await admin.request(.GET, "/metrics", host: "admin").text
        #expect(after.contains("gateway_edge_policy_unenforceable{policy=\"BasicAuth default/route-basicauth\"} 0"))
    }

    /// A policy document that cannot even be decoded is an error, but on a first load (or in a
    /// cluster) the rest is served: its targets must be refused, not opened.
    @Test(arguments: [true, false]) func anUndecodablePolicyStillCoversItsTargets(fastLane: Bool) async throws {
        let harness = GatewayHarness()
        harness.fastLane = fastLane
        try await harness.startBackend("api")
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(), Manifests.service("api", targetPort: harness.backendPorts["api"]!),
            Manifests.route("admin", path: "/", service: "api"),
            """
            apiVersion: archway.dev/v1alpha1
            kind: BasicAuth
            metadata: {name: staff}
            spec:
              targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: admin}]
              secretRef: users-secret
            """))
        try await harness.start()
        defer { Task { await harness.stop() } }
        let answer = try await harness.send("/", host: "admin.example.com")
        #expect(answer.status == 500 && answer.echoName == nil, "an unreadable BasicAuth leaves its route open: \(answer.status)")
        let status = await harness.runtime.statuses?.edgePolicies[.basicAuth]?[NamespacedName("default", "staff")]
        let message = status?.ancestors.first?.conditions.first?.message ?? ""
        #expect(message.contains("could not be read") && message.contains("spec.secretRef"), "\(message)")
    }

    /// htpasswd's formats: `-B` writes `$2y$` bcrypt, which must verify; traditional DES crypt is not
    /// supported, so its route is refused rather than opened. Refusals name no policy.
    @Test(arguments: [true, false]) func htpasswdHashesAndGenericBodies(fastLane: Bool) async throws {
        let harness = GatewayHarness()
        harness.fastLane = fastLane
        try await harness.startBackend("api")
        let logPath = harness.directory.deletingLastPathComponent().appendingPathComponent("fail-closed-\(UUID().uuidString).log").path
        harness.accessLogPath = logPath
        defer { try? FileManager.default.removeItem(atPath: logPath) }
        // What `htpasswd -nbB` writes: the bcrypt algorithm under PHP's `$2y$` name.
        let twoY = "$2y$" + Bcrypt.hash("s3cret", cost: 5).dropFirst(4)
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(), Manifests.service("api", targetPort: harness.backendPorts["api"]!),
            EdgePolicyTests.route("modern", path: "/modern", filter: "BasicAuth/modern"),
            EdgePolicyTests.route("legacy", path: "/legacy", filter: "BasicAuth/legacy"),
            """
            apiVersion: v1
            kind: Secret
            metadata: {name: modern-users}
            stringData: {auth: "alice:\(twoY)"}
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: legacy-users}
            stringData: {auth: "alice:abhWCwoTZY2c6"}
            ---
            apiVersion: archway.dev/v1alpha1
            kind: BasicAuth
            metadata: {name: modern, namespace: default}
            spec: {secretRef: {name: modern-users}}
            ---
            apiVersion: archway.dev/v1alpha1
            kind: BasicAuth
            metadata: {name: legacy}
            spec: {secretRef: {name: legacy-users}}
            """))
        try await harness.start()
        func basic(_ password: String) -> [(String, String)] {
            [("Authorization", "Basic " + Data("alice:\(password)".utf8).base64EncodedString())]
        }
        let good = try await harness.send("/modern", host: "edge.example.com", headers: basic("s3cret"))
        #expect(good.status == 200 && good.echoHeaders["x-auth-user"] == "alice", "a $2y$ hash verifies: \(good.status)")
        let wrong = try await harness.send("/modern", host: "edge.example.com", headers: basic("guess"))
        #expect(wrong.status == 401)
        #expect(!wrong.text.contains("default/modern") && !wrong.text.contains("BasicAuth"), "the body names the policy: \(wrong.text)")
        #expect(try await harness.send("/legacy", host: "edge.example.com", headers: basic("s3cret")).status == 500,
                "a DES crypt user (`mkpasswd -m des -S ab s3cret`) is refused, never let through")
        #expect(try await harness.send("/legacy", host: "edge.example.com").status == 500)

        await harness.stop()
        let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        #expect(log.contains("\"refused_by\":\"BasicAuth default/modern: unknown user or wrong password\""), "\(log)")
        #expect(log.contains("\"refused_by\":\"BasicAuth default/legacy cannot be enforced"), "\(log)")
    }

    /// An Ingress served side by side that asks ingress-nginx for authentication or an allow list is
    /// refused (500), not served without them; its other Ingresses and its redirects are unaffected.
    @Test(arguments: [true, false]) func ingressAccessControlAnnotationsFailClosed(fastLane: Bool) async throws {
        let harness = GatewayHarness()
        harness.fastLane = fastLane
        try await harness.startBackend("api")
        harness.ingress = IngressServing(httpPort: 80, httpsPort: 443)
        try harness.write("ingress.yaml", Manifests.join(
            Manifests.ingressClass(), Manifests.service("api", targetPort: harness.backendPorts["api"]!),
            Manifests.ingress("private", host: "private.test", service: "api", annotations: """
                nginx.ingress.kubernetes.io/auth-type: basic, nginx.ingress.kubernetes.io/auth-secret: basic-auth
                """),
            Manifests.ingress("office", host: "office.test", service: "api", annotations: "nginx.ingress.kubernetes.io/whitelist-source-range: 10.0.0.0/8"),
            Manifests.ingress("public", host: "public.test", service: "api", annotations: "nginx.ingress.kubernetes.io/ssl-redirect: 'false'")))
        try await harness.start()
        defer { Task { await harness.stop() } }
        #expect(try await harness.send("/", host: "public.test").echoName == "api")
        for host in ["private.test", "office.test"] {
            let answer = try await harness.send("/", host: host)
            #expect(answer.status == 500 && answer.echoName == nil, "\(host) served without its access control: \(answer.status)")
        }
        let status = await harness.runtime.statuses?.ingresses[NamespacedName("default", "private")]
        #expect(status?.message.contains("refused with 500: nginx.ingress.kubernetes.io/auth-secret, nginx.ingress.kubernetes.io/auth-type not enforced") == true,
                "\(status?.message ?? "no status")")
    }

    /// An ExtensionRef archway cannot resolve (a typo in its kind) is never skipped: its rule answers
    /// 500 instead of vanishing and letting a catch-all rule serve its requests unprotected.
    @Test(arguments: [true, false]) func anUnresolvableExtensionRefKeepsItsRuleAndRefuses(fastLane: Bool) async throws {
        let harness = GatewayHarness()
        harness.fastLane = fastLane
        try await harness.startBackend("api")
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(), Manifests.service("api", targetPort: harness.backendPorts["api"]!),
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: site}
            spec:
              parentRefs: [{name: gw}]
              rules:
              - backendRefs: [{name: api, port: 80}]
              - matches: [{path: {type: PathPrefix, value: /admin}}]
                filters: [{type: ExtensionRef, extensionRef: {group: archway.dev, kind: BasicAuths, name: staff}}]
                backendRefs: [{name: api, port: 80}]
            """))
        try await harness.start()
        defer { Task { await harness.stop() } }
        #expect(try await harness.send("/", host: "site.test").echoName == "api")
        let admin = try await harness.send("/admin/users", host: "site.test")
        #expect(admin.status == 500 && admin.echoName == nil, "the catch-all served /admin: \(admin.status)")
        let conditions = await harness.runtime.statuses?.httpRoutes[NamespacedName("default", "site")]?.parents.first?.conditions ?? []
        #expect(conditions.contains { $0.type == "ResolvedRefs" && $0.reason == "InvalidKind" && $0.message.contains("did you mean archway.dev/BasicAuth?") },
                "\(conditions)")
    }
}
