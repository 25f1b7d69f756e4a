/// What a match is ranked by before the tie-breaks every route kind shares. The spec gives each kind
/// its own criteria: a GRPCRoute is lowered to path matches, but its service outranks its method, which
/// a path's type and length cannot express (a method-only match is a regex and would outrank a
/// service-only prefix).
public enum MatchCriteria: Sendable {
    case http(HTTPMatch)
    /// Characters of the matching service and method (0 when omitted), and the number of header matches.
    case grpc(serviceCharacters: Int, methodCharacters: Int, headers: Int)
}

/// Gateway API precedence between route matches that share a hostname, as a lexicographic key
/// (never a weighted sum, so ten header matches can never outrank a longer path).
public struct PrecedenceKey: Sendable, Comparable {
    /// The kind's criteria, each smaller-first. HTTPRoute: path type (exact, regex, prefix), path
    /// length (longer first), method (with one first), header matches (more first), query matches
    /// (more first). GRPCRoute: service characters, method characters, header matches (more first).
    /// Led by the kind, so the rare bucket holding both kinds (merged listeners) still sorts stably.
    var criteria: [Int]
    var creation: String       // older first; missing sorts last
    var routeName: String      // "namespace/name" alphabetical
    var rule: Int
    var match: Int

    public init(match: HTTPMatch, origin: RouteOrigin, creationTimestamp: String?) {
        self.init(criteria: .http(match), origin: origin, creationTimestamp: creationTimestamp)
    }

    public init(criteria: MatchCriteria, origin: RouteOrigin, creationTimestamp: String?) {
        switch criteria {
        case .http(let match):
            let (pathRank, pathLength): (Int, Int)
            switch match.path {
            case .exact(let value): (pathRank, pathLength) = (0, value.count)
            case .regularExpression(let value): (pathRank, pathLength) = (1, value.count)
            case .prefix(let value): (pathRank, pathLength) = (2, value.count)
            }
            self.criteria = [0, pathRank, -pathLength, match.method == nil ? 1 : 0, -match.headers.count, -match.queryParams.count]
        case .grpc(let service, let method, let headers):
            self.criteria = [1, -service, -method, -headers]
        }
        // RFC 3339 timestamps in UTC sort correctly as text; "~" sorts after any digit.
        creation = creationTimestamp ?? "~"
        routeName = "\(origin.namespace)/\(origin.name)"
        rule = origin.rule
        self.match = origin.match
    }

    public static func < (a: Self, b: Self) -> Bool {
        if a.criteria != b.criteria { return a.criteria.lexicographicallyPrecedes(b.criteria) }
        if a.creation != b.creation { return a.creation < b.creation }
        if a.routeName != b.routeName { return a.routeName < b.routeName }
        if a.rule != b.rule { return a.rule < b.rule }
        return a.match < b.match
    }

    public static func == (a: Self, b: Self) -> Bool { !(a < b) && !(b < a) }
}
