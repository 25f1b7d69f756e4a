import Foundation
import GatewayAPI

/// `GET /describe?kind=&namespace=&name=[&listener=]` on a running archway's admin endpoint: the
/// object's DescribeReport as JSON, 404 with the not-found message, 400 for a kind it does not know.
enum DescribeAnswer {
    static func answer(_ query: [String: String], source: () -> DescribeSource) -> (status: Int, type: String, body: String) {
        guard let typed = query["kind"], let name = query["name"], !name.isEmpty else {
            return (400, "text/plain", "describe needs kind= and name= (namespace= and listener= are optional)\n")
        }
        guard let kind = DescribedKind.canonical(typed) else { return (400, "text/plain", "unknown kind '\(typed)'\n") }
        do {
            let report = try source().describe(kind: kind, namespace: query["namespace"].flatMap { $0.isEmpty ? nil : $0 }, name: name,
                                               listener: query["listener"].flatMap { $0.isEmpty ? nil : $0 })
            return (200, "application/json", (try? report.json()) ?? "{}")
        } catch {
            return (404, "text/plain", error.description + "\n")
        }
    }
}
