import NIOCore

/// An HTTP/1 connection's guard against slow and idle clients, the one set of rules for the fast
/// lane and the general path: a request head not complete within the header timeout of its first
/// byte gets a 408, and a connection that waited for a request longer than allowed (the header
/// timeout before the first request, the idle timeout between requests) is closed. The lane hands
/// its `ConnectionTimers` to `ProxyHandler` when it leaves, so the wait goes on where it stood.
struct ConnectionTimers {
    enum Verdict {
        case fine
        case headTooSlow(startedAt: NIODeadline)
        case idleTooLong
    }

    /// Only the two timeouts, not all of `ClientLimits`: this lives in every connection's handler.
    let headerTimeout: TimeAmount
    let idleTimeout: TimeAmount
    /// When the connection started waiting for its next request head, and when bytes of that head
    /// first arrived (nil until they do).
    private var waitingSince = NIODeadline.now()
    private var headStartedAt: NIODeadline?
    private var headSeenInThisRead = false
    private var requestsSeen = 0

    init(limits: ClientLimits) {
        headerTimeout = limits.headerTimeout
        idleTimeout = limits.idleTimeout
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

    /// When the current wait for a head runs out. Only meaningful while the connection awaits one.
    var deadline: NIODeadline {
        if let started = headStartedAt { return started + headerTimeout }
        return waitingSince + (requestsSeen == 0 ? headerTimeout : idleTimeout)
    }

    /// Only meaningful while the connection awaits a request head.
    func check(now: NIODeadline) -> Verdict {
        guard now >= deadline else { return .fine }
        if let started = headStartedAt { return .headTooSlow(startedAt: started) }
        return .idleTooLong
    }
}

/// A connection's one timer, for every deadline it has (the wait for a head, an exchange's
/// `timeouts:`). It is moved only when something must happen earlier than it fires; when it fires
/// early its owner checks and re-arms for whatever is due then. So a busy keep-alive connection
/// schedules about one callback per timeout period, never one (plus a cancel) per request, and
/// nothing repeats on a connection that has nothing due. A scheduled callback, not a task: the
/// owning handler is the callback, so arming it allocates nothing (no promise, no closure).
struct ConnectionDeadline {
    /// On NIO's own event loops a callback is cancelled by its id: 8 bytes kept in every connection
    /// rather than the 70 of an `NIOScheduledCallback`. Other loops' callbacks are kept whole, boxed.
    private var id: UInt64 = 0
    private var other: Other?
    private(set) var at: NIODeadline?

    private final class Other {
        let callback: NIOScheduledCallback
        init(_ callback: NIOScheduledCallback) { self.callback = callback }
    }

    /// Makes sure `handler` is called back no later than `deadline`.
    mutating func arm(at deadline: NIODeadline, on eventLoop: any EventLoop, handler: some NIOScheduledCallbackHandler) {
        if let at, at <= deadline { return }
        cancel(on: eventLoop)
        // Fails only while the event loop shuts down, which closes the connection anyway.
        guard let callback = try? eventLoop.assumeIsolated().scheduleCallback(at: deadline, handler: handler) else { return }
        at = deadline
        if let id = callback.customCallbackID { self.id = id } else { other = Other(callback) }
    }

    /// The callback ran: nothing is scheduled any more.
    mutating func fired() {
        at = nil
        other = nil
    }

    /// A connection that closes cancels its timer, or the event loop would hold the handler until then.
    mutating func cancel(on eventLoop: any EventLoop) {
        guard at != nil else { return }
        if let other { other.callback.cancel() } else { NIOScheduledCallback(eventLoop, id: id).cancel() }
        fired()
    }
}
