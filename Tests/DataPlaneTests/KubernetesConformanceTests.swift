@testable import ArchwayCore
import Foundation
import Testing

/// Upstream Gateway API conformance tests about status as objects change, against the fake API
/// server: the upstream test's manifest verbatim ({GATEWAY_CLASS_NAME} and {GATEWAY_CONTROLLER_NAME}
/// filled in), then the change the upstream test patches in, applied as the changed object.
extension KubernetesTests {
    /// The object's metadata.generation, and whether every condition at `path` of its status has that
    /// observedGeneration (and there is at least one).
    static func latest(_ object: [String: Any]?, at path: [String]) -> (generation: Int, latest: Bool) {
        let generation = (object?["metadata"] as? [String: Any])?["generation"] as? Int ?? 0
        let conditions = conditions(object, at: path).values
        return (generation, !conditions.isEmpty && conditions.allSatisfy { $0["observedGeneration"] as? Int == generation })
    }

    static func upstream(_ text: String) -> String {
        text.replacingOccurrences(of: "\"{GATEWAY_CLASS_NAME}\"", with: "archway")
            .replacingOccurrences(of: "\"{GATEWAY_CONTROLLER_NAME}\"", with: controller)
    }

    /// Conformance: GatewayObservedGenerationBump
    /// The Gateway of conformance/tests/gateway-observed-generation-bump.yaml gets conditions of its
    /// generation; once a listener is added (a new generation), its conditions carry the new one.
    @Test func gatewayObservedGenerationBump() async throws {
        let harness = GatewayHarness()
        let server = try await Self.cluster(group: harness)
        try server.apply(Self.upstream(Self.gatewayObservedGenerationBumpManifest))
        _ = try await Self.replica(server, backends: harness)
        defer { Task { await harness.stop(); await server.stop() } }
        let gateway = { server.object(kind: "Gateway", namespace: "gateway-conformance-infra", name: "gateway-observed-generation-bump") }
        try await Self.waitUntil("the Gateway's conditions are of its generation") { Self.latest(gateway(), at: ["status"]).latest }
        let original = Self.latest(gateway(), at: ["status"]).generation
        try server.apply(Self.upstream(Self.gatewayObservedGenerationBumpManifest) + """

                - name: alternate
                  hostname: foo.com
                  port: 80
                  protocol: HTTP
                  allowedRoutes:
                    namespaces:
                      from: All
            """)
        try await Self.waitUntil("the changed Gateway's conditions are of its new generation") {
            let now = Self.latest(gateway(), at: ["status"])
            return now.latest && now.generation != original
        }
    }

