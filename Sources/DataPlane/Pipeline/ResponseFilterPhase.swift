import NIOHTTP1
import RoutingTable

/// The backend's response head as the client gets it: hop-by-hop fields gone, the route's then the
/// backendRef's ResponseHeaderModifier, the CORS filter's headers and the session the client is handed.
/// Keep-alive fields are the connection's to add.
enum ResponseFilterPhase {
    struct Filtered {
        var headers: HTTPHeaders
        /// grpc-status (and message) a backend sent in its response headers ("trailers-only"): sent on
        /// as trailers, because after the HTTP/1-shaped hop the headers and the end are separate frames.
        var grpcTrailers: HTTPHeaders?
    }

    /// `endpoint` is the one that answered; `secure` is whether the client came over TLS (session cookies).
    static func run(_ response: HTTPResponseHead, request: RequestContext, plan: ForwardPlan, endpoint: Endpoint?, secure: Bool) -> Filtered {
        var headers = response.headers
        HeaderRules.stripHopByHop(&headers)
        if let edits = plan.route.responseHeaders { HeaderRules.apply(edits, to: &headers) }
        if let edits = plan.backend.choice.responseHeaders { HeaderRules.apply(edits, to: &headers) }
        addClientFields(cors: request.corsHeaders,
                        session: sessionHeader(plan.backend.sticky, cluster: plan.backend.cluster.id, endpoint: endpoint, secure: secure),
                        to: &headers)
        let grpcTrailers = request.isGRPC ? HeaderRules.takeGRPCStatus(from: &headers) : nil
        return Filtered(headers: headers, grpcTrailers: grpcTrailers)
    }

    /// What the gateway itself adds for the client, after the header filters, on both paths: the CORS
    /// filter's headers (Vary added beside the backend's, the rest replaced) and the session (a cookie
    /// added beside the backend's own cookies, a header replaced).
    static func addClientFields<Fields: EditableFields>(cors: [(String, String)], session: (name: String, value: String)?, to fields: inout Fields) {
        for (name, value) in cors {
            if name == "vary" { fields.add(name: name, value: value) } else { fields.replaceOrAdd(name: name, value: value) }
        }
        if let session {
            if session.name == "set-cookie" { fields.add(name: session.name, value: session.value) } else { fields.replaceOrAdd(name: session.name, value: session.value) }
        }
    }

    /// The 101 that hands the connection to a tunnel: the backend's fields, the route's
    /// ResponseHeaderModifier, and the Upgrade the backend agreed to.
    static func switchingProtocols(_ response: HTTPResponseHead, plan: ForwardPlan) -> HTTPResponseHead {
        var headers = response.headers
        HeaderRules.stripHopByHop(&headers)
        headers.add(name: "connection", value: "upgrade")
        headers.add(name: "upgrade", value: response.headers.first(name: "upgrade") ?? plan.upgrade ?? "")
        if let edits = plan.route.responseHeaders { HeaderRules.apply(edits, to: &headers) }
        return HTTPResponseHead(version: .http1_1, status: .switchingProtocols, headers: headers)
    }

    /// The header that hands the client its session: when the session is new or has moved, and on
    /// every answer when an idle timeout needs its clock pushed on.
    static func sessionHeader(_ sticky: StickyBinding?, cluster: String, endpoint: Endpoint?, secure: Bool) -> (name: String, value: String)? {
        guard let sticky, let endpoint else { return nil }
        let stayed = sticky.pinned == endpoint
        guard !stayed || sticky.session.idleTimeoutMillis != nil else { return nil }
        let now = StickyBinding.wallClockMillis()
        let token = SessionToken(endpointKey: SessionToken.endpointKey(cluster: cluster, endpoint: endpoint),
                                 createdMillis: stayed ? sticky.createdMillis ?? now : now, lastSeenMillis: now)
        return sticky.session.responseHeader(token: token.encoded, secure: secure)
    }
}
