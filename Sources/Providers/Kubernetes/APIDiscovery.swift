import Foundation

/// Which version of a kind the API server serves, asked of the server rather than assumed.
///
/// A CRD's served versions change with the CRDs installed: Gateway API v1.6 serves TCPRoute, TLSRoute
/// and UDPRoute at `v1` and no longer at `v1alpha2`, and a cluster on older CRDs serves only
/// `v1alpha2`. So for the groups whose kinds are CRDs, the version to read is found by discovery:
/// `GET /apis/GROUP` lists the group's served versions, `GET /apis/GROUP/VERSION` the resources each
/// serves. `v1` wins when it serves the kind; otherwise the first version, in the server's order (most
/// stable first), that does. Built-in groups serve the GA version archway reads in every Kubernetes
/// it supports, so they are not asked.
///
/// Discovery is allowed to every authenticated user (the `system:discovery` role): it needs no grant.
public actor APIDiscovery {
    /// The groups whose served versions depend on installed CRDs.
    static let discoveredGroups: Set<String> = [KubeKind.gatewayGroup, KubeKind.archwayGroup]

    /// A group's served versions, most preferred first, and the resources (plurals) each serves.
    struct GroupVersions: Sendable {
        var versions: [(version: String, plurals: Set<String>)]

        func preferredVersion(serving plural: String) -> String? {
            let serving = versions.filter { $0.plurals.contains(plural) }.map(\.version)
            return serving.contains("v1") ? "v1" : serving.first
        }
    }

    private let client: KubeClient
    /// How long one answer is reused: long enough that the reflectors starting together share one
    /// round of requests, short enough that a CRD installed or upgraded later is seen on the next try.
    private let freshFor: Duration
    private var groups: [String: (asked: ContinuousClock.Instant, answer: Task<GroupVersions, any Error>)] = [:]

    public init(client: KubeClient, freshFor: Duration = .seconds(5)) {
        self.client = client
        self.freshFor = freshFor
    }

    /// `kind` at the version the server serves it, or nil when no version serves it (its CRD is not
    /// installed). Kinds of built-in groups come back as they are.
    public func served(_ kind: KubeKind) async throws -> KubeKind? {
        guard Self.discoveredGroups.contains(kind.group) else { return kind }
        guard let version = try await versions(of: kind.group).preferredVersion(serving: kind.plural) else { return nil }
        return kind.at(version: version)
    }

    /// Drops what is known of `group`: the server just said a version of it is gone.
    public func forget(group: String) {
        groups[group] = nil
    }

    private func versions(of group: String) async throws -> GroupVersions {
        if let cached = groups[group], cached.asked.duration(to: .now) < freshFor {
            return try await cached.answer.value
        }
        let asked = ContinuousClock.now
        let answer = Task { [client] in try await Self.fetch(group, client: client) }
        groups[group] = (asked, answer)
        do {
            return try await answer.value
        } catch {
            // A failed round is not remembered: the next caller asks again.
            if groups[group]?.asked == asked { groups[group] = nil }
            throw error
        }
    }

    private static func fetch(_ group: String, client: KubeClient) async throws -> GroupVersions {
        let groupPath = "/apis/\(group)"
        let groupAnswer = try await client.send(.GET, groupPath)
        if groupAnswer.status == 404 { return GroupVersions(versions: []) }  // no CRD of the group is installed
        guard groupAnswer.status == 200, let document = groupAnswer.object else {
            throw KubeClient.RequestError(method: "GET", path: groupPath, status: groupAnswer.status, message: groupAnswer.message)
        }
        let listed = (document["versions"] as? [[String: Any]] ?? []).compactMap { $0["version"] as? String }
        var versions: [(version: String, plurals: Set<String>)] = []
        for version in listed {
            let path = "\(groupPath)/\(version)"
            let answer = try await client.send(.GET, path)
            if answer.status == 404 { continue }  // stopped being served between the two requests
            guard answer.status == 200, let resources = answer.object?["resources"] as? [[String: Any]] else {
                throw KubeClient.RequestError(method: "GET", path: path, status: answer.status, message: answer.message)
            }
            // Subresources ("tcproutes/status") are listed beside their resource; only the resources count.
            let plurals = resources.compactMap { $0["name"] as? String }.filter { !$0.contains("/") }
            versions.append((version, Set(plurals)))
        }
        return GroupVersions(versions: versions)
    }
}
