import NIOHTTP1
import RoutingTable

/// Listener, virtual host and route, by the routing table's rules (listener isolation, then precedence).
/// Nothing matching is a 404 that says which of the two was missing.
enum MatchPhase {
    static func run(_ request: inout RequestContext, downstream: Downstream) -> PhaseDecision {
        let headers = request.head.headers
        let view = RequestView(path: request.path, query: request.query, method: request.record.method, header: { headers.first(name: $0) })
        let lookup = request.record.table.route(socket: downstream.socket, host: request.host, serverName: downstream.serverName, request: view)
        if case .matched(let route) = lookup {
            request.record.route = route
            return .continue
        }
        return .answer(unmatched(lookup, socket: downstream.socket, host: request.host, serverName: downstream.serverName, path: request.path)!)
    }

    /// The answer to a lookup that found no route (nil when it found one); `archway explain` gives
    /// the same one.
    static func unmatched(_ lookup: RouteLookup, socket: SocketKey, host: String, serverName: String?, path: Substring) -> LocalAnswer? {
        switch lookup {
        case .noListener:
            LocalAnswer(.notFound, "no listener on \(socket) accepts host \"\(host)\"")
        case .misdirected:
            LocalAnswer(.misdirectedRequest, "host \"\(host)\" is served by another listener on \(socket) "
                        + "than the one server name \"\(serverName ?? "")\" chose: open a connection for it")
        case .noRoute:
            LocalAnswer(.notFound, "no route matches host \"\(host)\" and path \"\(path)\"")
        case .matched:
            nil
        }
    }
}
