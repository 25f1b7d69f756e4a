import NIOCore
import Observability
import RoutingTable
import Tracing

/// The phase that always runs: every answered request, whichever path served it, is counted in the
/// metrics and SLOs, ends its span and gets its access-log line here, exactly once.
enum LogPhase {
    /// The general path's requests. `attempt` is the upstream attempt whose response the client got;
    /// nil for an answer the gateway made itself.
    /// `grpcStatus`: the grpc-status a backend ended a gRPC call with, when it sent one.
    static func run(_ record: RequestRecord, status: Int, bytesIn: Int, bytesOut: Int, client: String, attempt: UpstreamAttempt?,
                    grpcStatus: Int? = nil, loop: EventLoopContext) {
        loop.record(record, RequestOutcome(status: status, client: client, bytesIn: bytesIn, bytesOut: bytesOut,
                                           tryStart: attempt?.tryStart, endpoint: attempt?.lastEndpoint, retries: attempt?.retries ?? 0,
                                           grpcStatus: grpcStatus))
    }
}

/// What the metrics (and later the access log) need to know about a request, gathered as it goes.
struct RequestRecord {
    /// The table the request was served from; its live state counts the request against its SLOs.
    let table: ServedTable
    let method: String
    let start: NIODeadline
    var route: CompiledRoute?
    var backend = -1
    var backendName = ""
    /// The server span, when requests are traced.
    var span: (any Span)?
    /// For the access log.
    var requestID = ""
    var host = ""
    var path: Substring = ""
    var tenantHeader: String?
    /// The edge policy that answered instead of the backend, and why ("BasicAuth ns/name: ...").
    var refusedBy: String?

    var metricsKey: RequestMetrics.Key {
        RequestMetrics.Key(route: route.map(ObjectIdentifier.init), backend: backend, method: method)
    }

    func metricLabels() -> GatewayMetrics.RequestLabels {
        GatewayMetrics.RequestLabels(gateway: route?.origin.gatewayName ?? "", namespace: route?.origin.namespace ?? "",
                                     route: route?.origin.name ?? "", backend: backendName, method: method)
    }

    init(table: ServedTable, method: String, start: NIODeadline) {
        self.table = table
        self.method = method
        self.start = start
    }
}

/// How a request ended, for the metrics, the SLOs, the span and the access log.
struct RequestOutcome {
    var status: Int
    var client: String
    var bytesIn = 0
    var bytesOut = 0
    /// When the last try to a backend started; nil when no backend was tried.
    var tryStart: NIODeadline?
    var endpoint: Endpoint?
    var retries = 0
    /// The grpc-status of a gRPC call the backend answered (HTTP 200 whatever it says).
    var grpcStatus: Int?
}

extension EventLoopContext {
    /// Every answered request passes through here once, whichever path served it.
    func record(_ request: RequestRecord, _ outcome: RequestOutcome) {
        let now = NIODeadline.now()
        let elapsed = now - request.start
        let status = outcome.status
        if let route = request.route {
            for slo in request.table.sloTrackers(of: route) { slo.record(status: status, durationNanos: elapsed.nanoseconds) }
            request.table.rolloutTracker(of: route)?.record(backend: request.backendName, status: status, grpcStatus: outcome.grpcStatus,
                                                            durationNanos: elapsed.nanoseconds)
        }
        if let span = request.span {
            RequestTracing.end(span, status: status, route: request.route.map { "\($0.origin.namespace)/\($0.origin.name)" },
                               gateway: request.route?.origin.gatewayName, backend: request.backendName,
                               upstream: outcome.endpoint.map { "\($0.host):\($0.port)" })
        }
        if let accessLog {
            let route = request.route
            accessLog.append(AccessLog.Entry(
                requestID: request.requestID, gateway: route?.origin.gatewayName ?? "", namespace: route?.origin.namespace ?? "",
                route: route?.origin.name ?? "", backend: request.backendName, hostname: request.host, path: request.path,
                method: request.method, status: status, durationNanos: elapsed.nanoseconds,
                upstreamNanos: outcome.tryStart.map { (now - $0).nanoseconds }, environment: route?.environment,
                tenant: route?.tenant ?? request.tenantHeader, client: outcome.client, bytesReceived: outcome.bytesIn,
                bytesSent: outcome.bytesOut, upstream: outcome.endpoint, retries: outcome.retries, refusedBy: request.refusedBy))
        }
        let extras = RequestMetrics.Extras(bytesIn: outcome.bytesIn, bytesOut: outcome.bytesOut,
                                           upstream: outcome.tryStart.map { .nanoseconds((now - $0).nanoseconds) }, retries: outcome.retries)
        metrics.record(request.metricsKey, table: ObjectIdentifier(request.table), status: status, duration: .nanoseconds(elapsed.nanoseconds),
                       extras: extras, labels: request.metricLabels)
    }
}
