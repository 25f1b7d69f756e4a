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

    /// Pingora's rule: before the first response byte, a failure on a *reused* keep-alive connection is
    /// most likely one the backend closed while idle, so an idempotent request whose body did not go
    /// out (there is nothing buffered to replay) is sent again on a fresh connection. Anything else
    /// might already have had its effect, and gets a 502 instead of a duplicate.
    var canRetry: Bool {
        !responseStarted && !bodyForwarded && reusedConnection && Self.idempotent.contains(requestHead.method)
    }

    private static let idempotent: [HTTPMethod] = [.GET, .HEAD, .OPTIONS, .TRACE, .PUT, .DELETE]
}
