/// Gateway API precedence between HTTPRoute matches that share a hostname, as a lexicographic key
/// (never a weighted sum, so ten header matches can never outrank a longer path).
public struct PrecedenceKey: Sendable, Comparable {
    var pathRank: Int          // 0 exact, 1 regex, 2 prefix
    var pathLength: Int        // longer first
    var hasMethod: Int         // 0 with a method, 1 without
    var headerCount: Int       // more first
    var queryCount: Int        // more first
    var creation: String       // older first; missing sorts last
    var routeName: String      // "namespace/name" alphabetical
    var rule: Int
    var match: Int

    public init(match: HTTPMatch, origin: RouteOrigin, creationTimestamp: String?) {
        switch match.path {
        case .exact(let value): (pathRank, pathLength) = (0, value.count)
        case .regularExpression(let value): (pathRank, pathLength) = (1, value.count)
        case .prefix(let value): (pathRank, pathLength) = (2, value.count)
        }
        hasMethod = match.method == nil ? 1 : 0
        headerCount = match.headers.count
        queryCount = match.queryParams.count
        // RFC 3339 timestamps in UTC sort correctly as text; "~" sorts after any digit.
        creation = creationTimestamp ?? "~"
        routeName = "\(origin.namespace)/\(origin.name)"
        rule = origin.rule
        self.match = origin.match
    }

    public static func < (a: Self, b: Self) -> Bool {
        if a.pathRank != b.pathRank { return a.pathRank < b.pathRank }
        if a.pathLength != b.pathLength { return a.pathLength > b.pathLength }
        if a.hasMethod != b.hasMethod { return a.hasMethod < b.hasMethod }
        if a.headerCount != b.headerCount { return a.headerCount > b.headerCount }
        if a.queryCount != b.queryCount { return a.queryCount > b.queryCount }
        if a.creation != b.creation { return a.creation < b.creation }
        if a.routeName != b.routeName { return a.routeName < b.routeName }
        if a.rule != b.rule { return a.rule < b.rule }
        return a.match < b.match
    }

    public static func == (a: Self, b: Self) -> Bool { !(a < b) && !(b < a) }
}
