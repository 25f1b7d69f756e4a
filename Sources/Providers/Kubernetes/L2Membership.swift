import Foundation
import Logging

/// Which replicas are alive to announce addresses: each renews a coordination.k8s.io Lease of its
/// own (`archway-l2-<identity>`) every `renewInterval` and lists the others'. A Lease counts as alive
/// while it keeps changing: unchanged for `leaseDuration` *by our clock* means its replica is gone
/// (renewTime is another machine's clock and is never compared with ours, as in LeaderElector). One
/// Lease per replica rather than per address: the writes stay at one per replica per interval however
/// many addresses there are, and `Rendezvous` turns the member list into one owner per address.
public actor L2Membership {
    public struct Timing: Sendable {
        public var renewInterval: Duration = .milliseconds(500)
        public var leaseDuration: Duration = .seconds(2)
        /// A Lease unchanged this long belonged to a replica that is not coming back (a pod name from
        /// an earlier rollout): any replica deletes it.
        public var forgetAfter: Duration = .seconds(300)
        public init() {}
    }

    public static let namePrefix = "archway-l2-"
    nonisolated public let identity: String
    private let client: KubeClient
    private let namespace: String
    private let timing: Timing
    private let logger: Logger
    private let clock = ContinuousClock()
    /// Each Lease seen: its spec as last read, and when (our clock) it last changed.
    private var observed: [String: (spec: String, at: ContinuousClock.Instant)] = [:]
    private var lastError: String?
    /// This replica's Lease as the last renewal left it: the next round renews it before listing,
    /// so a slow list never makes a live replica look dead to the others.
    private var ownLease: [String: Any]?
    public private(set) var members: Set<String> = []

    public init(client: KubeClient, namespace: String, identity: String, timing: Timing = Timing(), logger: Logger) {
        self.client = client
        self.namespace = namespace
        self.identity = identity
        self.timing = timing
        self.logger = logger
        members = [identity]
    }

    /// The Lease name for an identity: a DNS subdomain, as object names must be.
    static func leaseName(_ identity: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-.")
        let cleaned = String(identity.lowercased().map { allowed.contains($0) ? $0 : "-" })
        return String((namePrefix + cleaned).prefix(253))
    }

    private var ownName: String { Self.leaseName(identity) }

    /// Renews and lists every `renewInterval` until cancelled; `onChange` hears each new member set.
    /// While the API server cannot be reached the last member set stands: replicas keep announcing
    /// what they announced rather than all stopping, and a replica cut off alone announces beside its
    /// successor (both serve every address) until it can read again.
    public func run(onChange: @escaping @Sendable (Set<String>) async -> Void) async {
        var heard = false
        while !Task.isCancelled {
            // The first list is always passed on: until then this replica does not know who else is alive.
            if let current = await round(), current != members || !heard {
                logger.info("layer-2 announcement members", metadata: ["members": "\(current.sorted().joined(separator: ", "))"])
                members = current
                heard = true
                await onChange(current)
            }
            try? await Task.sleep(for: timing.renewInterval)
        }
    }

    /// On shutdown: deletes this replica's Lease, so the others take its addresses over at once.
    public func leave() async {
        _ = try? await client.send(.DELETE, KubeKind.lease.objectPath(namespace: namespace, name: ownName))
    }

    /// One renewal and one list; the member set, or nil when the API server could not be read.
    private func round() async -> Set<String>? {
        var renewed = false
        if let known = ownLease { renewed = (try? await renew(known)) ?? false }
        do {
            let response = try await client.send(.GET, KubeKind.lease.collectionPath(namespace: namespace), timeout: .seconds(2))
            guard response.status == 200, let items = response.object?["items"] as? [[String: Any]] else {
                throw KubeClient.RequestError(method: "GET", path: KubeKind.lease.collectionPath(namespace: namespace), status: response.status, message: response.message)
            }
            let now = clock.now
            var alive: Set<String> = [identity]
            var own: [String: Any]?
            for item in items {
                let metadata = item["metadata"] as? [String: Any] ?? [:]
                guard let name = metadata["name"] as? String, name.hasPrefix(Self.namePrefix) else { continue }
                let spec = item["spec"] as? [String: Any] ?? [:]
                if name == ownName { own = item; continue }
                let record = "\(spec["renewTime"] ?? "")|\(metadata["resourceVersion"] ?? "")"
                if observed[name]?.spec != record { observed[name] = (record, now) }
                let unchanged = now - observed[name]!.at
                if unchanged < timing.leaseDuration, let holder = spec["holderIdentity"] as? String, !holder.isEmpty {
                    alive.insert(holder)
                } else if unchanged >= timing.forgetAfter {
                    _ = try? await client.send(.DELETE, KubeKind.lease.objectPath(namespace: namespace, name: name), timeout: .seconds(2))
                    observed[name] = nil
                }
            }
            let present = Set(items.compactMap { ($0["metadata"] as? [String: Any])?["name"] as? String })
            observed = observed.filter { present.contains($0.key) }
            if !renewed {
                ownLease = own
                _ = try await renew(own)
            }
            if lastError != nil { logger.info("layer-2 membership Lease renewed again") }
            lastError = nil
            return alive
        } catch {
            if lastError == nil {
                logger.warning("cannot renew the layer-2 membership Lease; the last member list stands", metadata: ["error": "\(error)"])
            }
            lastError = "\(error)"
            return nil
        }
    }

    /// Creates this replica's Lease, or moves its renewTime on; whether it did (a 409 waits for the
    /// next round, which renews what the list shows).
    @discardableResult
    private func renew(_ existing: [String: Any]?) async throws -> Bool {
        let now = LeaderElector.microTime(Date())
        let seconds = max(1, Int(timing.leaseDuration.components.seconds))
        guard var lease = existing else {
            let created: [String: Any] = [
                "apiVersion": KubeKind.lease.apiVersion, "kind": "Lease",
                "metadata": ["name": ownName, "namespace": namespace, "labels": ["app.kubernetes.io/component": "l2-announcement"]],
                "spec": ["holderIdentity": identity, "leaseDurationSeconds": seconds, "acquireTime": now, "renewTime": now],
            ]
            let response = try await client.send(.POST, KubeKind.lease.collectionPath(namespace: namespace),
                                                 body: try JSONSerialization.data(withJSONObject: created), timeout: .seconds(2))
            guard (200..<300).contains(response.status) || response.status == 409 else {
                throw KubeClient.RequestError(method: "POST", path: KubeKind.lease.collectionPath(namespace: namespace), status: response.status, message: response.message)
            }
            ownLease = response.status == 409 ? nil : response.object
            return response.status != 409
        }
        var spec = lease["spec"] as? [String: Any] ?? [:]
        spec["holderIdentity"] = identity
        spec["leaseDurationSeconds"] = seconds
        spec["renewTime"] = now
        lease["spec"] = spec
        lease["apiVersion"] = KubeKind.lease.apiVersion
        lease["kind"] = "Lease"
        let response = try await client.send(.PUT, KubeKind.lease.objectPath(namespace: namespace, name: ownName),
                                             body: try JSONSerialization.data(withJSONObject: lease), timeout: .seconds(2))
        guard response.status == 200 || response.status == 409 else {
            throw KubeClient.RequestError(method: "PUT", path: KubeKind.lease.objectPath(namespace: namespace, name: ownName), status: response.status, message: response.message)
        }
        ownLease = response.status == 200 ? response.object : nil
        return response.status == 200
    }
}
