import RoutingTable
import Yams

/// HTTPRoute filters and archway policy specs as every provider's conversion writes them: one
/// shape for each, whichever controller's annotations or objects asked for it.
extension Manifest {
    /// A RequestHeaderModifier (`response`: false) or ResponseHeaderModifier; nil when it would do nothing.
    static func headerModifier(response: Bool, set: [(name: String, value: String)], remove: [String] = []) -> Node? {
        guard !set.isEmpty || !remove.isEmpty else { return nil }
        let (type, key) = response ? ("ResponseHeaderModifier", "responseHeaderModifier") : ("RequestHeaderModifier", "requestHeaderModifier")
        return map([("type", str(type)), (key, map([
            ("set", set.isEmpty ? nil : seq(set.map { map([("name", str($0.name)), ("value", str($0.value))]) })),
            ("remove", remove.isEmpty ? nil : seq(remove.map(str))),
        ]))])
    }

    /// The CORS filter. Lists left empty are left out (the same to the translator); `maxAge` nil
    /// leaves Gateway API's default.
    static func corsFilter(_ policy: CORSPolicy, maxAge: Int?) -> Node {
        func list(_ values: [String]) -> Node? { values.isEmpty ? nil : seq(values.map(str)) }
        return map([("type", str("CORS")), ("cors", map([
            ("allowOrigins", list(policy.allowOrigins)), ("allowMethods", list(policy.allowMethods)),
            ("allowHeaders", list(policy.allowHeaders)), ("exposeHeaders", list(policy.exposeHeaders)),
            ("allowCredentials", bool(policy.allowCredentials)), ("maxAge", maxAge.map(int)),
        ]))])
    }
}

extension EdgeAnnotations {
    /// A RateLimit per client address; `burst` nil leaves archway's default (the rate).
    static func rateLimitSpec(requests: Int, unit: String, burst: Int?) -> Made {
        ("RateLimit", [("requests", Manifest.int(requests)), ("unit", Manifest.str(unit)), ("burst", burst.map(Manifest.int)),
                       ("key", Manifest.map([("type", Manifest.str("ClientIP"))]))])
    }

    /// An IPAllowList; `trustedProxyDepth` 0 reads the connection's own address.
    static func ipAllowListSpec(allow: [String], deny: [String], trustedProxyDepth: Int = 0) -> Made {
        ("IPAllowList", [("allow", allow.isEmpty ? nil : Manifest.seq(allow.map(Manifest.str))),
                         ("deny", deny.isEmpty ? nil : Manifest.seq(deny.map(Manifest.str))),
                         ("trustedProxyDepth", trustedProxyDepth > 0 ? Manifest.int(trustedProxyDepth) : nil)])
    }
}
