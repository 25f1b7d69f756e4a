#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOHTTP1
import RoutingTable

/// A request on a route with sessionPersistence: the endpoint its session names, if it presented a
/// live one whose endpoint is still there, and when that session began.
struct StickyBinding {
    let session: StickySession
    /// nil for a new session, an expired one, or one whose endpoint has gone.
    let pinned: Endpoint?
    let createdMillis: UInt64?
}

extension ProxyHandler {
    /// The backendRef this request goes to. A live session keeps its endpoint whatever the weights
    /// say (a canary's users stay on the canary); everything else is a weighted pick, and the session
    /// then starts on whichever endpoint answers.
    func chooseTarget(_ choice: CompiledRoute.WeightedChoice, route: CompiledRoute, headers: HTTPHeaders) -> (index: Int, sticky: StickyBinding?) {
        guard let session = route.session else { return (choice.pick(loop.nextRandom()), nil) }
        let presented = session.presentedToken(headerValues: headers[session.carrier == .cookie ? "cookie" : session.name])
        if let presented, let token = SessionToken(decoding: presented), session.isLive(token, nowMillis: Self.wallClockMillis()),
           let found = choice.locate(endpointKey: token.endpointKey) {
            return (found.target, StickyBinding(session: session, pinned: found.endpoint, createdMillis: token.createdMillis))
        }
        return (choice.pick(loop.nextRandom()), StickyBinding(session: session, pinned: nil, createdMillis: nil))
    }

    /// The endpoint a session pins this try to: only the first try; a retry goes elsewhere, and the
    /// session follows it.
    func pinnedEndpointIndex(_ exchange: Exchange) -> Int? {
        guard exchange.retries == 0, exchange.connectAttempts == 0, let pinned = exchange.sticky?.pinned else { return nil }
        return exchange.cluster.endpoints.firstIndex(of: pinned)
    }

    /// The header that hands the client its session: when the session is new or has moved, and on
    /// every answer when an idle timeout needs its clock pushed on.
    func sessionHeader(for exchange: Exchange) -> (name: String, value: String)? {
        guard let sticky = exchange.sticky, let endpoint = exchange.lastEndpoint else { return nil }
        let stayed = sticky.pinned == endpoint
        guard !stayed || sticky.session.idleTimeoutMillis != nil else { return nil }
        let now = Self.wallClockMillis()
        let token = SessionToken(endpointKey: SessionToken.endpointKey(cluster: exchange.cluster.id, endpoint: endpoint),
                                 createdMillis: stayed ? sticky.createdMillis ?? now : now, lastSeenMillis: now)
        return sticky.session.responseHeader(token: token.encoded, secure: scheme == "https")
    }

    /// Wall-clock time, not monotonic: tokens are read by other replicas and after restarts.
    static func wallClockMillis() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
    }
}
