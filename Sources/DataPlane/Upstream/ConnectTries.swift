import RoutingTable

/// How a request's tries move over a Service's endpoints, the same on the general path and the fast
/// lane: round robin, a second try elsewhere when there is an elsewhere, and a bounded number of
/// connects before the client gets a 502.
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
    /// At most three connects, and no more than one per endpoint plus one.
    static func mayConnectAgain(after attempts: Int, endpoints: Int) -> Bool {
        attempts < min(3, endpoints + 1)
    }

    /// Pingora's rule, the one both paths follow: before any response byte, a *reused* keep-alive
    /// connection that fails was most likely closed by the backend while idle, so the request is sent
    /// once more on a fresh connection, but only when a second copy can do no harm: an idempotent
    /// method (RFC 9110 §9.2.2) whose body, if it has one, had not gone out, and at most three
    /// connects in all. Anything else might already have had its effect, and gets a 502 instead of
    /// reaching the backend twice.
    static func mayResendAfterStaleClose(method: String, reusedConnection: Bool, answered: Bool, bodySent: Bool,
                                         connectAttempts: Int) -> Bool {
        reusedConnection && !answered && !bodySent && connectAttempts < 3 && idempotentMethods.contains(method)
    }

    static let idempotentMethods: Set<String> = ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]

    static func failure(_ endpoint: Endpoint, cluster: String, _ error: any Error) -> String {
        "cannot connect to backend \(endpoint.host):\(endpoint.port) of \(cluster): \(error)"
    }
}
