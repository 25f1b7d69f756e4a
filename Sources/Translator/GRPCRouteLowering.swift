import GatewayAPI
import RoutingTable

/// A GRPCRoute is an HTTPRoute over HTTP/2 whose path is "/package.Service/Method": it is lowered to
/// one and goes through the same compiler, precedence and attachment, with its own kind for
/// ReferenceGrants and status, and its backends spoken to over h2c. Only precedence is its own: the
/// spec ranks service characters, then method characters, then headers, which the lowered paths
/// cannot express.
extension Translator {
    func contribution(of route: GRPCRoute, snapshot: ResourceSnapshot, conflicts: RouteKindConflicts, listeners: ListenerIndex,
                      builder: TableBuilder) -> RouteContribution {
        contribution(of: Self.lower(route), kind: "GRPCRoute", http2Backends: true, criteria: Self.criteria(of: route), snapshot: snapshot,
                     conflicts: conflicts, listeners: listeners, builder: builder)
    }

    /// The spec's ranking of a GRPCRoute match: characters of the service, of the method, then the
    /// number of header matches. A rule without matches matches everything and ranks last.
    static func criteria(of route: GRPCRoute) -> MatchRanking {
        let rules = route.spec.rules ?? []
        return { ruleIndex, matchIndex, _ in
            let matches = ruleIndex < rules.count ? rules[ruleIndex].matches ?? [] : []
            guard matchIndex < matches.count else { return .grpc(serviceCharacters: 0, methodCharacters: 0, headers: 0) }
            let match = matches[matchIndex]
            return .grpc(serviceCharacters: match.method?.service?.count ?? 0, methodCharacters: match.method?.method?.count ?? 0,
                         headers: match.headers?.count ?? 0)
        }
    }

    static func lower(_ route: GRPCRoute) -> HTTPRoute {
        let rules = (route.spec.rules ?? []).map { rule in
            HTTPRoute.Rule(name: rule.name, matches: rule.matches.map { $0.map(lower) }, filters: rule.filters,
                           backendRefs: rule.backendRefs, sessionPersistence: rule.sessionPersistence)
        }
        return HTTPRoute(metadata: route.metadata,
                         spec: .init(parentRefs: route.spec.parentRefs, hostnames: route.spec.hostnames, rules: rules))
    }

    /// Service and method to a path match: both exact → the exact path; service only → every method
    /// of it (a path prefix, which matches whole segments); otherwise a regular expression, with an
    /// omitted part matching any single segment.
    static func lower(_ match: GRPCRoute.Match) -> HTTPRoute.Match {
        guard let method = match.method, method.service != nil || method.method != nil else {
            return HTTPRoute.Match(path: .init(type: .PathPrefix, value: "/"), headers: match.headers)
        }
        let path: HTTPRoute.PathMatch
        switch (method.type ?? .Exact, method.service, method.method) {
        case (.Exact, let service?, let name?):
            path = .init(type: .Exact, value: "/\(service)/\(name)")
        case (.Exact, let service?, nil):
            path = .init(type: .PathPrefix, value: "/\(service)")
        case (.Exact, nil, let name?):
            path = .init(type: .RegularExpression, value: "/[^/]+/" + Self.escapeRegex(name))
        case (.RegularExpression, let service, let name):
            // Grouped, so an alternation in one part ("Get|List") stays inside its segment.
            path = .init(type: .RegularExpression, value: "/(?:\(service ?? "[^/]+"))/(?:\(name ?? "[^/]+"))")
        default:
            path = .init(type: .PathPrefix, value: "/")
        }
        return HTTPRoute.Match(path: path, headers: match.headers)
    }
}
