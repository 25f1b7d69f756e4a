import RoutingTable

/// Which guard runs which kind of edge rule. `LiveState` makes one guard per distinct rule and keeps
/// it while the rule is unchanged.
enum EdgeGuards {
    static func make(_ rule: EdgeRule) -> any EdgeGuard {
        switch rule {
        case .ipAllowList(let r): IPAllowListGuard(r)
        case .rateLimit(let r): RateLimitGuard(r)
        case .bodySize(let r): BodySizeGuard(r)
        case .basicAuth(let r): BasicAuthGuard(r)
        case .apiKeyAuth(let r): APIKeyGuard(r)
        case .jwtAuth(let r): JWTGuard(r)
        case .forwardAuth(let r): ForwardAuthGuard(r)
        case .unenforceable(let r): UnenforceableGuard(r)
        }
    }
}
