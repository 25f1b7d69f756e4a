import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import RoutingTable

/// Active health checks for clusters whose BackendTrafficPolicy asks for them: every interval, a GET
/// of the policy's path to each endpoint on a fresh connection; a status outside the expected ones, a
/// failed connection or no answer within the timeout counts as a failed check. Verdicts go to the
/// cluster's ClusterHealth (the served table's live state), which request routing consults.
public final class HealthChecks: Sendable {
    private let contexts: EventLoopContexts
    private let tables: TableStore
    private let running = NIOLockedValueBox<[ObjectIdentifier: any Cancellable]>([:])

    public init(contexts: EventLoopContexts, tables: TableStore) {
        self.contexts = contexts
        self.tables = tables
    }

    /// Starts checks for the table's clusters that need them and stops those no longer in it.
    public func reconcile() {
        var wanted: [ObjectIdentifier: (ClusterHealth, CompiledCluster)] = [:]
        let served = tables.current
        for cluster in served.routes.clustersBySlot {
            if let health = served.health(of: cluster), health.policy.healthCheck != nil { wanted[ObjectIdentifier(health)] = (health, cluster) }
        }
        running.withLockedValue { running in
            for (key, task) in running where wanted[key] == nil {
                task.cancel()
                running[key] = nil
            }
            for (key, (health, cluster)) in wanted where running[key] == nil {
                running[key] = start(health, cluster: cluster)
            }
        }
    }

    public func stopAll() {
        running.withLockedValue { running in
            for task in running.values { task.cancel() }
            running.removeAll()
        }
    }

    private func start(_ health: ClusterHealth, cluster: CompiledCluster) -> any Cancellable {
        let check = health.policy.healthCheck!
        let loop = contexts.context(for: contexts.anyEventLoop)
        let tls = tables.upstreamTLS(for: cluster)
        let interval = TimeAmount.milliseconds(Int64(check.intervalMillis))
        let task = loop.eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: interval) { _ in
            for endpoint in health.endpoints {
                HealthProbe.run(endpoint: endpoint, check: check, tls: tls, pool: loop.pool) { passed in
                    health.recordCheck(passed: passed, endpoint: endpoint)
                }
            }
        }
        return task
    }
}

extension RepeatedTask: Cancellable {
    func cancel() { cancel(promise: nil) }
}

protocol Cancellable: Sendable {
    func cancel()
}

/// One health-check request. The answer is read as far as its status; the connection is then closed
/// (a probe never goes back to the pool, where a request could pick it up half-read).
private final class HealthProbe: UpstreamExchange {
    private let check: BackendResilience.HealthCheck
    private let verdict: (Bool) -> Void
    private var connection: HTTP1UpstreamLink?
    private var decided = false
    private var deadline: Scheduled<Void>?

    private init(check: BackendResilience.HealthCheck, verdict: @escaping (Bool) -> Void) {
        self.check = check
        self.verdict = verdict
    }

    static func run(endpoint: Endpoint, check: BackendResilience.HealthCheck, tls: UpstreamTLSSetup?, pool: UpstreamPool,
                    verdict: @escaping (Bool) -> Void) {
        let probe = HealthProbe(check: check, verdict: verdict)
        probe.deadline = pool.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(check.timeoutMillis))) { probe.decide(false) }
        pool.connect(endpoint, tls: tls).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let connection) where probe.decided:
                connection.close()
            case .success(let raw):
                let connection = HTTP1UpstreamLink(raw)
                probe.connection = connection
                connection.attach(probe)
                let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: check.path,
                                           headers: ["host": "\(endpoint.host):\(endpoint.port)", "user-agent": "archway-health-check"])
                connection.write(.head(head))
                connection.write(.end(nil))
                connection.flush()
            case .failure:
                probe.decide(false)
            }
        }
    }

    private func decide(_ passed: Bool) {
        guard !decided else { return }
        decided = true
        deadline?.cancel()
        if let connection {
            self.connection = nil
            connection.close()
        }
        verdict(passed)
    }

    func upstreamReceived(_ part: HTTPClientResponsePart) {
        if case .head(let head) = part, head.status.code >= 200 { decide(check.expectedStatuses.contains(Int(head.status.code))) }
    }
    func upstreamReadComplete() {}
    func upstreamMalformed(_ why: String) { decide(false) }
    func upstreamClosed(error: (any Error)?) { decide(false) }
    func upstreamWritabilityChanged(isWritable: Bool) {}
    var downstreamIsWritable: Bool { true }
}
