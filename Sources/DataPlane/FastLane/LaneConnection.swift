import NIOCore

/// The connection's own concerns while the lane is its only handler: which protocol a cleartext
/// connection speaks, the header and idle timeouts, drain and the active-connections gauge. The
/// rules are `ConnectionTimers`' and `Downstream`'s, shared with `ProxyHandler`, which takes the
/// state over if the lane leaves.
extension FastLaneHandler: NIOScheduledCallbackHandler {
    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // Added once ALPN has chosen HTTP/1.1: the connection is active and its protocol known.
        if !sniffing, context.channel.isActive { becameHTTP1(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        timer.cancel(on: loop.eventLoop)
    }

    /// Added at accept: a client that connects and says nothing is closed after the header timeout.
    func channelActive(context: ChannelHandlerContext) {
        guardConnection()
        context.fireChannelActive()
    }

    /// The first bytes of a cleartext connection: the HTTP/2 connection preface (prior-knowledge h2c,
    /// RFC 9113 §3.3) hands the connection to HTTP/2 and the lane steps out; anything else makes it
    /// HTTP/1 here. False while what came is a shorter part of the preface (the wait goes on, still
    /// under the header timeout since accept), or when the lane has left.
    func protocolChosen(context: ChannelHandlerContext) -> Bool {
        guard let bytes = inbound, let isHTTP2 = HTTP2Preface.matches(bytes) else { return false }
        guard isHTTP2 else {
            becameHTTP1(context: context)
            return true
        }
        inbound = nil
        sniffing = false
        do {
            try setup.configureHTTP2(context.channel, scheme: "http")
        } catch {
            context.fireErrorCaught(error)
            context.close(promise: nil)
            return false
        }
        context.fireChannelRead(wrapInboundOut(bytes))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        return false
    }

    /// From here the connection counts as an open HTTP/1 connection, as it did when `ProxyHandler`
    /// was built at this point for every connection.
    func becameHTTP1(context: ChannelHandlerContext) {
        sniffing = false
        downstream.identify(context.channel)
        counted = true
        loop.metrics.gauges.activeConnections.increment()
        timers.connectionStarted()
        guardConnection()
    }

    /// Makes sure the timer fires by the end of the wait for the next request head. A timer already
    /// due earlier is kept (it re-arms when it fires); busy, the exchange's own deadlines apply.
    func guardConnection() {
        guard let context, exchange == nil, deciding == nil, !closing else { return }
        timer.arm(at: timers.deadline, on: context.eventLoop, handler: self)
    }

    func handleScheduledCallback(eventLoop: some EventLoop) { timerFired() }

    /// No exchange when the timer fired: the wait for a head may have run out. The lane never holds
    /// part of a head (it leaves for the general path, which answers a slow one 408), so what is
    /// overdue here is a silent new connection or an idle keep-alive one: closed, without an answer.
    func waitRanOut() {
        guard let context, deciding == nil, !closing else { return }
        guard case .fine = timers.check(now: .now()) else { return context.close(promise: nil) }
        guardConnection()
    }

    /// Draining: the answer in flight (or the request a policy is deciding on) goes out with
    /// `connection: close`; an idle connection (or one that has not said anything yet) closes now.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else { return context.fireUserInboundEventTriggered(event) }
        quiescing = true
        if exchange == nil, deciding == nil { context.close(promise: nil) }
    }

    func connectionClosed() {
        timer.cancel(on: loop.eventLoop)
        if counted { loop.metrics.gauges.activeConnections.decrement() }
        counted = false
    }
}
