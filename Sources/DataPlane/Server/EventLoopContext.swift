import Logging
import NIOCore
import Observability
import RoutingTable
import Tracing

/// State that belongs to one event loop and is only touched on it: the upstream pool, round-robin
/// positions, a cheap random generator and cached metric handles. No locks on the hot path.
final class EventLoopContext: @unchecked Sendable {
    let eventLoop: any EventLoop
    let pool: UpstreamPool
    /// Backend connections of the HTTP/1 fast lane (no codec in their pipelines).
    /// Plain HTTP/1.1 requests take the fast lane; off, every request takes the general path.
    let fastLane: Bool
    let metrics: RequestMetrics
    let limits: ClientLimits
    /// This loop's share of the access log; nil when it is off.
    let accessLog: AccessLog?
    /// Server spans exported over OTLP; nil when no endpoint is configured.
    let tracing: RequestTracing?
    private var roundRobin: [ObjectIdentifier: Int] = [:]
    private weak var roundRobinTable: ServedTable?
    private var randomState: UInt64

    init(eventLoop: any EventLoop, metrics: GatewayMetrics, logger: Logger, seed: UInt64, limits: ClientLimits,
         accessLog: AccessLogWriter?, tracing: RequestTracing?, fastLane: Bool = true) {
        self.tracing = tracing
        // Spans are started by the general path only, so traced gateways keep every request there.
        self.fastLane = fastLane
        self.eventLoop = eventLoop
        self.limits = limits
        self.accessLog = accessLog.map { AccessLog(writer: $0, eventLoop: eventLoop) }
        self.pool = UpstreamPool(eventLoop: eventLoop, logger: logger, openConnections: metrics.upstreamConnections)
        self.metrics = RequestMetrics(metrics)
        self.randomState = seed | 1
    }

    /// xorshift64*: plenty for spreading traffic by weight, and free of syscalls.
    func nextRandom() -> Int {
        randomState ^= randomState >> 12
        randomState ^= randomState << 25
        randomState ^= randomState >> 27
        return Int(truncatingIfNeeded: (randomState &* 2685821657736338717) >> 1)
    }

    /// Round robin per cluster. Positions are keyed by the cluster object, which a reload replaces,
    /// so they are dropped when the table changes.
    func nextIndex(cluster: CompiledCluster, count: Int, table: ServedTable) -> Int {
        if roundRobinTable !== table {
            roundRobin.removeAll(keepingCapacity: true)
            roundRobinTable = table
        }
        let key = ObjectIdentifier(cluster)
        let index = roundRobin[key, default: Int(truncatingIfNeeded: randomState % 64)] % count
        roundRobin[key] = index + 1
        return index
    }
}

/// Maps each event loop of the group to its context; built once, read-only afterwards.
public final class EventLoopContexts: Sendable {
    private let contexts: [ObjectIdentifier: EventLoopContext]
    let budget: ConnectionBudget

    private let accessLog: AccessLogWriter?

    public init(group: any EventLoopGroup, metrics: GatewayMetrics, logger: Logger, limits: ClientLimits = ClientLimits(),
                accessLog: AccessLogWriter? = nil, tracer: (any Tracer)? = nil, fastLane: Bool = true) {
        let tracing = tracer.map(RequestTracing.init)
        self.accessLog = accessLog
        budget = ConnectionBudget(limit: limits.maxConnections)
        var contexts: [ObjectIdentifier: EventLoopContext] = [:]
        var seed: UInt64 = UInt64.random(in: 1...UInt64.max)
        for eventLoop in group.makeIterator() {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            contexts[ObjectIdentifier(eventLoop)] = EventLoopContext(eventLoop: eventLoop, metrics: metrics, logger: logger, seed: seed, limits: limits, accessLog: accessLog, tracing: tracing, fastLane: fastLane)
        }
        self.contexts = contexts
    }

    /// One of the group's event loops, for work that belongs to none in particular.
    var anyEventLoop: any EventLoop { contexts.values.first!.eventLoop }

    func context(for eventLoop: any EventLoop) -> EventLoopContext {
        contexts[ObjectIdentifier(eventLoop)]!
    }

    /// Hands every loop's buffered access-log lines to the writer and waits until they are written.
    public func flushAccessLog() async {
        guard let accessLog else { return }
        for context in contexts.values {
            try? await context.eventLoop.submit { context.accessLog?.flush() }.get()
        }
        accessLog.flush()
    }

    /// Closes every pooled upstream connection and waits until they are closed, so the event loops
    /// can then shut down with no work left on them.
    public func closeIdleConnections() async {
        for context in contexts.values {
            let closed = context.eventLoop.flatSubmit { context.pool.closeAll() }
            try? await closed.get()
        }
    }
}
