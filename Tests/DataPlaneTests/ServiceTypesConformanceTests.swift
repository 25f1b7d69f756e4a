import ArchwayCore
import Foundation
import Testing

/// HTTPRouteServiceTypes: one HTTPRoute to three kinds of Service backend — a Service without a
/// selector whose EndpointSlices someone else fills ("manual"), a headless Service whose slices the
/// EndpointSlice controller fills, and a headless Service without a selector with manual slices.
/// Upstream patches the slices with the infra backend's Pod IPs after the route is accepted; here the
/// slices start empty (IPv4 and IPv6, as upstream's manifests write them) and are then given the
/// address of a real echo backend, as the patch (or, for the managed one, the controller) would.
@Suite struct ServiceTypesConformanceTests {
    static func manifests(endpoint: String?, port: Int) -> String {
        var documents = [Manifests.gateway(), """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: service-types}
            spec:
              parentRefs: [{name: gw}]
              rules:
              - matches: [{path: {type: Exact, value: /manual-endpointslices}}]
                backendRefs: [{name: manual-endpointslices, port: 8080}]
              - matches: [{path: {type: Exact, value: /headless}}]
                backendRefs: [{name: headless, port: 8080}]
              - matches: [{path: {type: Exact, value: /headless-manual-endpointslices}}]
                backendRefs: [{name: headless-manual-endpointslices, port: 8080}]
            """]
        for (service, headless, selector) in [("manual-endpointslices", false, false), ("headless", true, true), ("headless-manual-endpointslices", true, false)] {
            documents.append("""
                apiVersion: v1
                kind: Service
                metadata: {name: \(service)}
                spec:
                  \(headless ? "clusterIP: None" : "")
                  \(selector ? "selector: {app: infra-backend-v1}" : "")
                  ports: [{name: first-port, protocol: TCP, port: 8080, targetPort: \(port)}]
                """)
            for family in ["IPv4", "IPv6"] {
                let endpoints = family == "IPv4" ? endpoint.map { "[{addresses: [\($0)], conditions: {ready: true, serving: true, terminating: false}}]" } : nil
                documents.append("""
                    apiVersion: discovery.k8s.io/v1
                    kind: EndpointSlice
                    metadata: {name: \(service)-\(family == "IPv4" ? "ip4" : "ip6"), labels: {kubernetes.io/service-name: \(service)}}
                    addressType: \(family)
                    ports: [{name: first-port, port: \(port), protocol: TCP}]
                    \(endpoints.map { "endpoints: \($0)" } ?? "")
                    """)
            }
        }
        return documents.joined(separator: "\n---\n")
    }

    /// Conformance: HTTPRouteServiceTypes
    @Test func httpRouteServiceTypes() async throws {
        let harness = GatewayHarness()
        defer { Task { await harness.stop() } }
        try await harness.startBackend("infra-backend-v1")
        let port = harness.backendPorts["infra-backend-v1"]!
        try harness.write("service-types.yaml", Self.manifests(endpoint: nil, port: port))
        try await harness.start()
        // Accepted with its references resolved before any slice has an endpoint.
        let route = try #require(await harness.runtime.statuses?.httpRoutes.first { $0.key.name == "service-types" }?.value)
        let conditions = route.parents.flatMap(\.conditions)
        #expect(conditions.contains { $0.type == "Accepted" && $0.status == "True" }, "\(conditions)")
        #expect(conditions.contains { $0.type == "ResolvedRefs" && $0.status == "True" }, "\(conditions)")

        let before = await harness.runtime.generation
        try harness.write("service-types.yaml", Self.manifests(endpoint: "127.0.0.1", port: port))
        try await harness.waitForGeneration(atLeast: before + 1)
        for path in ["/manual-endpointslices", "/headless", "/headless-manual-endpointslices"] {
            let answer = try await harness.send(path, host: "example.com")
            #expect(answer.status == 200 && answer.echoName == "infra-backend-v1", "\(path): \(answer.status) \(answer.text)")
        }
    }
}
