import GatewayAPI

/// backendRef-level RequestRedirect and URLRewrite (extended features HTTPRouteBackendRequestRedirect
/// and HTTPRouteBackendURLRewrite). The data plane redirects and rewrites per rule, before a backend is
/// picked. A rule with a single backendRef sends every request to it, so that backendRef's redirect or
/// rewrite is exactly the rule's and is compiled as one. With several backendRefs it would apply to
/// that backend's share alone, which archway cannot do: the rule is refused rather than the filter
/// silently dropped or applied to every backend.
extension Translator {
    static let perRuleFilterTypes: Set<String> = ["RequestRedirect", "URLRewrite"]

    /// The backendRef filters that act as the rule's own, or why the rule cannot be served.
    static func ruleLevelFilters(fromBackendsOf rule: HTTPRoute.Rule) throws -> [HTTPRoute.Filter] {
        let refs = rule.backendRefs ?? []
        var lifted: [HTTPRoute.Filter] = []
        for ref in refs {
            for filter in ref.filters ?? [] where !["RequestHeaderModifier", "ResponseHeaderModifier"].contains(filter.type) {
                guard perRuleFilterTypes.contains(filter.type) else {
                    throw RuleError(message: "backendRef \(ref.name): filter type \(filter.type) is not supported on backendRefs "
                                    + "(RequestHeaderModifier, ResponseHeaderModifier, RequestRedirect and URLRewrite are)")
                }
                guard refs.count == 1 else {
                    throw RuleError(message: "backendRef \(ref.name): a \(filter.type) filter is supported on a rule's only backendRef, "
                                    + "not on one of several (put it on the rule instead)")
                }
                lifted.append(filter)
            }
        }
        // The same limits as on the rule itself: one of them, and not beside the rule's own.
        let ruleOwn = (rule.filters ?? []).filter { perRuleFilterTypes.contains($0.type) }
        if !lifted.isEmpty && lifted.count + ruleOwn.count > 1 {
            throw RuleError(message: "backendRef \(refs[0].name): at most one RequestRedirect or URLRewrite may apply to a request, "
                            + "counting the rule's own filters")
        }
        return lifted
    }
}
