import RoutingTable

/// How a request's tries move over a Service's endpoints, the same on the general path and the fast
/// lane: round robin, and a second try elsewhere when there is an elsewhere (how many tries there are
/// is `UpstreamTries`' to decide).
extension EventLoopContext {
    func nextIndex(cluster: CompiledCluster, table: ServedTable, avoiding last: Endpoint?) -> Int {
        let endpoints = cluster.endpoints
        let index = nextIndex(cluster: cluster, count: endpoints.count, table: table)
        return endpoints.count > 1 && endpoints[index] == last ? (index + 1) % endpoints.count : index
    }
}

/// How a timed-out request is worded, the same on both paths.
enum TimeoutMessages {
    static func request(_ millis: Int) -> String { "the route's timeouts.request (\(duration(millis))) passed" }

    static func backend(_ cluster: String, _ millis: Int) -> String {
        "backend \(cluster) did not answer within the route's timeouts.backendRequest (\(duration(millis)))"
    }

    static func duration(_ millis: Int) -> String { millis % 1000 == 0 ? "\(millis / 1000)s" : "\(millis)ms" }
}

enum ConnectTries {
    static func failure(_ endpoint: Endpoint, cluster: String, _ error: any Error) -> String {
        "cannot connect to backend \(endpoint.host):\(endpoint.port) of \(cluster): \(error)"
    }
}
