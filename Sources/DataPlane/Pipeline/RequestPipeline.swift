import RoutingTable

/// The general path's request phases, in their fixed order (nginx's phases, Pingora's hooks). Gateway
/// API filters and archway's policies are data in the matched route; the phases apply them. Each
/// phase returns `continue` or a decision: answer locally, forward, or wait for an edge policy.
///
/// The connection handler calls `run` when a request head has been read and `resume` when a deferred
/// edge policy answers, then acts on the decision. Forwarding and the response are the upstream
/// attempt's (`UpstreamAttempt`, `ResponseFilterPhase`); every request ends in `LogPhase`.
struct RequestPipeline {
    enum Phase: Int, Comparable, CaseIterable {
        case normalise, match, cors, edgePolicies, pickUpstream, requestFilters

        static func < (lhs: Phase, rhs: Phase) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    var downstream: Downstream
    let loop: EventLoopContext

    /// Runs the request's phases from the one it stands at until one decides.
    func run(_ request: inout RequestContext) -> PhaseDecision {
        for phase in Phase.allCases where phase >= request.phase {
            request.phase = phase
            let decision: PhaseDecision
            switch (phase, request.route, request.backend) {
            case (.normalise, _, _):
                decision = NormalisePhase.run(&request, loop: loop)
            case (.match, _, _):
                decision = MatchPhase.run(&request, downstream: downstream)
            case (.cors, let route?, _):
                decision = CORSPhase.run(&request, route: route)
            case (.edgePolicies, let route?, _):
                decision = EdgePolicyPhase.run(&request, route: route, downstream: downstream)
            case (.pickUpstream, let route?, _):
                decision = PickUpstreamPhase.run(&request, route: route, downstream: downstream, loop: loop)
            case (.requestFilters, let route?, let backend?):
                decision = RequestFilterPhase.run(request, route: route, backend: backend, downstream: downstream, loop: loop)
            default:
                preconditionFailure("phase \(phase) ran before the phase that sets what it reads")
            }
            if case .continue = decision { continue }
            return decision
        }
        preconditionFailure("the request filter phase always decides")
    }

    /// A deferred edge policy answered: the request goes on from the policy after it, or is refused.
    func resume(_ request: inout RequestContext, after decision: EdgeDecision) -> PhaseDecision {
        let decided = EdgePolicyPhase.resume(&request, with: decision)
        guard case .continue = decided else { return decided }
        return run(&request)
    }
}
