import RoutingTable
import NIOCore
import NIOHTTP1
import Observability

/// One proxied request: what was asked, where it goes, and how far each side has got.
/// Confined to the downstream connection's event loop.
final class Exchange {
    let requestHead: HTTPRequestHead
    let upstreamHead: HTTPRequestHead
    let route: CompiledRoute
    let cluster: CompiledCluster
    let record: RequestRecord
    /// The client sent `Expect: 100-continue`; archway answers it once a backend is connected.
    var owesContinue: Bool
    /// The protocol of an HTTP/1.1 Upgrade (e.g. "websocket") asked for and forwarded to the backend.
    let upgrade: String?

    var connection: UpstreamConnection?
    var reusedConnection = false
    var connectAttempts = 0
    /// Parts received from the client before the backend connection was ready.
    var pending: [HTTPClientRequestPart] = []
    var requestEnded = false
    var bodyForwarded = false
    var responseStarted = false
    var responseKeepAlive = true
    var status = 0
    /// grpc-status (and message) that a backend sent in its response headers ("trailers-only"): sent on
    /// as trailers, because after the HTTP/1-shaped hop the headers and the end are separate frames.
    var grpcTrailers: HTTPHeaders?
    /// Access-Control-* headers the route's CORS filter adds to the response.
    var corsHeaders: [(String, String)] = []
    /// The chosen backendRef's ResponseHeaderModifier.
    var backendResponseHeaders: HeaderEdits?
    /// The request's session, on routes with sessionPersistence.
    var sticky: StickyBinding?

    /// timeouts.request (from the request's start) and timeouts.backendRequest (from each try's start).
    var requestTimer: Scheduled<Void>?
    var tryTimer: Scheduled<Void>?
    /// The wait before a retry: cancelled with the exchange, so a client that leaves meanwhile gives its
    /// circuit-breaker slot back at once rather than when the wait would have ended.
    var backoffTimer: Scheduled<Void>?
    /// Retries the route's retry policy still allows.
    var retriesLeft = 0
    /// The request's body and end as sent so far, kept while a retry could need them; nil once the
    /// body outgrew the replay buffer (no retry is possible after that).
    var replay: [HTTPClientRequestPart]?
    private var replayBytes = 0
    static let replayLimit = 64 * 1024
    var lastEndpoint: Endpoint?
    /// When the current try began (its connect), and how many retries came before it.
    var tryStart: NIODeadline?
    var retries = 0
    var mirrors: [MirrorRequest] = []
    /// The circuit breaker's maxRequests slot this request holds; given back when the exchange ends.
    var requestSlot: ClusterHealth?

    deinit { requestSlot?.releaseRequest() }

    func remember(_ part: HTTPClientRequestPart) {
        guard replay != nil else { return }
        if case .body(.byteBuffer(let buffer)) = part { replayBytes += buffer.readableBytes }
        if replayBytes > Self.replayLimit { replay = nil } else { replay!.append(part) }
    }

    /// Detaches and closes the backend connection of the current try, if any: its state (a response
    /// half read, a request half sent) makes it unfit for the pool.
    func dropConnection() {
        guard let connection else { return }
        self.connection = nil
        connection.handler.exchange = nil
        connection.channel.close(promise: nil)
    }

    func cancelTimers() {
        requestTimer?.cancel()
        tryTimer?.cancel()
        backoffTimer?.cancel()
        requestTimer = nil
        tryTimer = nil
        backoffTimer = nil
    }

    init(requestHead: HTTPRequestHead, upstreamHead: HTTPRequestHead, route: CompiledRoute, cluster: CompiledCluster,
         record: RequestRecord, owesContinue: Bool, upgrade: String?) {
        self.upgrade = upgrade
        self.requestHead = requestHead
        self.upstreamHead = upstreamHead
        self.route = route
        self.cluster = cluster
        self.record = record
        self.owesContinue = owesContinue
    }

    /// Whether a failure of this exchange's connection may be answered by sending it again: see
    /// `ConnectTries.mayResendAfterStaleClose`, the rule the fast lane follows too.
    var mayResendAfterStaleClose: Bool {
        ConnectTries.mayResendAfterStaleClose(method: requestHead.method.rawValue, reusedConnection: reusedConnection,
                                              answered: responseStarted, bodySent: bodyForwarded, connectAttempts: connectAttempts)
    }
}
