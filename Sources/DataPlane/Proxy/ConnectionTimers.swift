import NIOCore

/// An HTTP/1 connection's guard against slow and idle clients, as one cheap periodic check per
/// connection rather than a timer per request: a request head not complete within the header timeout
/// of its first byte gets a 408, and a connection that waited for a request longer than allowed (the
/// header timeout before the first request, the idle timeout between requests) is closed.
struct ConnectionTimers {
    enum Verdict {
        case fine
        case headTooSlow(startedAt: NIODeadline)
        case idleTooLong
    }

    let limits: ClientLimits
    /// How often the connection is checked: a tenth of the shortest timeout, within 50 ms...1 s.
    let checkInterval: TimeAmount
    /// When the connection started waiting for its next request head, and when bytes of that head
    /// first arrived (nil until they do).
    private var waitingSince = NIODeadline.now()
    private var headStartedAt: NIODeadline?
    private var headSeenInThisRead = false
    private var requestsSeen = 0

    init(limits: ClientLimits) {
        self.limits = limits
        let shortest = min(limits.headerTimeout, limits.idleTimeout)
        checkInterval = .nanoseconds(min(max(shortest.nanoseconds / 10, 50_000_000), 1_000_000_000))
    }

    mutating func connectionStarted() { waitingSince = .now() }

    mutating func headRead() { headSeenInThisRead = true }

    /// A read ended. Bytes that did not complete a head mean the next request has started arriving.
    mutating func readCompleted(awaitingHead: Bool) {
        if !headSeenInThisRead, headStartedAt == nil, awaitingHead { headStartedAt = .now() }
        headSeenInThisRead = false
    }

    mutating func requestStarted() {
        headStartedAt = nil
        requestsSeen += 1
    }

    /// A request was answered (here or by the fast lane): the wait for the next one starts.
    mutating func answered(countingRequest: Bool = false) {
        if countingRequest { requestsSeen += 1 }
        waitingSince = .now()
    }

    /// Only meaningful while the connection awaits a request head.
    func check(now: NIODeadline) -> Verdict {
        if let started = headStartedAt, now - started >= limits.headerTimeout { return .headTooSlow(startedAt: started) }
        if headStartedAt == nil, now - waitingSince >= (requestsSeen == 0 ? limits.headerTimeout : limits.idleTimeout) { return .idleTooLong }
        return .fine
    }
}
