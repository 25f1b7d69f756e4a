import RoutingTable

/// The upstream side of one request as a state machine (async-http-client's way): events in
/// (connected, closed, a response head, a deadline, a back-off elapsed, the client gone), decisions
/// out, no sockets and no timers. Every rule about trying again lives here once, for the HTTP/1 fast
/// lane, the general path over HTTP/1 and HTTP/2, and gRPC: how many connects, when a request may be
/// sent again on a fresh connection, retries on status codes and timeouts with their back-off, what
/// a timeout answers, and when the circuit breaker's request slot is given back.
struct UpstreamTries {
    enum Phase: Equatable {
        /// A try is opening (or taking a pooled) connection.
        case connecting
        /// The request is on its way; no response byte has come back.
        case awaitingHead
        /// The response is going to the client: nothing can be tried again any more.
        case streaming
        /// Between a failed try and the next, waiting out the retry policy's back-off.
        case backingOff
        case over
    }

    /// Why the client gets a local answer instead of the backend's.
    enum Failure: Equatable {
        case cannotConnect
        case closedBeforeAnswer
        /// Every try the retry policy allowed was lost with its connection (reset, closed unanswered).
        case retriesExhausted
        case requestTimeout
        case backendTimeout
    }

    enum Deadline { case request, backend }

    enum Next: Equatable {
        case nothing
        /// Connect again, elsewhere when there is an elsewhere, on a fresh connection.
        case connectAgain
        /// The same request again, on a fresh connection: the pooled one it went out on was stale.
        case resend
        /// Give this try up (its connection is unfit) and try again after `backoffMillis` (0: now),
        /// a pooled connection allowed, with what the replay buffer kept.
        case retry(backoffMillis: Int)
        /// The back-off is over: connect, a pooled connection allowed.
        case connect
        /// Pass the response on to the client.
        case forwardResponse
        /// Before any response byte: answer the client locally.
        case fail(Failure)
        /// After the response started: cut the client connection, the only honest signal left.
        case cut
    }

