@testable import DataPlane
import RoutingTable
import Testing

/// The upstream state machine without sockets: every decision a request's way to a backend can take,
/// event by event, as the fast lane and the general path both carry them out.
@Suite struct UpstreamTriesTests {
    static func tries(_ method: String = "GET", retry: RetryPolicy? = nil, endpoints: Int = 2, slot: Bool = false) -> UpstreamTries {
        var tries = UpstreamTries(method: method, retry: retry, endpointCount: endpoints, holdsRequestSlot: slot)
        tries.connecting()
        return tries
    }

    @Test func aStalePooledConnectionIsResentOnlyWhenASecondCopyCanDoNoHarm() {
        // Idempotent, reused, nothing answered, no body out: once more on a fresh connection.
        var get = Self.tries("GET")
        get.attached(reused: true)
        #expect(get.connectionClosed() == .resend)
        // A POST might have had its effect: 502, never a second POST.
        var post = Self.tries("POST")
        post.attached(reused: true)
        #expect(post.connectionClosed() == .fail(.closedBeforeAnswer) && post.isOver)
        // A PUT whose body went out, a GET that was partly answered, a fresh connection: the same.
        var put = Self.tries("PUT")
        put.attached(reused: true)
        put.sentBody()
        #expect(put.connectionClosed() == .fail(.closedBeforeAnswer))
        var answered = Self.tries("GET")
        answered.attached(reused: true)
        answered.responseBytesArrived()
        #expect(answered.connectionClosed() == .fail(.closedBeforeAnswer))
        var fresh = Self.tries("GET")
        fresh.attached(reused: false)
        #expect(fresh.connectionClosed() == .fail(.closedBeforeAnswer))
    }

    @Test func resendsStopAtThreeConnects() {
        var tries = Self.tries("GET")
        var decisions: [UpstreamTries.Next] = []
        for _ in 0..<4 where !tries.isOver {
            tries.attached(reused: true)
            let next = tries.connectionClosed()
            decisions.append(next)
            if next == .resend { tries.connecting() }
        }
        #expect(decisions == [.resend, .resend, .fail(.closedBeforeAnswer)])
    }

    /// HTTPRouteRetryConnectionError: with `attempts: 3` the backend sees at most four tries, warm
    /// pooled connections or not (a stale-connection resend would otherwise come on top), and a
    /// budget spent on resets answers 503.
    @Test func aRetryPolicyCountsEveryTryLostWithItsConnection() {
        var tries = Self.tries("GET", retry: RetryPolicy(codes: [], attempts: 3, backoffMillis: 25))
        var seen = 0
        var decisions: [UpstreamTries.Next] = []
        while !tries.isOver {
            tries.attached(reused: true)
            seen += 1
            let next = tries.connectionClosed()
            decisions.append(next)
            if case .retry = next { _ = tries.backoffElapsed(); tries.connecting() }
        }
        #expect(seen == 4)
        #expect(decisions == [.retry(backoffMillis: 25), .retry(backoffMillis: 25), .retry(backoffMillis: 25), .fail(.retriesExhausted)])
        // Once a retry has been made, a stale connection is not resent for free either.
        var late = Self.tries("GET", retry: RetryPolicy(codes: [500], attempts: 1, backoffMillis: 0))
        late.attached(reused: false)
        #expect(late.responseHead(status: 500) == .retry(backoffMillis: 0))
        late.connecting()
        late.attached(reused: true)
        #expect(late.connectionClosed() == .fail(.retriesExhausted))
    }

    @Test func connectFailuresTryOnePerEndpointPlusOneAndAtMostThree() {
        func connects(endpoints: Int) -> Int {
            var tries = Self.tries(endpoints: endpoints)
            while tries.connectFailed() == .connectAgain { tries.connecting() }
            #expect(tries.isOver)
            return tries.connectAttempts
        }
        #expect(connects(endpoints: 1) == 2)
        #expect(connects(endpoints: 2) == 3)
        #expect(connects(endpoints: 9) == 3)
    }

