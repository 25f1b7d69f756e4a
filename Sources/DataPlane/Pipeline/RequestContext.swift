import NIOCore
import NIOHTTP1
import RoutingTable

/// One request on the general path, from its head to its log line: what the client asked, what the
/// phases found out and decided, and what it has cost so far (Pingora's `CTX`). Made when the head
/// arrives and handed from phase to phase, then to the upstream attempt; nothing in it outlives the
/// request, so nothing in it is ever reset.
struct RequestContext {
    let head: HTTPRequestHead
    /// gRPC clients read errors from grpc-status, not from the HTTP status.
    let isGRPC: Bool
    /// The protocol an HTTP/1.1 Upgrade asks to switch to (e.g. "websocket"), if any.
    let upgrade: String?
    /// `Expect: 100-continue`: archway sends the 100 itself once a backend is connected.
    let expectsContinue: Bool
    /// What the metrics, the span and the access log are told, filled in as the phases learn it.
    var record: RequestRecord
    /// The next phase to run; the edge policy phase may stop and run again when a policy answers.
    var phase = RequestPipeline.Phase.normalise

    /// The routing host (port stripped, lowercased), the normalised path and the query.
    var host = ""
    var path: Substring = ""
    var query: Substring?
    /// Access-Control-* headers the route's CORS filter adds to the response.
    var corsHeaders: [(String, String)] = []
    /// What the edge policies that let the request through change on its way upstream, and the
    /// index of the next policy to ask.
    var edgeEdits = EdgeEdits()
    var nextEdgeGuard = 0
    /// The backendRef the pick phase chose.
    var backend: ChosenBackend?

    /// The global body limit, lowered by a BodySize policy on the request's route; nil is unlimited.
    var bodyLimit: Int?
    var bodyBytes = 0
    var responseBytes = 0

    /// The route the match phase found.
    var route: CompiledRoute? { record.route }

    init(head: HTTPRequestHead, table: ServedTable, start: NIODeadline, bodyLimit: Int?) {
        self.head = head
        isGRPC = head.version.major == 2 && (head.headers.first(name: "content-type")?.hasPrefix("application/grpc") ?? false)
        upgrade = head.version == .http1_1 ? HeaderRules.upgradeRequest(head.headers) : nil
        expectsContinue = head.headers.first(name: "expect")?.lowercased() == "100-continue"
        record = RequestRecord(table: table, method: head.method.rawValue, start: start)
        self.bodyLimit = bodyLimit
    }
}

/// What the phases know of the client connection a request came on; the same for all its requests.
struct Downstream {
    /// The socket the connection came in on: its address (a Gateway's own, or the default) and port.
    let socket: SocketKey
    /// The listener port, which redirects and default Host ports use (not the host port it maps to).
    var listenerPort: Int { socket.port }
    /// "http" or "https": how the client reached us, for X-Forwarded-Proto and scheme-less redirects.
    let scheme: String
    /// The server name a TLS client asked for (lowercased), which chose the listener and certificate;
    /// a request whose Host another listener of the port owns is misdirected (421).
    let serverName: String?
    var clientAddress = ""
    /// The client as a Forwarded `for=` node, worked out once per connection.
    var forwardedNode = ""

    init(socket: SocketKey, scheme: String, serverName: String? = nil) {
        self.socket = socket
        self.scheme = scheme
        self.serverName = serverName?.lowercased()
    }

    /// Who is at the other end, worked out once per connection by whichever handler serves it first.
    mutating func identify(_ channel: any Channel) {
        clientAddress = channel.remoteAddress?.ipAddress ?? ""
        forwardedNode = ForwardedHeaders.node(client: clientAddress)
    }
}

/// What a phase decided about a request.
enum PhaseDecision {
    /// On to the next phase.
    case `continue`
    /// The gateway answers; nothing reaches a backend.
    case answer(LocalAnswer)
    /// The request goes to a backend, as planned.
    case forward(ForwardPlan)
    /// An edge policy is deciding (a password hash, a token signature, an auth service): the request
    /// waits, unread, until the policy calls back; the phase then goes on from where it stopped.
    case wait(EdgeDecision.Deferred)
}

extension EdgeDecision {
    /// What `.later` carries: starts the decision and calls back once, from any thread.
    typealias Deferred = @Sendable (_ resume: @escaping @Sendable (EdgeDecision) -> Void) -> Void
}

/// The backendRef a request goes to, and the session that chose it, if any.
struct ChosenBackend {
    let choice: CompiledRoute.Choice
    let cluster: CompiledCluster
    /// The cluster's circuit breaker and endpoint health, when a BackendTrafficPolicy asks for them.
    let health: ClusterHealth?
    let sticky: StickyBinding?
}

/// Everything the upstream attempt needs to send a request on, decided by the request phases.
struct ForwardPlan {
    let route: CompiledRoute
    let backend: ChosenBackend
    /// The request as the backend sees it.
    let head: HTTPRequestHead
    /// The client sent `Expect: 100-continue`; archway answers it once a backend is connected.
    let owesContinue: Bool
    /// The Upgrade forwarded to the backend (never h2c: the backend connection is archway's to choose).
    let upgrade: String?
}
