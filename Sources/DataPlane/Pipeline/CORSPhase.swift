import NIOHTTP1
import RoutingTable

/// The route's CORS filter. It comes before the edge policies: a browser's preflight carries no
/// credentials, so it is answered here, and a request from an origin the route allows gets the
/// Access-Control-* headers on its response.
enum CORSPhase {
    static func run(_ request: inout RequestContext, route: CompiledRoute) -> PhaseDecision {
        let headers = request.head.headers
        switch decide(route.cors, method: request.head.method.rawValue, field: { headers.first(name: $0) }) {
        case .answer(let answer): return .answer(answer)
        case .responseHeaders(let cors): request.corsHeaders = cors
        case .nothing: break
        }
        return .continue
    }

    enum Outcome {
        case nothing
        case answer(LocalAnswer)
        /// Added to the backend's response (`ResponseFilterPhase.addClientFields`).
        case responseHeaders([(String, String)])
    }

    /// The rule itself, for the general path and the fast lane: `field` reads a request field by its
    /// lower-case name.
    static func decide(_ cors: CORSPolicy?, method: String, field: (String) -> String?) -> Outcome {
        guard let cors, let origin = field("origin") else { return .nothing }
        let preflight = method == "OPTIONS" ? field("access-control-request-method") : nil
        if !cors.allows(origin: origin) {
            // A browser would refuse the answer anyway; saying so here is clearer than a backend 405.
            return preflight != nil ? .answer(LocalAnswer(.forbidden, "CORS: origin \(origin) is not allowed on this route")) : .nothing
        }
        if let preflight {
            let allowed = cors.preflightHeaders(origin: origin, requestedMethod: preflight, requestedHeaders: field("access-control-request-headers"))
            return .answer(LocalAnswer(.ok, "CORS preflight allowed", headers: allowed))
        }
        return .responseHeaders(cors.responseHeaders(origin: origin))
    }
}
