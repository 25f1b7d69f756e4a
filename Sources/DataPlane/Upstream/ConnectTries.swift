import RoutingTable

/// How a request's tries move over a Service's endpoints, the same on the general path and the fast
/// lane: round robin, a second try elsewhere when there is an elsewhere, and a bounded number of
/// connects before the client gets a 502.
extension EventLoopContext {
    func nextIndex(cluster: CompiledCluster, table: CompiledTable, avoiding last: Endpoint?) -> Int {
        let endpoints = cluster.endpoints
        let index = nextIndex(cluster: cluster, count: endpoints.count, table: table)
        return endpoints.count > 1 && endpoints[index] == last ? (index + 1) % endpoints.count : index
    }
}

enum ConnectTries {
    /// At most three connects, and no more than one per endpoint plus one.
    static func mayConnectAgain(after attempts: Int, endpoints: Int) -> Bool {
        attempts < min(3, endpoints + 1)
    }

    static func failure(_ endpoint: Endpoint, cluster: String, _ error: any Error) -> String {
        "cannot connect to backend \(endpoint.host):\(endpoint.port) of \(cluster): \(error)"
    }
}