    @Test func aRetryPolicyRetriesItsCodesAfterItsBackoffThenForwards() {
        var tries = Self.tries(retry: RetryPolicy(codes: [503], attempts: 2, backoffMillis: 25))
        tries.attached(reused: false)
        #expect(tries.responseHead(status: 503) == .retry(backoffMillis: 25) && tries.phase == .backingOff)
        #expect(tries.connectAttempts == 0 && tries.retries == 1)
        #expect(tries.backoffElapsed() == .connect)
        tries.connecting()
        tries.attached(reused: true)
        #expect(tries.responseHead(status: 500) == .forwardResponse, "500 is not among the policy's codes")
        #expect(tries.responseStarted && !tries.mayRetry)
        #expect(tries.connectionClosed() == .cut, "after the response started only a cut is left")
    }

    @Test func retriesEndWhenAttemptsRunOutOrTheBodyCannotBeReplayed() {
        var tries = Self.tries(retry: RetryPolicy(codes: [502], attempts: 1, backoffMillis: 0))
        tries.attached(reused: false)
        #expect(tries.responseHead(status: 502) == .retry(backoffMillis: 0) && tries.phase == .connecting)
        tries.connecting()
        tries.attached(reused: false)
        #expect(tries.responseHead(status: 502) == .forwardResponse, "the last answer goes to the client")

        var big = Self.tries("POST", retry: RetryPolicy(codes: [502], attempts: 3, backoffMillis: 0))
        big.attached(reused: false)
        big.sentBody()
        big.replayOverflowed()
        #expect(big.responseHead(status: 502) == .forwardResponse)
        // A POST whose connection dies unanswered is retried when the route's owner asked for it.
        var post = Self.tries("POST", retry: RetryPolicy(codes: [502], attempts: 1, backoffMillis: 0))
        post.attached(reused: true)
        post.sentBody()
        #expect(post.connectionClosed() == .retry(backoffMillis: 0) && !post.bodySent)
    }

    @Test func timeoutsAnswer504BeforeTheResponseAndCutAfter() {
        var request = Self.tries()
        request.attached(reused: false)
        #expect(request.deadlinePassed(.request) == .fail(.requestTimeout) && request.isOver)
        #expect(request.deadlinePassed(.backend) == .nothing, "a late timer finds the request over")

        var backend = Self.tries(retry: RetryPolicy(codes: [], attempts: 1, backoffMillis: 10))
        backend.attached(reused: false)
        #expect(backend.deadlinePassed(.backend) == .retry(backoffMillis: 10), "a try that times out may be retried")
        #expect(backend.deadlinePassed(.backend) == .nothing, "the try it bounded is already given up")
        #expect(backend.deadlinePassed(.request) == .fail(.requestTimeout), "the whole request's limit still holds during a back-off")

        var streaming = Self.tries()
        streaming.attached(reused: false)
        #expect(streaming.responseHead(status: 200) == .forwardResponse)
        #expect(streaming.deadlinePassed(.backend) == .cut)
    }

    @Test func aClientLeavingDuringBackoffEndsTheRequestAndGivesItsSlotBackOnce() {
        var tries = Self.tries(retry: RetryPolicy(codes: [503], attempts: 2, backoffMillis: 1000), slot: true)
        tries.attached(reused: false)
        #expect(tries.responseHead(status: 503) == .retry(backoffMillis: 1000))
        let whileBackingOff = tries.releasesRequestSlot()
        #expect(!whileBackingOff, "the slot is held while the request goes on")
        tries.abandoned()
        let whenGone = tries.releasesRequestSlot(), again = tries.releasesRequestSlot()
        #expect(whenGone && !again, "given back once, when the client left")
        #expect(tries.backoffElapsed() == .nothing, "the back-off ending later starts nothing")
        #expect(tries.connectionClosed() == .nothing && tries.connectFailed() == .nothing)
    }
}
