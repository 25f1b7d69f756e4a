import NIOHTTP1
import RoutingTable

/// Listener, virtual host and route, by the routing table's rules (listener isolation, then precedence).
/// Nothing matching is a 404 that says which of the two was missing.
enum MatchPhase {
    static func run(_ request: inout RequestContext, downstream: Downstream) -> PhaseDecision {
        let headers = request.head.headers
        let view = RequestView(path: request.path, query: request.query, method: request.record.method, header: { headers.first(name: $0) })
        switch request.record.table.route(socket: downstream.socket, host: request.host, serverName: downstream.serverName, request: view) {
        case .noListener:
            return .answer(LocalAnswer(.notFound, "no listener on \(downstream.socket) accepts host \"\(request.host)\""))
        case .misdirected:
            return .answer(LocalAnswer(.misdirectedRequest, "host \"\(request.host)\" is served by another listener on \(downstream.socket) "
                                       + "than the one server name \"\(downstream.serverName ?? "")\" chose: open a connection for it"))
        case .noRoute:
            return .answer(LocalAnswer(.notFound, "no route matches host \"\(request.host)\" and path \"\(request.path)\""))
        case .matched(let route):
            request.record.route = route
            return .continue
        }
    }
}
