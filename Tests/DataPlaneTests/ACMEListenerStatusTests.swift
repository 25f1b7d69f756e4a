import Foundation
import Testing

/// Where a certificate archway cannot obtain shows up: on the ACMEIssuer's status and on the
/// ResolvedRefs condition of each listener waiting for it, a ListenerSet's listener included. The
/// issuer's directory is a closed port, so every order fails at once.
@Suite(.timeLimit(.minutes(1)))
struct ACMEListenerStatusTests {
    static let manifests = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: GatewayClass
        metadata: {name: archway}
        spec: {controllerName: archway.dev/gateway-controller}
        ---
        apiVersion: archway.dev/v1alpha1
        kind: ACMEIssuer
        metadata: {name: nowhere}
        spec: {server: "https://127.0.0.1:1/directory", termsOfServiceAgreed: true}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata:
          name: web
          namespace: default
          annotations: {archway.dev/acme-issuer: nowhere}
        spec:
          gatewayClassName: archway
          allowedListeners: {namespaces: {from: Same}}
          listeners:
          - {name: http, protocol: HTTP, port: 80}
          - {name: https, protocol: HTTPS, port: 443, hostname: app.example.com, tls: {certificateRefs: [{name: app-tls}]}}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: ListenerSet
        metadata: {name: team, namespace: default}
        spec:
          parentRef: {name: web}
          listeners:
          - {name: shop, protocol: HTTPS, port: 443, hostname: shop.example.com, tls: {certificateRefs: [{name: shop-tls}]}}
        """

    static func resolvedRefs(_ item: [String: Any], listener: String) -> String? {
        let listeners = ((item["status"] as? [String: Any])?["listeners"] as? [[String: Any]]) ?? []
        let conditions = listeners.first { $0["name"] as? String == listener }?["conditions"] as? [[String: Any]] ?? []
        return conditions.first { $0["type"] as? String == "ResolvedRefs" }?["message"] as? String
    }

    @Test func aFailingOrderIsNamedOnTheIssuerAndOnEveryWaitingListener() async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("archway-acme-state-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: state) }
        let harness = GatewayHarness()
        harness.stateDirectory = state
        harness.extraPortMap = [443: 0]
        try harness.write("gw.yaml", Self.manifests)
        try await harness.start()
        defer { Task { await harness.stop() } }

        var items: [[String: Any]] = []
        let deadline = Date().addingTimeInterval(20)
        repeat {
            items = try await harness.statusItems()
            let issuer = items.first { $0["kind"] as? String == "ACMEIssuer" }
            let states = ((issuer?["status"] as? [String: Any])?["certificates"] as? [[String: Any]] ?? []).compactMap { $0["state"] as? String }
            if states == ["Failed", "Failed"] { break }
            try await Task.sleep(for: .milliseconds(200))
        } while Date() < deadline
        let gateway = try #require(items.first { $0["kind"] as? String == "Gateway" })
        let set = try #require(items.first { $0["kind"] as? String == "ListenerSet" })
        let own = Self.resolvedRefs(gateway, listener: "https") ?? ""
        let shared = Self.resolvedRefs(set, listener: "shop") ?? ""
        #expect(own.contains("default/app-tls") && own.contains("archway obtains it from ACMEIssuer nowhere: Failed") && own.contains("next attempt at"), "\(own)")
        #expect(shared.contains("default/shop-tls") && shared.contains("archway obtains it from ACMEIssuer nowhere: Failed"), "\(shared)")
    }
}
