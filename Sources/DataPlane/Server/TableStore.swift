import NIOConcurrencyHelpers
import RoutingTable

/// Holds the table being served. A swap is one assignment: each request reads `current` once at its
/// start and keeps that immutable table until it ends, so in-flight requests finish on the old table.
/// TLS contexts swap with the routes: a rotated certificate is offered from the next handshake on,
/// while connections already established keep the one they negotiated. Installing a table attaches
/// the live state (health, SLO counters, edge guards), carried over from the table it replaces.
public final class TableStore: Sendable {
    fileprivate struct Serving: Sendable {
        var table: ServedTable
        var tls: [SocketKey: TLSPortTable]
        /// Client contexts for BackendTLSPolicies, by cluster id.
        var upstreamTLS: [String: UpstreamTLSSetup]
    }
    private let box: NIOLockedValueBox<Serving>
    /// One swap at a time: each carries over the live state of the table it replaces, which a
    /// concurrent swap could otherwise replace in between.
    private let swapping = NIOLock()
    /// The table last replaced, kept until the next swap or `releaseRetired()`: freeing 10,000 routes
    /// takes milliseconds, and whichever thread lets go of a table last frees it. Without this that was
    /// often an event loop, in the middle of the request that happened to hold the old table.
    private let retired = NIOLockedValueBox<Serving?>(nil)
    public let certificates = TLSContextCache()

    public init() { box = NIOLockedValueBox(Serving(table: .empty, tls: [:], upstreamTLS: [:])) }

    public var current: ServedTable { box.withLockedValue { $0.table } }

    func tls(socket: SocketKey) -> TLSPortTable? { box.withLockedValue { $0.tls[socket] } }

    /// How to speak TLS to a cluster's endpoints, when a BackendTLSPolicy says so (no look-up when
    /// none does). Only needed to open a connection, not to reuse one.
    func upstreamTLS(for cluster: CompiledCluster) -> UpstreamTLSSetup? {
        cluster.tls == nil ? nil : box.withLockedValue { $0.upstreamTLS[cluster.id] }
    }

    /// A table two swaps old, handed back by `swap` for its caller to let go of where freeing it
    /// costs no one: at 10,000 routes that takes ~15 ms, which a change's swap need not wait for.
    public struct Retired: Sendable {
        fileprivate let serving: Serving?
    }

    /// Builds the TLS contexts the table needs, attaches the live state, then swaps both in. Throws
    /// (and keeps the old table, whose live state stays as it was) if a certificate cannot be loaded.
    @discardableResult
    public func swap(_ table: CompiledTable) throws -> Retired {
        try swapping.withLock {
            var tls: [SocketKey: TLSPortTable] = [:]
            for port in table.source.ports where port.protocol == "TLS" {
                tls[port.socket] = try TLSPortTable(port, cache: certificates)
            }
            var upstreamTLS: [String: UpstreamTLSSetup] = [:]
            for (id, cluster) in table.clusters {
                guard let policy = cluster.tls else { continue }
                upstreamTLS[id] = UpstreamTLSSetup(context: try certificates.clientContext(for: policy, http2: cluster.http2), policy: policy)
            }
            let served = ServedTable(table, carryingOver: current)
            let replaced = box.withLockedValue { serving in
                defer { serving = Serving(table: served, tls: tls, upstreamTLS: upstreamTLS) }
                return serving
            }
            let older = retired.withLockedValue { retired in
                defer { retired = replaced }
                return retired
            }
            let inUse = table.source.ports.flatMap(\.listeners).compactMap(\.tls).flatMap(\.certificates)
                + table.source.ports.flatMap { $0.acmeChallenges ?? [] }.map(\.certificate)
            certificates.keepOnly(Set(inUse))
            return Retired(serving: older)
        }
    }

    /// Lets go of the table last replaced, once requests that started on it are done: called by the
    /// control plane a while after a swap, so that it is not freed on an event loop.
    public func releaseRetired() {
        _ = retired.withLockedValue { retired in
            defer { retired = nil }
            return retired
        }
    }
}
