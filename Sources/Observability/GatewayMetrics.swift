import BuildInfo
import NIOConcurrencyHelpers
import Prometheus

/// The contract's metric names on one Prometheus registry. Handles are made once per label set and
/// cached (per event loop, in `RequestMetrics`), so the hot path only bumps atomics.
public final class GatewayMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let activeConnections: Gauge
    public let configReloads: Counter
    public let configReloadFailures: Counter
    /// Applied changes that translated every resource again (routes, statuses, status publication).
    public let translations: Counter
    /// Applied changes that only remade the endpoints of the Services whose EndpointSlices changed.
    public let endpointUpdates: Counter
    public let upstreamConnections: Gauge
    public let tlsHandshakes: Counter
    public let tlsHandshakeFailures: Counter
    public let l2AnnouncedAddresses: Gauge

    /// Edge latency: most requests take well under 10 ms, and the tail matters up to tens of seconds.
    static let latencyBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
        .seconds(5), .seconds(10), .seconds(30),
    ]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        activeConnections = registry.makeGauge(descriptor: .init(namespace: "gateway", metricName: "active", unitName: "connections",
                                                                 helpText: "Open downstream client connections"))
        configReloads = registry.makeCounter(descriptor: .init(namespace: "gateway", subsystem: "config", metricName: "reloads", unitName: "total",
                                                               helpText: "Configuration changes applied"))
        configReloadFailures = registry.makeCounter(descriptor: .init(namespace: "gateway", subsystem: "config", metricName: "reload_failures", unitName: "total",
                                                                      helpText: "Configuration changes rejected; the last good configuration kept serving"))
        translations = registry.makeCounter(descriptor: .init(namespace: "archway", metricName: "translations", unitName: "total",
                                                              helpText: "Full translations of the configuration (every route and status)"))
        endpointUpdates = registry.makeCounter(descriptor: .init(namespace: "archway", subsystem: "endpoint", metricName: "updates", unitName: "total",
                                                                 helpText: "EndpointSlice-only changes applied to the endpoints of their Services alone"))
        upstreamConnections = registry.makeGauge(descriptor: .init(namespace: "gateway", subsystem: "upstream", metricName: "connections",
                                                                   helpText: "Open connections to backends (pooled idle ones included)"))
        tlsHandshakes = registry.makeCounter(descriptor: .init(namespace: "gateway", subsystem: "tls", metricName: "handshakes", unitName: "total",
                                                               helpText: "Completed downstream TLS handshakes"))
        tlsHandshakeFailures = registry.makeCounter(descriptor: .init(namespace: "gateway", subsystem: "tls", metricName: "handshake_errors", unitName: "total",
                                                                      helpText: "Downstream TLS handshakes that failed"))
        l2AnnouncedAddresses = registry.makeGauge(descriptor: .init(namespace: "archway", subsystem: "l2", metricName: "announced_addresses",
                                                                    helpText: "Addresses this replica answers ARP / neighbour solicitations for"))
        // Always 1, as Prometheus exporters do: the labels are the information, to join on or alert by version.
        let build = BuildInfo.current
        registry.makeGauge(descriptor: .init(namespace: "archway", metricName: "build_info",
                                             helpText: "The version, commit and Swift compiler of this archway build (always 1)"),
                           labels: [("version", build.version), ("commit", build.commit), ("swift", build.swift)]).set(1.0)
    }

    /// Per-route counters that are not per status: bytes, retries, mirrored copies.
    func routeCounter(_ name: String, help: String, _ labels: RequestLabels, extra: [(String, String)] = []) -> Counter {
        registry.makeCounter(descriptor: .init(namespace: "gateway", subsystem: "http", metricName: name, unitName: "total", helpText: help),
                             labels: labels.pairs + extra)
    }

    func upstreamHistogram(_ labels: RequestLabels) -> DurationHistogram {
        registry.makeDurationHistogram(descriptor: .init(namespace: "gateway", subsystem: "http", metricName: "upstream_duration", unitName: "seconds",
                                                         helpText: "Time the backend took: from the last try's connect to the end of its response"),
                                       labels: labels.pairs, buckets: Self.latencyBuckets)
    }

    /// When a certificate archway obtained stops being valid (Unix seconds), per Secret; alert on
    /// `gateway_tls_certificate_expiry_seconds - time() < 14 * 86400`.
    public func setCertificateExpiry(namespace: String, name: String, notAfter: Double) {
        registry.makeGauge(descriptor: .init(namespace: "gateway", subsystem: "tls", metricName: "certificate_expiry", unitName: "seconds",
                                             helpText: "When the certificate archway obtained for the Secret expires (Unix seconds)"),
                           labels: [("namespace", namespace), ("secret", name)]).set(notAfter)
    }

    /// One ACME order ended: result "issued" or "failed"; `renewal` when it replaced a certificate.
    public func countACMEOrder(issuer: String, result: String, renewal: Bool) {
        registry.makeCounter(descriptor: .init(namespace: "archway", subsystem: "acme", metricName: "orders", unitName: "total",
                                               helpText: "ACME orders archway placed, by issuer and result"),
                             labels: [("issuer", issuer), ("result", result)]).increment()
        guard renewal, result == "issued" else { return }
        registry.makeCounter(descriptor: .init(namespace: "archway", subsystem: "acme", metricName: "renewals", unitName: "total",
                                               helpText: "Certificates archway renewed before they expired"),
                             labels: [("issuer", issuer)]).increment()
    }

    /// Where a Rollout stands: its step (1-based; 0 before it starts) and the canary's share of live traffic.
    public func setRollout(namespace: String, name: String, step: Int, canaryWeight: Int) {
        registry.makeGauge(descriptor: .init(namespace: "gateway", subsystem: "rollout", metricName: "step",
                                             helpText: "The Rollout's current step (1-based; 0 before it starts)"),
                           labels: [("namespace", namespace), ("rollout", name)]).set(Double(step))
        registry.makeGauge(descriptor: .init(namespace: "gateway", subsystem: "rollout", metricName: "canary_weight",
                                             helpText: "Percent of the rule's live traffic the Rollout sends to its canary"),
                           labels: [("namespace", namespace), ("rollout", name)]).set(Double(canaryWeight))
    }

    /// A Rollout rolled back on its own (analysis failed).
    public func countRollback(namespace: String, name: String) {
        registry.makeCounter(descriptor: .init(namespace: "archway", subsystem: "rollout", metricName: "rollbacks", unitName: "total",
                                               helpText: "Rollouts rolled back because their canary failed analysis"),
                             labels: [("namespace", namespace), ("rollout", name)]).increment()
    }

    /// A ServiceLevelObjective's live state, refreshed periodically from its tracker.
    public func setSLO(name: String, budgetRemaining: Double, burnRate5m: Double, burnRate1h: Double, exhaustionSeconds: Double?) {
        func gauge(_ metric: String, _ help: String, _ extra: [(String, String)] = []) -> Gauge {
            registry.makeGauge(descriptor: .init(namespace: "gateway", subsystem: "slo", metricName: metric, helpText: help),
                               labels: [("slo", name)] + extra)
        }
        gauge("error_budget_remaining_ratio", "Share of the error budget left over the SLO window (1 untouched, 0 spent)").set(budgetRemaining)
        gauge("burn_rate", "Bad share of requests divided by the allowed bad share", [("window", "5m")]).set(burnRate5m)
        gauge("burn_rate", "Bad share of requests divided by the allowed bad share", [("window", "1h")]).set(burnRate1h)
        gauge("budget_exhaustion_seconds", "Seconds until the budget is spent at the last hour's burn rate (+Inf when not burning)")
            .set(exhaustionSeconds ?? .infinity)
    }

    /// 1 while a policy applies to requests but cannot be enforced (they are refused with 500), 0 once
    /// it is fixed or gone: an alert on `max(...) > 0` finds a broken policy before its users do.
    public func setUnenforceable(policy: String, _ blocking: Bool) {
        registry.makeGauge(descriptor: .init(namespace: "gateway", subsystem: "edge_policy", metricName: "unenforceable",
                                             helpText: "1 while an edge policy covers requests but cannot be enforced; they are refused with 500"),
                           labels: [("policy", policy)]).set(Double(blocking ? 1 : 0))
    }

    /// An endpoint ejected by outlier detection.
    public func ejection(service: String) {
        registry.makeCounter(descriptor: .init(namespace: "gateway", subsystem: "backend", metricName: "ejections", unitName: "total",
                                               helpText: "Endpoints ejected by outlier detection"),
                             labels: [("service", service)]).increment()
    }

    public struct RequestLabels: Hashable, Sendable {
        public var gateway: String
        public var namespace: String
        public var route: String
        public var backend: String
        public var method: String
        public init(gateway: String, namespace: String, route: String, backend: String, method: String) {
            self.gateway = gateway
            self.namespace = namespace
            self.route = route
            self.backend = backend
            self.method = method
        }
    }

    func requestCounter(_ labels: RequestLabels, status: Int) -> Counter {
        registry.makeCounter(descriptor: .init(namespace: "gateway", subsystem: "http", metricName: "requests", unitName: "total",
                                               helpText: "HTTP requests handled, by route, backend, method and status code"),
                             labels: labels.pairs + [("status", String(status))])
    }

    func durationHistogram(_ labels: RequestLabels) -> DurationHistogram {
        registry.makeDurationHistogram(descriptor: .init(namespace: "gateway", subsystem: "http", metricName: "request_duration", unitName: "seconds",
                                                         helpText: "Time from request head to the end of the response"),
                                       labels: labels.pairs, buckets: Self.latencyBuckets)
    }

    public func exposition() -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}

