import NIOHTTP1
import RoutingTable

/// The route's edge policies (allow lists, rate limits, body size, API keys, basic auth, JWT, forward
/// auth), in the order the route lists them. Synchronous decisions cost nothing beyond the check; a
/// deferred one parks the request (`wait`) and `resume` takes it on from the policy that answered.
/// A policy that lets the request through may edit it on its way upstream (`EdgeEdits`).
/// The rules live in `EdgeChecks`, which the fast lane runs too.
enum EdgePolicyPhase {
    static func run(_ request: inout RequestContext, route: CompiledRoute, downstream: Downstream) -> PhaseDecision {
        let guards = request.record.table.edgeGuards(of: route)
        if request.nextEdgeGuard < guards.count {
            let headers = request.head.headers
            let edgeRequest = EdgeRequest(scheme: downstream.scheme, method: request.record.method, host: request.host, path: request.path,
                                          query: request.query, peerAddress: downstream.clientAddress,
                                          header: { headers.first(name: $0) }, headerValues: { headers[$0] },
                                          routeKey: EdgeChecks.routeKey(route))
            if let decided = EdgeChecks.run(guards, edgeRequest, next: &request.nextEdgeGuard, edits: &request.edgeEdits) {
                return phaseDecision(decided, &request)
            }
        }
        if let limit = request.edgeEdits.maxRequestBody {
            request.bodyLimit = min(request.bodyLimit ?? limit, limit)
        }
        return .continue
    }

    /// What a deferred policy decided: `continue` takes the phase on from the next policy.
    static func resume(_ request: inout RequestContext, with decision: EdgeDecision) -> PhaseDecision {
        guard let decided = EdgeChecks.resume(decision, edits: &request.edgeEdits) else { return .continue }
        return phaseDecision(decided, &request)
    }

    private static func phaseDecision(_ decided: EdgeChecks.Stop, _ request: inout RequestContext) -> PhaseDecision {
        switch decided {
        case .refused(let refusal):
            request.record.refusedBy = refusal.detail
            return .answer(EdgeChecks.answer(refusal))
        case .deferred(let start):
            return .wait(start)
        }
    }
}

/// How a route's edge policies are asked, for both paths: in order, each that passes adding its edits,
/// until one refuses or needs time. Each guard is asked at most once per request, by one path.
enum EdgeChecks {
    enum Stop {
        case refused(EdgeRefusal)
        /// The guard at `next - 1` decides later; the request waits, then `resume` goes on from `next`.
        case deferred(@Sendable (_ resume: @escaping @Sendable (EdgeDecision) -> Void) -> Void)
    }

    /// The key route-keyed rate limits count under.
    static func routeKey(_ route: CompiledRoute) -> String {
        "\(route.origin.namespace)/\(route.origin.name)#\(route.origin.rule)"
    }

    /// Asks the guards from `next` on; nil when every one let the request through.
    static func run(_ guards: [any EdgeGuard], _ request: EdgeRequest, next: inout Int, edits: inout EdgeEdits) -> Stop? {
        while next < guards.count {
            let edgeGuard = guards[next]
            next += 1
            switch edgeGuard.check(request) {
            case .pass(let passed): edits.merge(passed)
            case .refuse(let refusal): return .refused(refusal)
            case .later(let start): return .deferred(start)
            }
        }
        return nil
    }

    /// A deferred guard's decision; nil when it let the request through (the next guard is asked).
    static func resume(_ decision: EdgeDecision, edits: inout EdgeEdits) -> Stop? {
        switch decision {
        case .pass(let passed):
            edits.merge(passed)
            return nil
        case .refuse(let refusal):
            return .refused(refusal)
        case .later:
            return .refused(EdgeRefusal(status: 500, message: "internal error", detail: "edge policy deferred its decision twice"))
        }
    }

    /// The client reads the policy's message; the access log gets which policy refused and why.
    static func answer(_ refusal: EdgeRefusal) -> LocalAnswer {
        LocalAnswer(HTTPResponseStatus(statusCode: refusal.status), refusal.message, headers: refusal.headers.map { ($0.name, $0.value) })
    }

    /// What the policies vouch for (user, client, claims), written after every other request filter
    /// so it cannot be forged upstream.
    static func apply<Fields: EditableFields>(_ edits: EdgeEdits, to fields: inout Fields) {
        for name in edits.removeHeaders { fields.remove(name: name) }
        for (name, _) in edits.setHeaders { fields.remove(name: name) }
        for (name, value) in edits.setHeaders { fields.add(name: name, value: value) }
    }
}

/// A request the connection holds while an edge policy decides, with the body parts that arrived
/// meanwhile.
final class ParkedRequest {
    var request: RequestContext
    var parts: [HTTPServerRequestPart] = []

    init(_ request: RequestContext) { self.request = request }
}
