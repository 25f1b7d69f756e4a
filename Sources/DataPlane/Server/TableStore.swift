import NIOConcurrencyHelpers
import RoutingTable

/// Holds the table being served. A swap is one assignment: each request reads `current` once at its
/// start and keeps that immutable table until it ends, so in-flight requests finish on the old table.
/// TLS contexts swap with the routes: a rotated certificate is offered from the next handshake on,
/// while connections already established keep the one they negotiated.
public final class TableStore: Sendable {
    private struct Serving: Sendable {
        var routes: CompiledTable
        var tls: [Int: TLSPortTable]
        /// Client contexts for BackendTLSPolicies, by cluster id.
        var upstreamTLS: [String: UpstreamTLSSetup]
    }
    private let box: NIOLockedValueBox<Serving>
    public let certificates = TLSContextCache()
    /// Live edge-policy guards, kept across swaps while their policy is unchanged.
    public let edgeGuards = EdgeGuardRegistry()

    public init(_ table: CompiledTable = .empty) { box = NIOLockedValueBox(Serving(routes: table, tls: [:], upstreamTLS: [:])) }

    public var current: CompiledTable { box.withLockedValue { $0.routes } }

    func tls(port: Int) -> TLSPortTable? { box.withLockedValue { $0.tls[port] } }

    /// How to speak TLS to a cluster's endpoints, when a BackendTLSPolicy says so.
    func upstreamTLS(cluster: String) -> UpstreamTLSSetup? { box.withLockedValue { $0.upstreamTLS[cluster] } }

    /// Builds the TLS contexts the table needs, then swaps both in. Throws (and keeps the old table)
    /// if a certificate cannot be loaded.
    public func swap(_ table: CompiledTable) throws {
        var tls: [Int: TLSPortTable] = [:]
        for port in table.source.ports where port.protocol == "TLS" {
            tls[port.port] = try TLSPortTable(port, cache: certificates)
        }
        var upstreamTLS: [String: UpstreamTLSSetup] = [:]
        for (id, cluster) in table.clusters {
            guard let policy = cluster.tls else { continue }
            upstreamTLS[id] = UpstreamTLSSetup(context: try certificates.clientContext(for: policy, http2: cluster.http2), policy: policy)
        }
        box.withLockedValue { $0 = Serving(routes: table, tls: tls, upstreamTLS: upstreamTLS) }
        let inUse = table.source.ports.flatMap(\.listeners).compactMap(\.tls).flatMap(\.certificates)
        certificates.keepOnly(Set(inUse))
        edgeGuards.keepOnly(table.source)
    }
}