extension GatewayMetrics.RequestLabels {
    var pairs: [(String, String)] {
        [("gateway_name", gateway), ("namespace", namespace), ("route_name", route), ("backend_name", backend), ("method", method)]
    }
}

/// A per-event-loop cache of metric handles, keyed by cheap identities (the compiled route object, the
/// backend's index, method, status) so the hot path hashes a pointer and two integers instead of five
/// label strings. Label cardinality stays bounded by configuration (routes × backends × methods ×
/// status codes): no path or client address is ever a label, and non-standard methods count as "OTHER".
public final class RequestMetrics {
    public struct Key: Hashable {
        public var route: ObjectIdentifier?
        public var backend: Int
        public var method: String
        public init(route: ObjectIdentifier?, backend: Int, method: String) {
            self.route = route
            self.backend = backend
            self.method = RequestMetrics.knownMethods.contains(method) ? method : "OTHER"
        }
    }
    private struct CounterKey: Hashable {
        var key: Key
        var status: Int
    }

    private let metrics: GatewayMetrics
    private var counters: [CounterKey: Counter] = [:]
    private var histograms: [Key: DurationHistogram] = [:]
    /// Handles that do not depend on the status: request/response bytes, upstream time, retries.
    private struct RouteHandles {
        var bytesIn: Counter
        var bytesOut: Counter
        var upstream: DurationHistogram
        var retries: Counter
    }
    private var routeHandles: [Key: RouteHandles] = [:]
    private var mirrors: [MirrorKey: Counter] = [:]
    private struct MirrorKey: Hashable {
        var key: Key
        var mirror: String
        var abandoned: Bool
    }

