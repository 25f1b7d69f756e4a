import GatewayAPI
import RoutingTable

/// The clusters of a translation and what each one's content is made from, kept with the result so
/// that a change of EndpointSlices alone is applied by recomputing the clusters of the Services it
/// touched (`refreshing`), not by translating every route again. A cluster is only ever made by
/// `TableBuilder.cluster`, here and in a full translation alike.
public struct ClusterSources: Sendable {
    var byID: [String: ClusterSource] = [:]
    var backendTLS = BackendTLSIndex()
    var backendTraffic: [NamespacedName: BackendResilience] = [:]
    /// The per-Gateway copies `presentClientCertificates` made, by copy id.
    var clientCertificateCopies: [String: ClientCertificateCopy] = [:]

    /// Every cluster, as the table is built with them (before the per-Gateway copies).
    func clusters(_ snapshot: ResourceSnapshot) -> [String: Cluster] {
        Dictionary(uniqueKeysWithValues: byID.map { id, source in
            (id, TableBuilder.cluster(id: id, source: source, snapshot: snapshot, backendTLS: backendTLS, backendTraffic: backendTraffic))
        })
    }

    /// `table` (made from these sources) with the clusters of `services` made again from `snapshot`,
    /// their client-certificate copies too; everything else is left as it is. Right only when nothing
    /// but those Services' EndpointSlices differs from the snapshot `table` was translated from: the
    /// caller checks that (`ResourceSnapshot.endpointChanges(since:)`).
    public func refreshing(_ table: RoutingTable, services: Set<NamespacedName>, from snapshot: ResourceSnapshot) -> RoutingTable {
        guard !services.isEmpty else { return table }
        var table = table
        var remade: [String: Cluster] = [:]
        for (id, source) in byID where services.contains(source.service) {
            let cluster = TableBuilder.cluster(id: id, source: source, snapshot: snapshot, backendTLS: backendTLS, backendTraffic: backendTraffic)
            remade[id] = cluster
            // A cluster every route reaches through its copies was left out of the table: it stays out.
            if table.clusters[id] != nil { table.clusters[id] = cluster }
        }
        for (copyID, copy) in clientCertificateCopies {
            guard let base = remade[copy.base] else { continue }
            table.clusters[copyID] = RoutingTable.clientCertificateCopy(of: base, id: copyID, presenting: copy.certificate)
        }
        return table
    }

    /// The Services some cluster takes its endpoints from.
    public var services: Set<NamespacedName> { Set(byID.values.map(\.service)) }
}
