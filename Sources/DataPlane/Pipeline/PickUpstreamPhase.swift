#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOHTTP1
import RoutingTable

/// What the route's action says: an answer of its own (a fixed status, a redirect) or a backendRef,
/// chosen by weight or by the client's session. A backendRef that cannot take the request is answered
/// here: 500 when it is invalid, 503 when its Service has no ready endpoint or its circuit breaker is
/// open. A request that goes on holds one of the breaker's maxRequests slots (the upstream attempt
/// gives it back).
enum PickUpstreamPhase {
    static func run(_ request: inout RequestContext, route: CompiledRoute, downstream: Downstream, loop: EventLoopContext) -> PhaseDecision {
        if let answer = ownAnswer(route, scheme: downstream.scheme, host: request.host, path: request.path, query: request.query,
                                  listenerPort: downstream.listenerPort) {
            return .answer(answer)
        }
        guard case .forward(let choice) = route.action else { preconditionFailure("every other action has its own answer") }
        let table = request.record.table
        let headers = request.head.headers
        let (index, sticky) = chooseTarget(choice, route: route, headerValues: { headers[$0] }, table: table, loop: loop)
        let picked = choice.targets[index]
        request.record.backend = index
        request.record.backendName = picked.name
        if let refusal = unusable(picked) { return .answer(refusal) }
        guard case .cluster(let cluster) = picked.target else { preconditionFailure("an invalid target is unusable") }
        let health = table.health(of: cluster)
        if let refusal = BackendGate.admit(health, cluster: cluster.id) { return .answer(refusal) }
        request.backend = ChosenBackend(choice: picked, cluster: cluster, health: health, sticky: sticky)
        return .continue
    }

    /// The route's own answer when its action is not a forward: a fixed status, or a redirect whose
    /// Location follows the spec's rules. The HTTP/1 fast lane answers with this too.
    static func ownAnswer(_ route: CompiledRoute, scheme: String, host: String, path: Substring, query: Substring?,
                          listenerPort: Int) -> LocalAnswer? {
        switch route.action {
        case .direct(let status, let reason):
            return LocalAnswer(HTTPResponseStatus(statusCode: status), reason)
        case .redirect(let redirect):
            let location = RedirectRules.location(redirect, requestScheme: scheme, host: host, path: path, query: query,
                                                  listenerPort: listenerPort, matchedPrefix: route.matchedPrefix)
            return LocalAnswer(HTTPResponseStatus(statusCode: redirect.statusCode), "redirecting to \(location)", headers: [("location", location)])
        case .forward:
            return nil
        }
    }

    /// A backendRef that can take no request at all: 500 when invalid, 503 when its Service has no
    /// ready endpoint. Shared with the fast lane.
    static func unusable(_ picked: CompiledRoute.Choice) -> LocalAnswer? {
        switch picked.target {
        case .invalid(let reason): LocalAnswer(.internalServerError, "backend \(picked.name) is invalid: \(reason)")
        case .cluster(let cluster) where cluster.endpoints.isEmpty: LocalAnswer(.serviceUnavailable, "Service \(cluster.id) has no ready endpoints")
        case .cluster: nil
        }
    }

    /// A live session keeps its endpoint whatever the weights say (a canary's users stay on the
    /// canary), while that endpoint is usable; everything else is a weighted pick, and the session then
    /// starts on whichever endpoint answers.
    /// `headerValues` gives every value of a request field (lower-case name): the general path reads
    /// them from HTTPHeaders, the fast lane from the scanned bytes.
    static func chooseTarget(_ choice: CompiledRoute.WeightedChoice, route: CompiledRoute, headerValues: (String) -> [String],
                             table: ServedTable, loop: EventLoopContext) -> (index: Int, sticky: StickyBinding?) {
        guard let session = route.session else { return (choice.pick(loop.nextRandom()), nil) }
        let presented = session.presentedToken(headerValues: headerValues(session.carrier == .cookie ? "cookie" : session.name.lowercased()))
        if let presented, let token = SessionToken(decoding: presented), session.isLive(token, nowMillis: StickyBinding.wallClockMillis()),
           let found = choice.locate(endpointKey: token.endpointKey), table.health(of: found.cluster)?.isUsable(found.endpoint) != false {
            return (found.target, StickyBinding(session: session, pinned: found.endpoint, createdMillis: token.createdMillis))
        }
        return (choice.pick(loop.nextRandom()), StickyBinding(session: session, pinned: nil, createdMillis: nil))
    }
}

/// A request on a route with sessionPersistence: the endpoint its session names, if it presented a
/// live one whose endpoint is still there, and when that session began.
struct StickyBinding {
    let session: StickySession
    /// nil for a new session, an expired one, or one whose endpoint has gone.
    let pinned: Endpoint?
    let createdMillis: UInt64?

    /// Wall-clock time, not monotonic: tokens are read by other replicas and after restarts.
    static func wallClockMillis() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
    }
}
