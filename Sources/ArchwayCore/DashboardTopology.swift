import Foundation
import GatewayAPI

/// What the dashboard draws: Gateways with their listeners, routes with their parents, hostnames,
/// backends (with weights) and conditions. Built from the snapshot and statuses each time a
/// configuration is applied.
struct DashboardTopology: Encodable {
    struct ConditionView: Encodable {
        var type: String
        var status: String
        var reason: String
    }
    struct ListenerView: Encodable {
        var name: String
        var port: Int
        var `protocol`: String
        var attachedRoutes: Int
    }
    struct GatewayView: Encodable {
        var name: String
        var gatewayClass: String
        var listeners: [ListenerView]
        var conditions: [ConditionView]
    }
    struct BackendView: Encodable {
        var name: String
        var weight: Int
    }
    struct RouteView: Encodable {
        var kind: String
        var name: String
        var parents: [String]
        var hostnames: [String]
        var backends: [BackendView]
        var conditions: [ConditionView]
        /// Edge policies per rule ("rule 0: RateLimit ns/name, ...").
        var policies: [String]
    }
    var gateways: [GatewayView]
    var routes: [RouteView]

    init(snapshot: ResourceSnapshot, statuses: StatusSet, edgePolicies: [String: [String]] = [:]) {
        func views(_ conditions: [Condition]) -> [ConditionView] { conditions.map { ConditionView(type: $0.type, status: $0.status, reason: $0.reason) } }
        gateways = snapshot.gateways.compactMap { gateway in
            guard let status = statuses.gateways[gateway.metadata.namespacedName] else { return nil }
            let attached = Dictionary(status.listeners.map { ($0.name, $0.attachedRoutes) }) { first, _ in first }
            return GatewayView(name: gateway.metadata.namespacedName.description, gatewayClass: gateway.spec.gatewayClassName,
                               listeners: gateway.spec.listeners.map { ListenerView(name: $0.name, port: $0.port, protocol: $0.protocol,
                                                                                       attachedRoutes: attached[$0.name] ?? 0) },
                               conditions: views(status.conditions))
        }
        func backends(_ refs: [BackendReference], namespace: String) -> [BackendView] {
            refs.map { BackendView(name: "\($0.namespace ?? namespace)/\($0.name)\($0.port.map { ":\($0)" } ?? "")", weight: $0.weight ?? 1) }
        }
        // Each route's backends and hostnames, by "Kind namespace/name", read once from the snapshot.
        var specs: [String: (refs: [BackendReference], hostnames: [String])] = [:]
        for route in snapshot.httpRoutes {
            specs["HTTPRoute \(route.metadata.namespacedName)"] = (route.spec.rules?.flatMap { $0.backendRefs ?? [] } ?? [], route.spec.hostnames ?? [])
        }
        for route in snapshot.grpcRoutes {
            specs["GRPCRoute \(route.metadata.namespacedName)"] = (route.spec.rules?.flatMap { $0.backendRefs ?? [] } ?? [], route.spec.hostnames ?? [])
        }
        for route in snapshot.streamRoutes {
            specs["\(route.kind.rawValue) \(route.metadata.namespacedName)"] = (route.spec.rules?.flatMap { $0.backendRefs ?? [] } ?? [], route.spec.hostnames ?? [])
        }
        var routes: [RouteView] = []
        for report in statuses.routeReports(snapshot) {
            guard let status = report.status, !status.parents.isEmpty else { continue }
            let namespace = report.metadata.namespace ?? "default"
            let name = report.metadata.namespacedName
            let (refs, hostnames) = specs["\(report.kind) \(name)"] ?? ([], [])
            routes.append(RouteView(kind: report.kind, name: name.description,
                                    parents: status.parents.map { "\($0.parentRef.namespace ?? namespace)/\($0.parentRef.name)" },
                                    hostnames: hostnames, backends: backends(refs, namespace: namespace),
                                    conditions: views(status.parents.first?.conditions ?? []),
                                    policies: edgePolicies[name.description] ?? []))
        }
        self.routes = routes
    }

    func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{\"gateways\":[],\"routes\":[]}"
    }
}
