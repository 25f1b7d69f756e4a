import NIOHTTP1
import RoutingTable
import Tracing

/// The request as the backend sees it: hop-by-hop fields gone and framing explicit, X-Forwarded-*,
/// Forwarded, X-Request-Id and traceparent set, then the route's and the backendRef's
/// RequestHeaderModifier, what the edge policies vouch for, and the URLRewrite. Always forwards.
enum RequestFilterPhase {
    static func run(_ request: RequestContext, route: CompiledRoute, backend: ChosenBackend, downstream: Downstream,
                    loop: EventLoopContext) -> PhaseDecision {
        let head = upstreamHead(request, route: route, choice: backend.choice, http2: backend.cluster.http2, downstream: downstream) { headers in
            if let span = request.record.span, let tracing = loop.tracing {
                tracing.inject(span, into: &headers)
            } else {
                let traceparent = RequestIdentity.traceparent(request.head.headers, loop: loop)
                if request.head.headers.contains(name: "traceparent") { headers.replaceOrAdd(name: "traceparent", value: traceparent) } else { headers.add(name: "traceparent", value: traceparent) }
            }
        }
        return .forward(ForwardPlan(route: route, backend: backend, head: head, owesContinue: request.expectsContinue,
                                    upgrade: forwardedUpgrade(request)))
    }

    /// h2c upgrades are not forwarded: the backend connection is archway's to choose.
    static func forwardedUpgrade(_ request: RequestContext) -> String? {
        request.upgrade.flatMap { $0.lowercased() == "h2c" ? nil : $0 }
    }

    /// The request head the backend receives, for the proxy and for `archway explain` alike;
    /// `stampTrace` sets traceparent (the proxy's span, or a new one), after X-Request-Id.
    static func upstreamHead(_ request: RequestContext, route: CompiledRoute, choice: CompiledRoute.Choice, http2: Bool,
                             downstream: Downstream, stampTrace: (inout HTTPHeaders) -> Void) -> HTTPRequestHead {
        let head = request.head
        var headers = head.headers
        let chunked = headers["transfer-encoding"].contains { $0.containsToken("chunked") }
        let wantsTrailers = headers["te"].contains { $0.containsToken("trailers") }
        HeaderRules.stripHopByHop(&headers)
        // `TE: trailers` is the one TE HTTP/2 allows, and gRPC servers expect it.
        if http2 && wantsTrailers { headers.add(name: "te", value: "trailers") }
        if let upgrade = forwardedUpgrade(request) {
            // Upgrade is hop-by-hop, so it is asked for again on the backend hop.
            headers.add(name: "connection", value: "upgrade")
            headers.add(name: "upgrade", value: upgrade)
        }
        if chunked && !headers.contains(name: "content-length") {
            headers.add(name: "transfer-encoding", value: "chunked")
        }
        // archway answers `Expect: 100-continue` itself once a backend is connected.
        if request.expectsContinue { headers.remove(name: "expect") }

        let originalHost = head.headers.first(name: "host") ?? ""
        ForwardedHeaders.add(to: &headers, client: downstream.clientAddress, node: downstream.forwardedNode, host: originalHost,
                             proto: downstream.scheme)
        // Set without replaceOrAdd's remove pass when the client sent none (the usual case); the
        // client's own X-Request-Id, when kept, is already there.
        let requestID = request.record.requestID
        if let sent = head.headers.first(name: "x-request-id") {
            if sent != requestID { headers.replaceOrAdd(name: "x-request-id", value: requestID) }
        } else {
            headers.add(name: "x-request-id", value: requestID)
        }
        stampTrace(&headers)
        if let edits = route.requestHeaders { HeaderRules.apply(edits, to: &headers) }
        if let edits = choice.requestHeaders { HeaderRules.apply(edits, to: &headers) }
        // Last, so what an auth policy vouches for (user, client, claims) cannot be forged upstream.
        EdgeChecks.apply(request.edgeEdits, to: &headers)

        var newPath = String(request.path)
        if let hostRewrite = route.hostRewrite { HeaderRules.apply(hostRewrite, to: &headers) }
        if let rewrite = route.rewrite {
            if let pathRewrite = rewrite.path {
                newPath = PathRules.rewrite(request.path, with: pathRewrite, matchedPrefix: route.matchedPrefix)
            }
        }
        let uri = request.query.map { newPath + "?" + $0 } ?? newPath
        return HTTPRequestHead(version: .http1_1, method: head.method, uri: uri, headers: headers)
    }
}
