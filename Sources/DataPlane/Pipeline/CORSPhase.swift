import NIOHTTP1
import RoutingTable

/// The route's CORS filter. It comes before the edge policies: a browser's preflight carries no
/// credentials, so it is answered here, and a request from an origin the route allows gets the
/// Access-Control-* headers on its response.
enum CORSPhase {
    static func run(_ request: inout RequestContext, route: CompiledRoute) -> PhaseDecision {
        let headers = request.head.headers
        guard let cors = route.cors, let origin = headers.first(name: "origin") else { return .continue }
        let preflight = request.head.method == .OPTIONS ? headers.first(name: "access-control-request-method") : nil
        if !cors.allows(origin: origin) {
            // A browser would refuse the answer anyway; saying so here is clearer than a backend 405.
            if preflight != nil { return .answer(LocalAnswer(.forbidden, "CORS: origin \(origin) is not allowed on this route")) }
        } else if let preflight {
            let allowed = cors.preflightHeaders(origin: origin, requestedMethod: preflight,
                                                requestedHeaders: headers.first(name: "access-control-request-headers"))
            return .answer(LocalAnswer(.ok, "CORS preflight allowed", headers: allowed))
        } else {
            request.corsHeaders = cors.responseHeaders(origin: origin)
        }
        return .continue
    }
}