    /// What one request adds besides its status and duration.
    public struct Extras {
        public var bytesIn: Int
        public var bytesOut: Int
        public var upstream: Duration?
        public var retries: Int
        public init(bytesIn: Int, bytesOut: Int, upstream: Duration?, retries: Int) {
            self.bytesIn = bytesIn
            self.bytesOut = bytesOut
            self.upstream = upstream
            self.retries = retries
        }
    }
    /// The routing table the cached keys belong to: route identities change with every reload.
    private var table: ObjectIdentifier?

    public init(_ metrics: GatewayMetrics) { self.metrics = metrics }

    static let knownMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]

    /// `labels` is only called the first time a key is seen.
    public func record(_ key: Key, table: ObjectIdentifier, status: Int, duration: Duration, extras: Extras,
                       labels: () -> GatewayMetrics.RequestLabels) {
        if table != self.table {
            counters.removeAll(keepingCapacity: true)
            histograms.removeAll(keepingCapacity: true)
            routeHandles.removeAll(keepingCapacity: true)
            mirrors.removeAll(keepingCapacity: true)
            self.table = table
        }
        let handles: RouteHandles
        if let cached = routeHandles[key] {
            handles = cached
        } else {
            var resolved = labels()
            resolved.method = key.method
            handles = RouteHandles(
                bytesIn: metrics.routeCounter("request_bytes", help: "Request body bytes received from clients", resolved),
                bytesOut: metrics.routeCounter("response_bytes", help: "Response body bytes sent to clients", resolved),
                upstream: metrics.upstreamHistogram(resolved),
                retries: metrics.routeCounter("retries", help: "Tries sent again by the route's retry policy", resolved))
            routeHandles[key] = handles
        }
        if extras.bytesIn > 0 { handles.bytesIn.increment(by: Int64(extras.bytesIn)) }
        if extras.bytesOut > 0 { handles.bytesOut.increment(by: Int64(extras.bytesOut)) }
        if let upstream = extras.upstream { handles.upstream.record(upstream) }
        if extras.retries > 0 { handles.retries.increment(by: Int64(extras.retries)) }
        let counterKey = CounterKey(key: key, status: status)
        if let counter = counters[counterKey] {
            counter.increment()
        } else {
            var resolved = labels()
            resolved.method = key.method
            let counter = metrics.requestCounter(resolved, status: status)
            counters[counterKey] = counter
            counter.increment()
        }
        if let histogram = histograms[key] {
            histogram.record(duration)
        } else {
            var resolved = labels()
            resolved.method = key.method
            let histogram = metrics.durationHistogram(resolved)
            histograms[key] = histogram
            histogram.record(duration)
        }
    }

    /// A mirrored copy: sent to the end, or abandoned (slow, refused, dead).
    public func mirrored(_ key: Key, mirror: String, abandoned: Bool, labels: () -> GatewayMetrics.RequestLabels) {
        let mirrorKey = MirrorKey(key: key, mirror: mirror, abandoned: abandoned)
        if let counter = mirrors[mirrorKey] { return counter.increment() }
        var resolved = labels()
        resolved.method = key.method
        let counter = metrics.routeCounter("mirrored_requests", help: "Copies sent by RequestMirror filters, by mirror and result", resolved,
                                           extra: [("mirror_backend", mirror), ("result", abandoned ? "abandoned" : "sent")])
        mirrors[mirrorKey] = counter
        counter.increment()
    }

    public var gauges: GatewayMetrics { metrics }
}