    /// RFC 9110 §9.2.2.
    static let idempotentMethods: Set<String> = ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]

    let method: String
    let retry: RetryPolicy?
    let endpointCount: Int
    private(set) var phase = Phase.connecting
    /// Connects in the current try (a retry starts again from 0).
    private(set) var connectAttempts = 0
    private(set) var retries = 0
    private(set) var reusedConnection = false
    /// Some of the request body went out on the current try's connection.
    private(set) var bodySent = false
    /// Some response bytes came back on the current try's connection (a head not yet whole counts).
    private(set) var answered = false
    /// Everything sent so far can be sent again (the retry replay buffer still holds it).
    private(set) var replayable = true
    /// The circuit breaker's maxRequests slot the request holds until it is over.
    private var holdsRequestSlot: Bool

    init(method: String, retry: RetryPolicy?, endpointCount: Int, holdsRequestSlot: Bool = false) {
        self.method = method
        self.retry = retry.flatMap { $0.attempts > 0 ? $0 : nil }
        self.endpointCount = endpointCount
        self.holdsRequestSlot = holdsRequestSlot
    }

    var isOver: Bool { phase == .over }
    var responseStarted: Bool { phase == .streaming }
    private var retriesLeft: Int { (retry?.attempts ?? 0) - retries }

    /// A retry is possible while the policy has attempts left, nothing has reached the client and
    /// what was sent can be sent again.
    var mayRetry: Bool {
        retriesLeft > 0 && replayable && (phase == .connecting || phase == .awaitingHead)
    }

    /// The endpoint a session pins this try to: only the first try's first connect; a retry goes
    /// elsewhere, and the session follows it.
    func pinnedIndex(_ sticky: StickyBinding?, in endpoints: [Endpoint]) -> Int? {
        guard retries == 0, connectAttempts == 0, let pinned = sticky?.pinned else { return nil }
        return endpoints.firstIndex(of: pinned)
    }

    // MARK: Events

    /// A connect (or a pooled connection taken) for the current try.
    mutating func connecting() {
        guard !isOver else { return }
        connectAttempts += 1
        phase = .connecting
    }

    mutating func attached(reused: Bool) {
        guard !isOver else { return }
        reusedConnection = reused
        phase = .awaitingHead
    }

    mutating func sentBody() { bodySent = true }

    mutating func responseBytesArrived() { answered = true }

    /// The body outgrew the replay buffer: no retry can resend it.
    mutating func replayOverflowed() { replayable = false }

    /// At most three connects, and no more than one per endpoint plus one.
    mutating func connectFailed() -> Next {
        guard phase == .connecting else { return .nothing }
        return connectAttempts < min(3, endpointCount + 1) ? .connectAgain : fail(.cannotConnect)
    }

    /// Informational heads stay between archway and the backend and are not events here.
    mutating func responseHead(status: Int) -> Next {
        guard phase == .awaitingHead else { return .nothing }
        if let retry, retry.codes.contains(status), mayRetry { return startRetry() }
        phase = .streaming
        return .forwardResponse
    }

    /// The backend connection closed (or failed) under the current try.
    ///
    /// A retry policy with attempts left tries again, and the try counts: `attempts` bounds what the
    /// backend sees, whatever closed the connection (the route's owner asked for retries, so a
    /// non-idempotent request is tried again too). Without one, Pingora's rule: before any response
    /// byte, a *reused* keep-alive connection that fails was most likely closed by the backend while
    /// idle, so the request is sent once more on a fresh connection — but only on the first try and
    /// when a second copy can do no harm: an idempotent method whose body, if it has one, had not
    /// gone out, and at most three connects in all. Anything else might already have had its effect:
    /// the client gets a 502 (a 503 once a policy's tries are used up) rather than the backend
    /// getting the request again.
    mutating func connectionClosed() -> Next {
        switch phase {
        case .awaitingHead:
            if mayRetry { return startRetry() }
            if retries == 0, reusedConnection, !answered, !bodySent, connectAttempts < 3, Self.idempotentMethods.contains(method) { return .resend }
            return fail(retries > 0 ? .retriesExhausted : .closedBeforeAnswer)
        case .streaming:
            return cut()
        case .connecting, .backingOff, .over:
            return .nothing
        }
    }

    /// timeouts.request bounds the whole request; timeouts.backendRequest each try, which a retry
    /// policy may follow with another. A 504 before the response started; a cut after.
    mutating func deadlinePassed(_ deadline: Deadline) -> Next {
        switch phase {
        case .over:
            return .nothing
        case .streaming:
            return cut()
        case .backingOff where deadline == .backend:
            return .nothing  // the try it bounded is already given up
        case .connecting, .awaitingHead, .backingOff:
            if deadline == .backend, mayRetry { return startRetry() }
            return fail(deadline == .request ? .requestTimeout : .backendTimeout)
        }
    }

    mutating func backoffElapsed() -> Next {
        guard phase == .backingOff else { return .nothing }
        phase = .connecting
        return .connect
    }

    /// The response ended, or the backend switched protocols and the request became a tunnel.
    mutating func finished() { end() }

    /// The client left, or the gateway answered instead: whatever is pending (a connect, a
    /// back-off) is moot.
    mutating func abandoned() { end() }

    /// Whether the circuit breaker's request slot is to be given back now: once, when the request is
    /// over, however it ended.
    mutating func releasesRequestSlot() -> Bool {
        guard isOver, holdsRequestSlot else { return false }
        holdsRequestSlot = false
        return true
    }

    // MARK: Transitions

    private mutating func startRetry() -> Next {
        retries += 1
        connectAttempts = 0
        bodySent = false
        answered = false
        reusedConnection = false
        let backoff = retry?.backoffMillis ?? 0
        phase = backoff > 0 ? .backingOff : .connecting
        return .retry(backoffMillis: backoff)
    }

    private mutating func fail(_ failure: Failure) -> Next {
        end()
        return .fail(failure)
    }

    private mutating func cut() -> Next {
        end()
        return .cut
    }

    private mutating func end() { phase = .over }
}
