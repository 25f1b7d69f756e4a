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

extension EventLoopContext {
    /// The endpoint for a try, the same on both paths: the session's on the first connect of the first
    /// try, else round robin (elsewhere than the last try when there is an elsewhere); with a
    /// BackendTrafficPolicy the first usable one from there. nil when the policy leaves none
    /// (`BackendGate.noneUsable`).
    func endpointForTry(_ cluster: CompiledCluster, table: ServedTable, tries: UpstreamTries, sticky: StickyBinding?, gate: BackendGate?,
                        last: Endpoint?) -> Endpoint? {
        let endpoints = cluster.endpoints
        let index = tries.pinnedIndex(sticky, in: endpoints) ?? nextIndex(cluster: cluster, table: table, avoiding: last)
        guard let gate else { return endpoints[index] }
        return gate.usableIndex(from: index, of: endpoints).map { endpoints[$0] }
    }
}

enum ConnectTries {
    static func failure(_ endpoint: Endpoint, cluster: String, _ error: any Error) -> String {
        "cannot connect to backend \(endpoint.host):\(endpoint.port) of \(cluster): \(error)"
    }

    /// What the client reads when `UpstreamTries` fails a request, on both paths.
    static func answer(_ failure: UpstreamTries.Failure, cluster: String, route: CompiledRoute?, connectError: (Endpoint, any Error)?,
                       closeError: (any Error)?) -> LocalAnswer {
        switch failure {
        case .cannotConnect:
            let why = connectError.map { Self.failure($0.0, cluster: cluster, $0.1) } ?? "cannot connect to backend \(cluster)"
            return LocalAnswer(.badGateway, why)
        case .retriesExhausted:
            // Envoy's and the Gateway API conformance tests' status for a retry budget spent on resets.
            return LocalAnswer(.serviceUnavailable, "backend \(cluster) failed before responding on every try the route's retry policy allows: "
                               + (closeError.map { "\($0)" } ?? "connection closed"))
        case .closedBeforeAnswer:
            return LocalAnswer(.badGateway, "backend \(cluster) failed before responding: " + (closeError.map { "\($0)" } ?? "connection closed"))
        case .requestTimeout:
            return LocalAnswer(.gatewayTimeout, TimeoutMessages.request(route?.requestTimeoutMillis ?? 0))
        case .backendTimeout:
            return LocalAnswer(.gatewayTimeout, TimeoutMessages.backend(cluster, route?.backendTimeoutMillis ?? 0))
        }
    }
}
