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
}
