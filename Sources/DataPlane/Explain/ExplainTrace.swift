import RoutingTable

/// The lookup's steps as explain records them.
struct ExplainTrace: RouteLookupTrace {
    struct Tried {
        let route: CompiledRoute
        let mismatch: MatchMismatch?
        let virtualHost: String
    }
    var hostListener: Int?
    var serverNameListener: Int?
    var virtualHost = ""
    var candidates: [Tried] = []

    mutating func hostChose(listener: Int) { hostListener = listener }
    mutating func serverNameChose(listener: Int) { serverNameListener = listener }
    mutating func entered(virtualHost: String) { self.virtualHost = virtualHost }
    mutating func tried(_ route: CompiledRoute, mismatch: MatchMismatch?) {
        candidates.append(Tried(route: route, mismatch: mismatch, virtualHost: virtualHost))
    }
}