    static let gatewayObservedGenerationBumpManifest = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gateway-observed-generation-bump
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
    - name: http
      hostname: "bar.com"
      port: 80
      protocol: HTTP
      allowedRoutes:
        namespaces:
          from: All
"""

    /// Conformance: GatewayClassObservedGenerationBump
    /// The GatewayClass of conformance/tests/gatewayclass-observed-generation-bump.yaml is accepted with
    /// conditions of its generation; once its description changes, they carry the new one.
    @Test func gatewayClassObservedGenerationBump() async throws {
        let harness = GatewayHarness()
        let server = try await Self.cluster(group: harness)
        try server.apply(Self.upstream(Self.gatewayClassObservedGenerationBumpManifest))
        _ = try await Self.replica(server, backends: harness)
        defer { Task { await harness.stop(); await server.stop() } }
        let gatewayClass = { server.object(kind: "GatewayClass", namespace: nil, name: "gatewayclass-observed-generation-bump") }
        let accepted = { Self.conditions(gatewayClass(), at: ["status"])["Accepted"] }
        try await Self.waitUntil("the GatewayClass is accepted with conditions of its generation") {
            Self.latest(gatewayClass(), at: ["status"]).latest && accepted()?["status"] as? String == "True"
        }
        let original = Self.latest(gatewayClass(), at: ["status"]).generation
        try server.apply(Self.upstream(Self.gatewayClassObservedGenerationBumpManifest).replacingOccurrences(of: "description: \"old\"", with: "description: \"new\""))
        try await Self.waitUntil("the changed GatewayClass is accepted with conditions of its new generation") {
            let now = Self.latest(gatewayClass(), at: ["status"])
            return now.latest && now.generation != original && accepted()?["status"] as? String == "True"
        }
    }

    static let gatewayClassObservedGenerationBumpManifest = """
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: gatewayclass-observed-generation-bump
spec:
  controllerName: "{GATEWAY_CONTROLLER_NAME}"
  description: "old"
"""

    /// Conformance: HTTPRouteObservedGenerationBump
    /// The HTTPRoute of conformance/tests/httproute-observed-generation-bump.yaml, behind the suite's
    /// Gateway and backends, gets parent conditions of its generation; once its backendRef changes to
    /// infra-backend-v2, it is Accepted and ResolvedRefs True with conditions of the new generation.
    @Test func httpRouteObservedGenerationBump() async throws {
        let harness = GatewayHarness()
        let server = try await Self.cluster(group: harness)
        try server.apply("""
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: same-namespace, namespace: gateway-conformance-infra}
            spec:
              gatewayClassName: archway
              listeners:
              - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: infra-backend-v1, namespace: gateway-conformance-infra}
            spec: {ports: [{port: 8080}]}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: infra-backend-v2, namespace: gateway-conformance-infra}
            spec: {ports: [{port: 8080}]}
            ---
            \(Self.httpRouteObservedGenerationBumpManifest)
            """)
        _ = try await Self.replica(server, backends: harness)
        defer { Task { await harness.stop(); await server.stop() } }
        let route = { server.object(kind: "HTTPRoute", namespace: "gateway-conformance-infra", name: "observed-generation-bump") }
        try await Self.waitUntil("the HTTPRoute's conditions are of its generation") { Self.latest(route(), at: ["status", "parents", "0"]).latest }
        let original = Self.latest(route(), at: ["status", "parents", "0"]).generation
        try server.apply(Self.httpRouteObservedGenerationBumpManifest.replacingOccurrences(of: "infra-backend-v1", with: "infra-backend-v2"))
        try await Self.waitUntil("the changed HTTPRoute's conditions are of its new generation") {
            let now = Self.latest(route(), at: ["status", "parents", "0"])
            return now.latest && now.generation != original
        }
        let conditions = Self.conditions(route(), at: ["status", "parents", "0"])
        #expect(conditions["Accepted"]?["status"] as? String == "True")
        #expect(conditions["ResolvedRefs"]?["status"] as? String == "True")
    }

    static let httpRouteObservedGenerationBumpManifest = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: observed-generation-bump
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - backendRefs:
    - name: infra-backend-v1
      port: 8080
"""

    /// The suite's Gateway same-namespace, infra-backend-v1 and the Secret tls-validity-checks-certificate.
    static func suiteBase(directory: URL) throws -> String {
        let certificate = try TestCertificate(names: ["secure.test.com"], in: directory)
        return """
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: same-namespace, namespace: gateway-conformance-infra}
            spec:
              gatewayClassName: archway
              listeners:
              - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: infra-backend-v1, namespace: gateway-conformance-infra}
            spec: {ports: [{port: 8080}]}
            ---
            \(certificate.secret("tls-validity-checks-certificate", namespace: "gateway-conformance-infra"))
            """
    }

    /// A listener's status of `gateway`: attachedRoutes and Accepted and ResolvedRefs both True.
    static func listenerReady(_ gateway: [String: Any]?, _ name: String, attachedRoutes: Int) -> Bool {
        let listeners = (gateway?["status"] as? [String: Any])?["listeners"] as? [[String: Any]] ?? []
        guard let listener = listeners.first(where: { $0["name"] as? String == name }) else { return false }
        let conditions = Dictionary((listener["conditions"] as? [[String: Any]] ?? []).map { ($0["type"] as? String ?? "", $0["status"] as? String ?? "") },
                                    uniquingKeysWith: { first, _ in first })
        return listener["attachedRoutes"] as? Int == attachedRoutes && conditions["Accepted"] == "True" && conditions["ResolvedRefs"] == "True"
    }

    /// Conformance: GatewayModifyListeners
    /// conformance/tests/gateway-modify-listeners.yaml: an HTTP listener added to gateway-add-listener
    /// is accepted with its refs resolved and counts the route, beside the HTTPS one; removing the HTTPS
    /// listener of gateway-remove-listener leaves the HTTP one counting the route. Both Gateways'
    /// conditions then carry their new generation, and the Gateway lists no removed listener.
    @Test func gatewayModifyListeners() async throws {
        let harness = GatewayHarness()
        let server = try await Self.cluster(group: harness)
        try server.apply(try Self.suiteBase(directory: harness.directory) + "\n---\n" + Self.upstream(Self.gatewayModifyListenersManifest))
        _ = try await Self.replica(server, backends: harness)
        defer { Task { await harness.stop(); await server.stop() } }
        let add = { server.object(kind: "Gateway", namespace: "gateway-conformance-infra", name: "gateway-add-listener") }
        let remove = { server.object(kind: "Gateway", namespace: "gateway-conformance-infra", name: "gateway-remove-listener") }
        try await Self.waitUntil("both Gateways have conditions of their generation") {
            Self.latest(add(), at: ["status"]).latest && Self.latest(remove(), at: ["status"]).latest
        }
        let (addBefore, removeBefore) = (Self.latest(add(), at: ["status"]).generation, Self.latest(remove(), at: ["status"]).generation)
        let documents = Self.upstream(Self.gatewayModifyListenersManifest).components(separatedBy: "\n---\n")
        try server.apply(documents[0] + """

              - name: http
                port: 80
                protocol: HTTP
                hostname: data.test.com
                allowedRoutes:
                  namespaces:
                    from: All
            """)
        try await Self.waitUntil("the added listener counts the route beside the first") {
            let now = Self.latest(add(), at: ["status"])
            return now.latest && now.generation != addBefore && Self.listenerReady(add(), "https", attachedRoutes: 1) && Self.listenerReady(add(), "http", attachedRoutes: 1)
        }
        let kept = documents[2].components(separatedBy: "\n").filter { !$0.isEmpty }
        let httpsStart = kept.firstIndex { $0.contains("- name: https") }!
        let httpStart = kept.firstIndex { $0.contains("- name: http") && !$0.contains("https") }!
        try server.apply((kept[..<httpsStart] + kept[httpStart...]).joined(separator: "\n"))
        try await Self.waitUntil("the Gateway without its HTTPS listener has the HTTP one counting the route") {
            let now = Self.latest(remove(), at: ["status"])
            let listeners = ((remove()?["status"] as? [String: Any])?["listeners"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            return now.latest && now.generation != removeBefore && listeners == ["http"] && Self.listenerReady(remove(), "http", attachedRoutes: 1)
        }
    }

    static let gatewayModifyListenersManifest = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gateway-add-listener
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
  - name: https
    port: 443
    protocol: HTTPS
    hostname: "secure.test.com"
    allowedRoutes:
      namespaces:
        from: All
    tls:
      certificateRefs:
      - group: ""
        kind: Secret
        name: tls-validity-checks-certificate
        namespace: gateway-conformance-infra
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: http-route-1
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - kind: Gateway
    name: gateway-add-listener
    namespace: gateway-conformance-infra
  rules:
  - backendRefs:
    - name: infra-backend-v1
      port: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gateway-remove-listener
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
  - name: https
    port: 443
    protocol: HTTPS
    hostname: "secure.test.com"
    allowedRoutes:
      namespaces:
        from: All
    tls:
      certificateRefs:
      - group: ""
        kind: Secret
        name: tls-validity-checks-certificate
        namespace: gateway-conformance-infra
  - name: http
    port: 80
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: All
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: http-route-2
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - kind: Gateway
    name: gateway-remove-listener
    namespace: gateway-conformance-infra
  rules:
  - backendRefs:
    - name: infra-backend-v1
      port: 8080
"""

    /// Conformance: BackendTLSPolicyObservedGenerationBump
    /// The BackendTLSPolicy of conformance/tests/backendtlspolicy-observed-generation-bump.yaml (its CA
    /// ConfigMap made here, as the suite makes it) has conditions of its generation; once its hostname
    /// changes, it is Accepted with conditions of the new generation.
    @Test func backendTLSPolicyObservedGenerationBump() async throws {
        let harness = GatewayHarness()
        let server = try await Self.cluster(group: harness)
        let ca = try TestCertificate(names: ["abc.example.com"], in: harness.directory)
        let configMap = """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: tls-checks-ca-certificate, namespace: gateway-conformance-infra}
            data:
              ca.crt: |
            \(ca.chainPEM.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
            """
        try server.apply(try Self.suiteBase(directory: harness.directory) + "\n---\n" + configMap + "\n---\n" + Self.backendTLSPolicyObservedGenerationBumpManifest)
        _ = try await Self.replica(server, backends: harness)
        defer { Task { await harness.stop(); await server.stop() } }
        let policy = { server.object(kind: "BackendTLSPolicy", namespace: "gateway-conformance-infra", name: "observed-generation-bump") }
        let accepted = { Self.conditions(policy(), at: ["status", "ancestors", "0"])["Accepted"]?["status"] as? String }
        try await Self.waitUntil("the policy's conditions are of its generation") {
            Self.latest(policy(), at: ["status", "ancestors", "0"]).latest && accepted() == "True"
        }
        let original = Self.latest(policy(), at: ["status", "ancestors", "0"]).generation
        let policyDocument = Self.backendTLSPolicyObservedGenerationBumpManifest.components(separatedBy: "\n---\n").last!
        try server.apply(policyDocument.replacingOccurrences(of: "hostname: \"abc.example.com\"", with: "hostname: \"foo.example.com\""))
        try await Self.waitUntil("the changed policy is accepted with conditions of its new generation") {
            let now = Self.latest(policy(), at: ["status", "ancestors", "0"])
            return now.latest && now.generation != original && accepted() == "True"
        }
    }

    static let backendTLSPolicyObservedGenerationBumpManifest = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: backendtlspolicy-observed-generation-bump
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: same-namespace
  rules:
    - backendRefs:
        - name: observed-generation-bump-test
          port: 443
---
apiVersion: v1
kind: Service
metadata:
  name: observed-generation-bump-test
  namespace: gateway-conformance-infra
spec:
  selector:
    app: observed-generation-bump-test
  ports:
    - name: "https"
      protocol: TCP
      port: 443
      targetPort: 8443
---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata:
  name: observed-generation-bump
  namespace: gateway-conformance-infra
spec:
  targetRefs:
    - group: ""
      kind: Service
      name: "observed-generation-bump-test"
      sectionName: "https"
  validation:
    caCertificateRefs:
      - group: ""
        kind: ConfigMap
        # This ConfigMap is generated dynamically by the test suite.
        name: "tls-checks-ca-certificate"
    hostname: "abc.example.com"
"""
}
