import NIOHTTP1
import RoutingTable

/// The route's edge policies (allow lists, rate limits, body size, API keys, basic auth, JWT, forward
/// auth), in the order the route lists them. Synchronous decisions cost nothing beyond the check; a
/// deferred one parks the request (`wait`) and `resume` takes it on from the policy that answered.
/// A policy that lets the request through may edit it on its way upstream (`EdgeEdits`).
enum EdgePolicyPhase {
    static func run(_ request: inout RequestContext, route: CompiledRoute, downstream: Downstream) -> PhaseDecision {
        let guards = request.record.table.edgeGuards(of: route)
        if request.nextEdgeGuard < guards.count {
            let headers = request.head.headers
            let origin = route.origin
            let edgeRequest = EdgeRequest(scheme: downstream.scheme, method: request.record.method, host: request.host, path: request.path,
                                          query: request.query, peerAddress: downstream.clientAddress,
                                          header: { headers.first(name: $0) }, headerValues: { headers[$0] },
                                          routeKey: "\(origin.namespace)/\(origin.name)#\(origin.rule)")
            while request.nextEdgeGuard < guards.count {
                let edgeGuard = guards[request.nextEdgeGuard]
                request.nextEdgeGuard += 1
                switch edgeGuard.check(edgeRequest) {
                case .pass(let edits): request.edgeEdits.merge(edits)
                case .refuse(let refusal): return refuse(&request, refusal)
                case .later(let start): return .wait(start)
                }
            }
        }
        if let limit = request.edgeEdits.maxRequestBody {
            request.bodyLimit = min(request.bodyLimit ?? limit, limit)
        }
        return .continue
    }

    /// What a deferred policy decided: `continue` takes the phase on from the next policy.
    static func resume(_ request: inout RequestContext, with decision: EdgeDecision) -> PhaseDecision {
        switch decision {
        case .pass(let edits):
            request.edgeEdits.merge(edits)
            return .continue
        case .refuse(let refusal):
            return refuse(&request, refusal)
        case .later:
            return refuse(&request, EdgeRefusal(status: 500, message: "internal error", detail: "edge policy deferred its decision twice"))
        }
    }

    /// The client reads the policy's message; the access log gets which policy refused and why.
    private static func refuse(_ request: inout RequestContext, _ refusal: EdgeRefusal) -> PhaseDecision {
        request.record.refusedBy = refusal.detail
        return .answer(LocalAnswer(HTTPResponseStatus(statusCode: refusal.status), refusal.message,
                                   headers: refusal.headers.map { ($0.name, $0.value) }))
    }
}

/// A request the connection holds while an edge policy decides, with the body parts that arrived
/// meanwhile.
final class ParkedRequest {
    var request: RequestContext
    var parts: [HTTPServerRequestPart] = []

    init(_ request: RequestContext) { self.request = request }
}
