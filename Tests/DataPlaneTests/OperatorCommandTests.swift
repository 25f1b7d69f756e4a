import ArchwayCore
import Foundation
import GatewayAPI
import Testing
import Translator

/// What `archway check`, `archway status` and `archway slo status` tell an operator about the mistakes
/// a first user makes: each must be named, with where and what to do.
@Suite(.timeLimit(.minutes(2)))
struct OperatorCommandTests {
    static func write(_ files: [String: String]) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("archway-check-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, text) in files { try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        return directory
    }

    static let service = Manifests.service("api", targetPort: 8081)

    @Test func checkNamesAMissingGatewayClassATypoedParentAndAnUnknownKind() throws {
        // What `archway migrate` used to emit: a Gateway of class archway, and no GatewayClass.
        let noClass = try Self.write(["gw.yaml": Manifests.join(
            Manifests.gateway().components(separatedBy: "---\n")[1], Self.service, Manifests.route("api", path: "/", service: "api"))])
        defer { try? FileManager.default.removeItem(at: noClass) }
        let missing = ConfigCheck(paths: [noClass.path], controllerName: Translator.defaultControllerName).problems
        #expect(missing.contains { $0.contains("(Gateway default/gw): spec.gatewayClassName: no GatewayClass archway exists") }, "\(missing)")
        #expect(missing.contains { $0.contains("(HTTPRoute default/api): spec.parentRefs[0]: Gateway default/gw has gatewayClassName archway, but no GatewayClass archway exists") },
                "\(missing)")
        let (_, report) = StatusReport.compute(paths: [noClass.path], controllerName: Translator.defaultControllerName)
        #expect(report.table().contains("no GatewayClass archway exists"), "status says why the route is unattached")

        let typos = try Self.write(["gw.yaml": Manifests.join(
            Manifests.gateway(), Self.service,
            Manifests.route("typo", path: "/", service: "api").replacingOccurrences(of: "parentRefs: [{name: gw}]", with: "parentRefs: [{name: gww}]"),
            Manifests.route("kind", path: "/k", service: "api").replacingOccurrences(of: "parentRefs: [{name: gw}]", with: "parentRefs: [{kind: Gateways, name: gw}]"),
            Manifests.route("plural", path: "/p", service: "api").replacingOccurrences(of: "kind: HTTPRoute", with: "kind: HTTPRoutes"))])
        defer { try? FileManager.default.removeItem(at: typos) }
        let problems = ConfigCheck(paths: [typos.path], controllerName: Translator.defaultControllerName).problems
        #expect(problems.contains { $0.contains("spec.parentRefs[0]: Gateway default/gww not found; did you mean default/gw?") }, "\(problems)")
        #expect(problems.contains { $0.contains("parentRef kind Gateways in group gateway.networking.k8s.io is not a Gateway; did you mean Gateway?") }, "\(problems)")
        #expect(problems.contains { $0.contains("(HTTPRoutes plural): kind: gateway.networking.k8s.io has no kind HTTPRoutes; did you mean HTTPRoute?") },
                "\(problems)")
        // A wrong port lists the ports the Service has.
        let port = try Self.write(["gw.yaml": Manifests.join(
            Manifests.gateway(), Self.service,
            Manifests.route("api", path: "/", service: "api").replacingOccurrences(of: "port: 80}", with: "port: 8080}"))])
        defer { try? FileManager.default.removeItem(at: port) }
        let portProblems = ConfigCheck(paths: [port.path], controllerName: Translator.defaultControllerName).problems
        #expect(portProblems.contains { $0.contains("Service default/api has no port 8080; its ports: 80 (http)") }, "\(portProblems)")
        // A route for another controller's Gateway is nobody's mistake.
        let other = try Self.write(["gw.yaml": Manifests.join(
            Manifests.gateway().replacingOccurrences(of: "controllerName: archway.dev/gateway-controller", with: "controllerName: example.com/other"),
            Self.service, Manifests.route("api", path: "/", service: "api"))])
        defer { try? FileManager.default.removeItem(at: other) }
        #expect(ConfigCheck(paths: [other.path], controllerName: Translator.defaultControllerName).problems.isEmpty)
    }

    /// A canary Ingress is only reachable through its main Ingress: alone, it is not "served".
    @Test func aCanaryWithoutItsMainIngressIsNotServed() throws {
        func ingress(_ name: String, className: String, canary: Bool) -> String {
            Manifests.ingress(name, host: "shop.example.com", service: "api",
                              annotations: canary ? "nginx.ingress.kubernetes.io/canary: 'true', nginx.ingress.kubernetes.io/canary-weight: '20'" : "",
                              className: className)
        }
        let classes = Manifests.ingressClass()
        let directory = try Self.write(["i.yaml": Manifests.join(classes, Self.service, ingress("shop", className: "disabled", canary: false),
                                                                 ingress("shop-canary", className: "archway", canary: true))])
        defer { try? FileManager.default.removeItem(at: directory) }
        let (_, report) = StatusReport.compute(paths: [directory.path], controllerName: Translator.defaultControllerName)
        let json = try report.json()
        #expect(json.contains("not served: a canary Ingress only splits the traffic of a main Ingress"), "\(json)")
    }

    /// `archway status --admin` and `archway slo status` read a running archway over HTTP (Foundation
    /// cannot on Linux): what serve computed, with serve's own flags.
    @Test func statusAndSLOsFromARunningArchway() async throws {
        let harness = try await GatewayHarness.startWithOneRoute()
        defer { Task { await harness.stop() } }
        let table = String(decoding: try await AdminReader.get(host: "127.0.0.1", port: harness.adminPort, path: "/status?o=table"), as: UTF8.self)
        #expect(table.contains("HTTPRoute") && table.contains("default") && table.contains(" r "), "\(table)")
        let json = String(decoding: try await AdminReader.get(host: "127.0.0.1", port: harness.adminPort, path: "/status"), as: UTF8.self)
        #expect(json.contains("\"kind\" : \"List\""), "\(json.prefix(200))")
        let slo = String(decoding: try await AdminReader.get(host: "127.0.0.1", port: harness.adminPort, path: "/slo"), as: UTF8.self)
        #expect(slo.hasPrefix("["))
        await #expect(throws: AdminReader.Failure.self) { try await AdminReader.get(host: "127.0.0.1", port: 1, path: "/slo") }
    }
}
