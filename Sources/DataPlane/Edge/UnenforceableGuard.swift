import RoutingTable

/// Stands where a policy that cannot be enforced would run: every request it covers is refused with
/// 500, as the Gateway API prescribes for a filter that cannot be honoured. Failing open here would
/// turn a missing Secret into a route without authentication.
final class UnenforceableGuard: EdgeGuard {
    private let refusal: EdgeRefusal

    init(_ rule: UnenforceableRule) {
        refusal = EdgeRefusal(status: 500, message: "internal error: an access policy for this route cannot be enforced",
                              detail: "\(rule.policy) cannot be enforced: \(rule.problem)")
    }

    func check(_ request: EdgeRequest) -> EdgeDecision { .refuse(refusal) }
}
