import NIOConcurrencyHelpers
import RoutingTable

/// The live guards, one per distinct edge rule. A reload that leaves a policy unchanged keeps its
/// guard, so rate-limit buckets, verified-credential caches and fetched JWKS survive the swap.
public final class EdgeGuardRegistry: Sendable {
    private let guards = NIOLockedValueBox<[EdgeRule: any EdgeGuard]>([:])

    public init() {}

    /// For `CompiledTable(edgeGuards:)`.
    public var factory: EdgeGuardFactory {
        { [self] rule in
            guards.withLockedValue { guards in
                if let existing = guards[rule] { return existing }
                let made = Self.make(rule)
                guards[rule] = made
                return made
            }
        }
    }

    /// Forgets guards whose rule the table being served no longer uses.
    public func keepOnly(_ table: RoutingTable) {
        let inUse = Set(table.httpRouteEntries.flatMap(\.edge))
        guards.withLockedValue { $0 = $0.filter { inUse.contains($0.key) } }
    }

    private static func make(_ rule: EdgeRule) -> any EdgeGuard {
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
