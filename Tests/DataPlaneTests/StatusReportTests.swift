import ArchwayCore
import Foundation
import Testing

/// `archway status` on the bundled examples: what a user reads to know whether a migration step worked.
struct StatusReportTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("examples")

    static func json(_ example: String) throws -> [[String: Any]] {
        let (errors, report) = StatusReport.compute(paths: [examples.appendingPathComponent(example).path],
                                                    controllerName: "archway.dev/gateway-controller")
        #expect(errors.isEmpty, "\(errors)")
        let list = try JSONSerialization.jsonObject(with: Data(try report.json().utf8)) as? [String: Any]
        #expect(list?["kind"] as? String == "List" && list?["apiVersion"] as? String == "v1")
        return list?["items"] as? [[String: Any]] ?? []
    }

    static func conditions(_ object: [String: Any]?) -> [String: String] {
        var result: [String: String] = [:]
        for condition in object?["conditions"] as? [[String: Any]] ?? [] {
            result[condition["type"] as! String] = "\(condition["status"]!)/\(condition["reason"]!)"
            #expect(condition["lastTransitionTime"] is String && condition["observedGeneration"] is Int)
        }
        return result
    }

    @Test func playbookIsFullyAccepted() throws {
        let items = try Self.json("playbook")
        let routes = items.filter { $0["kind"] as? String == "HTTPRoute" }
        #expect(routes.count == 5)
        for route in routes {
            let parents = (route["status"] as? [String: Any])?["parents"] as? [[String: Any]] ?? []
            #expect(parents.count == 1)
            let parent = parents.first
            #expect(parent?["controllerName"] as? String == "archway.dev/gateway-controller")
            let ref = parent?["parentRef"] as? [String: Any]
            #expect(ref?["group"] as? String == "gateway.networking.k8s.io" && ref?["kind"] as? String == "Gateway")
            #expect(ref?["namespace"] as? String == "platform" && ref?["name"] as? String == "production-gateway")
            let conditions = Self.conditions(parent)
            #expect(conditions["Accepted"] == "True/Accepted" && conditions["ResolvedRefs"] == "True/ResolvedRefs")
        }
        let gateway = items.first { $0["kind"] as? String == "Gateway" }
        let status = gateway?["status"] as? [String: Any]
        let addresses = status?["addresses"] as? [[String: Any]]
        #expect(addresses?.first?["type"] as? String == "IPAddress" && addresses?.first?["value"] as? String == "127.0.0.1")
        let listener = (status?["listeners"] as? [[String: Any]])?.first
        #expect(listener?["attachedRoutes"] as? Int == 5)
        let kinds = listener?["supportedKinds"] as? [[String: Any]]
        #expect(kinds?.first?["group"] as? String == "gateway.networking.k8s.io" && kinds?.first?["kind"] as? String == "HTTPRoute")
        #expect(Self.conditions(status)["Programmed"] == "True/Programmed")
    }

    @Test func tableShowsWhichEdgePoliciesGuardEachRoute() throws {
        let (_, report) = StatusReport.compute(paths: [Self.examples.appendingPathComponent("playbook").path],
                                               controllerName: "archway.dev/gateway-controller")
        let table = report.table()
        #expect(table.contains("policies rule 0: RateLimit platform/per-client, BasicAuth apps/admins"), "\(table)")
        #expect(table.contains("policies rule 0: RateLimit platform/per-client\n"), "a Gateway-wide policy reaches every route")
        #expect(table.contains("BasicAuth     apps       admins") || table.contains("BasicAuth"), "the policy itself is listed with its status")
    }

    @Test func brokenExampleNamesEachReason() throws {
        let (_, report) = StatusReport.compute(paths: [Self.examples.appendingPathComponent("broken").path],
                                               controllerName: "archway.dev/gateway-controller")
        let table = report.table()
        #expect(table.contains("RefNotPermitted: backendRef to Service backend/backend-service is not permitted by any ReferenceGrant in namespace backend"))
        #expect(table.contains("NoMatchingParent: Gateway platform/production-gateway has no listener named \"https\""))
        #expect(table.contains("Gateway apps/production-gateway not found"))
        let check = ConfigCheck(paths: [Self.examples.appendingPathComponent("broken").path], controllerName: "archway.dev/gateway-controller")
        #expect(check.problems.count == 3)
        #expect(check.problems.allSatisfy { $0.contains("10-routes.yaml: document ") })
        #expect(ConfigCheck(paths: [Self.examples.appendingPathComponent("playbook").path], controllerName: "archway.dev/gateway-controller").problems.isEmpty)
    }
}
