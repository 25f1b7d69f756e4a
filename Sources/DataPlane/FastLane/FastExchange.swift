import NIOCore
import RoutingTable

/// One request on the fast lane, from admission to the end of its response. Confined to the client
/// connection's event loop.
final class FastExchange {
    enum Response {
        case awaitingHead
        case streaming(BodyFraming)
    }

    let record: RequestRecord
    let cluster: CompiledCluster
    /// The cluster's BackendTrafficPolicy at work, when it has one.
    let gate: BackendGate?
    /// The client's session, on a route with sessionPersistence.
    let sticky: StickyBinding?
    /// The CORS filter's headers for an allowed origin.
    let corsHeaders: [(String, String)]
    /// The request head as the backend gets it; kept for one retry on a fresh connection.
    let request: ByteBuffer
    /// The request body, followed as the client sends it.
    var requestBody: BodyFollower
    /// `Expect: 100-continue` not yet answered: the 100 goes out when a backend connection is attached.
    var owesContinue = false
    /// The request body limit (global, or a BodySize policy's); crossing it is answered as the general path does.
    var bodyLimit: Int?
    /// Body bytes read from the client before a backend connection could take them.
    var pendingBody: ByteBuffer?
    let isHEAD: Bool
    /// The client connection stays open after this response.
    var keepAlive: Bool
    /// ResponseHeaderModifier filters, the route's then the backendRef's (the general path's order).
    let responseEdits: [HeaderEdits]
    /// timeouts.request (from admission) and timeouts.backendRequest (from each connect), watched by
    /// the connection's one timer.
    var requestDeadline: NIODeadline?
    var tryDeadline: NIODeadline?

    /// Fire-and-forget copies for the route's RequestMirror filters.
    var mirrors: [LaneMirror] = []
    var upstream: RawUpstreamConnection?
    var endpoint: Endpoint?
    var tryStart: NIODeadline?
    /// Every decision about trying again and timing out, the general path's own rules.
    var tries: UpstreamTries
    /// With a retry policy, the body bytes sent so far, kept while a retry could need them (nil
    /// once they outgrow the replay limit, which then rules retries out).
    var replay: ByteBuffer?
    /// The wait before a retry; cancelled with the exchange.
    var backoff: Scheduled<Void>?
    /// The start of a response head that has not all arrived.
    var heldResponse: ByteBuffer?
    private(set) var response = Response.awaitingHead
    var status = 0
    /// The backend connection may serve another request: it said so, and sent no byte past the response.
    var upstreamReusable = true
    var bodyBytesSent = 0
    private var responseBody = BodyFollower(.none)

    init(record: RequestRecord, cluster: CompiledCluster, gate: BackendGate?, sticky: StickyBinding?, corsHeaders: [(String, String)],
         request: ByteBuffer, requestBody: BodyFraming, isHEAD: Bool, keepAlive: Bool,
         responseEdits: [HeaderEdits]) {
        self.record = record
        self.cluster = cluster
        self.gate = gate
        self.sticky = sticky
        self.corsHeaders = corsHeaders
        self.request = request
        self.requestBody = BodyFollower(requestBody)
        tries = UpstreamTries(method: record.method, retry: record.route?.retry, endpointCount: cluster.endpoints.count,
                              holdsRequestSlot: gate != nil)
        if tries.retry != nil { replay = ByteBuffer() }
        self.isHEAD = isHEAD
        self.keepAlive = keepAlive
        self.responseEdits = responseEdits
    }

    /// The earlier deadline still ahead of the exchange, if any.
    var nextDeadline: NIODeadline? {
        switch (requestDeadline, tryDeadline) {
        case (let request?, let attempt?): min(request, attempt)
        case (let request?, nil): request
        case (nil, let attempt?): attempt
        case (nil, nil): nil
        }
    }

    /// The exchange is over, however it ended: a pending back-off is moot and the breaker's request
    /// slot goes back.
    func over() {
        tries.abandoned()
        backoff?.cancel()
        if tries.releasesRequestSlot() { gate?.health.releaseRequest() }
    }

    /// Body bytes on their way to the backend: counted as sent, and kept for a retry while they fit.
    func sending(_ body: ByteBuffer) {
        tries.sentBody()
        guard replay != nil else { return }
        if replay!.readableBytes + body.readableBytes > UpstreamAttempt.replayLimit {
            replay = nil
            tries.replayOverflowed()
        } else {
            var body = body
            replay!.writeBuffer(&body)
        }
    }

    /// Closes the backend connection (its state is unknown, or it fell out of step) and lets go of it.
    func dropUpstream() {
        upstream?.user = nil
        upstream?.close()
        upstream = nil
    }

    func startBody(_ framing: BodyFraming) {
        response = .streaming(framing)
        responseBody = BodyFollower(framing)
    }

    /// The part of `buffer` that belongs to the response body, and whether the body ends in it; nil
    /// when a chunked body is malformed. Bytes past the end mark the connection out of step.
    func take(_ buffer: ByteBuffer) -> (ByteBuffer?, ended: Bool) {
        guard case .streaming = response, let (body, rest) = responseBody.split(buffer) else { return (nil, false) }
        if rest != nil { upstreamReusable = false }
        return (body, responseBody.ended)
    }
}
