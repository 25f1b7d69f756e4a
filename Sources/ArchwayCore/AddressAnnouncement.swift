import Foundation
import GatewayAPI
import L2Announcement
import Logging
import Observability
import Providers

/// Layer-2 announcement as `serve --announce` runs it: the addresses archway serves come in with each
/// applied configuration (`serve(_:)`), the replicas alive come from the membership Leases (Kubernetes
/// mode; alone, this replica owns everything), and `L2Announcer` announces this replica's share.
/// What it announces is on the admin endpoint (`/announcements`) and in `archway_l2_announced_addresses`.
public actor AddressAnnouncement {
    public struct Options: Sendable {
        /// The LAN interface for every address; nil: the interface whose network contains each one.
        public var interface: String?
        public var membership = L2Membership.Timing()
        /// A replica heard on the LAN and then silent this long is gone (heartbeats come every 100 ms).
        public var peerTimeout: Duration = .milliseconds(500)
        public init(interface: String? = nil) { self.interface = interface }
    }

    /// What `/announcements` shows.
    public struct Report: Codable, Sendable {
        public struct Entry: Codable, Sendable {
            var address: String
            var owner: String?
            var announcedHere: Bool
            var interface: String?
            var problem: String?
        }
        var identity: String
        var election: String
        var members: [String]
        /// Replicas whose Lease still stands but that went silent on the LAN: not counted.
        var silent: [String] = []
        /// The interface the served addresses are held on (archway's own TUN device, or lo).
        var heldOn: String?
        var addresses: [Entry]

        /// The table `archway status --admin` prints under the status; nil when nothing is served.
        public static func table(json: Data) -> String? {
            guard let report = try? JSONDecoder().decode(Report.self, from: json), !report.addresses.isEmpty else { return nil }
            var rows = [["ADDRESS", "OWNER", "HERE", "INTERFACE", "PROBLEM"]]
            for entry in report.addresses {
                rows.append([entry.address, entry.owner ?? "-", entry.announcedHere ? "yes" : "no", entry.interface ?? "-", entry.problem ?? ""])
            }
            let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
            let lines = rows.map { row in
                row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
                    .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
            }
            let silent = report.silent.isEmpty ? "" : "; silent on the LAN: \(report.silent.joined(separator: ", "))"
            let held = report.heldOn.map { "; held on \($0)" } ?? ""
            return "LAYER-2 ANNOUNCEMENT (this replica: \(report.identity); replicas: \(report.members.joined(separator: ", "))\(silent)\(held))\n"
                + lines.joined(separator: "\n") + "\n"
        }
    }

    private let announcer: L2Announcer
    private let membership: L2Membership?
    private let identity: String
    private let admin: AdminServer
    private let metrics: GatewayMetrics
    private var served: Set<IPAddress> = []
    private var members: Set<String>
    /// Members that stopped sending heartbeats: excluded until they are heard again.
    private var silent: Set<String> = []
    private let peerTimeout: Duration
    private var livenessTask: Task<Void, Never>?
    /// False until the first membership list (Kubernetes mode): a replica that does not yet know who
    /// else is alive announces nothing rather than everything.
    private var membersKnown: Bool
    private var membershipTask: Task<Void, Never>?
    private var refreshTask: Task<Void, Never>?
    /// Interfaces come and go (a LAN link configured after start, a renamed one): the announcer looks
    /// again this often even when nothing else changed.
    static let refreshInterval: Duration = .seconds(10)
    private var stopped = false

    init(options: Options, membership: L2Membership?, admin: AdminServer, metrics: GatewayMetrics, logger: Logger) {
        announcer = L2Announcer(interface: options.interface, heartbeatIdentity: membership?.identity, logger: logger)
        peerTimeout = options.peerTimeout
        self.membership = membership
        identity = membership?.identity ?? ProcessInfo.processInfo.hostName
        members = [identity]
        membersKnown = membership == nil
        self.admin = admin
        self.metrics = metrics
    }

    func start() {
        if refreshTask == nil {
            refreshTask = Task { [self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: Self.refreshInterval)
                    await self.reconcile()
                }
            }
        }
        guard let membership, membershipTask == nil else { return }
        membershipTask = Task { [self] in
            await membership.run { members in await self.membersChanged(members) }
        }
        // The Leases notice a dead replica in about two seconds; its silence on the LAN, in half a
        // second. Looked at every 100 ms, reconciled only when the silent set changes.
        livenessTask = Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(100))
                await self.checkLiveness()
            }
        }
    }

    private func checkLiveness() {
        let now = announcer.silentPeers(timeout: peerTimeout)
        guard now != silent else { return }
        silent = now
        reconcile()
    }

    /// Announces `addresses` (this replica's share of them) from now on. GatewayRuntime calls it with
    /// each applied configuration, with what `GatewayRuntime.Options.addressesToAnnounce` picks.
    /// Returns those this node could not take (no capability, no interface for them, a sysctl it
    /// could not set), with why: nothing can reach a socket on them, so they are not served.
    @discardableResult
    public func serve(_ addresses: Set<IPAddress>) async -> [IPAddress: String] {
        served = addresses
        let states = reconcile()
        return states.filter { !$0.value.held }.mapValues { $0.problem ?? "not held on this node" }
    }

    private func membersChanged(_ members: Set<String>) async {
        self.members = members.union([identity])
        membersKnown = true
        reconcile()
    }

    @discardableResult
    private func reconcile() -> [IPAddress: L2Announcer.AddressState] {
        guard !stopped else { return [:] }
        let alive = members.subtracting(silent)
        let owners = Dictionary(uniqueKeysWithValues: served.map { ($0, Rendezvous.owner(of: $0, among: alive) ?? identity) })
        let owned = membersKnown ? Set(owners.filter { $0.value == identity }.keys) : []
        let states = announcer.update(served: served, owned: owned)
        let entries = served.sorted().map { address in
            Report.Entry(address: "\(address)", owner: owners[address], announcedHere: states[address]?.announced ?? false,
                         interface: states[address]?.interface, problem: states[address]?.problem)
        }
        publish(Report(identity: identity,
                       election: membership == nil ? "single replica: announces every address"
                           : "membership Leases + rendezvous hashing; LAN heartbeats notice a dead replica first",
                       members: alive.sorted(), silent: members.intersection(silent).sorted(), heldOn: served.isEmpty ? nil : announcer.holderName,
                       addresses: entries))
        return states
    }

    private func publish(_ report: Report) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        if let data = try? encoder.encode(report) { admin.setAnnouncements(String(decoding: data, as: UTF8.self) + "\n") }
        metrics.l2AnnouncedAddresses.set(Double(report.addresses.filter(\.announcedHere).count))
    }

    /// Stops answering at once (the start of a drain: another replica should take the addresses now)
    /// and hands the membership Lease back so the others need not wait for it to expire.
    func stop() async {
        guard !stopped else { return }
        stopped = true
        membershipTask?.cancel()
        membershipTask = nil
        livenessTask?.cancel()
        livenessTask = nil
        refreshTask?.cancel()
        refreshTask = nil
        announcer.stop()
        await membership?.leave()
        publish(Report(identity: identity, election: "stopped", members: [], addresses: []))
    }
}

/// The addresses to announce from one translation: the IPAddress values of the Gateways'
/// `status.addresses` (what they really serve), minus those that never belong on a LAN (loopback,
/// the wildcard, link-local, multicast).
/// The addresses archway owns and serves: those of its AddressPools that a Gateway serves on or a
/// LoadBalancer Service was given, less what must stay local. Nothing outside the pools is ever
/// announced: a Gateway that names the router's address gets AddressNotUsable, not the router's
/// traffic, and the default address (a Service's, a node's) stays whoever's it is.
public enum AnnouncedAddresses {
    public static func served(_ snapshot: ResourceSnapshot, _ statuses: StatusSet) -> Set<IPAddress> {
        let pools = snapshot.addressPools.flatMap { $0.parsedAddresses().ranges }
        let gateways = statuses.gateways.values.flatMap(\.addresses).filter { ($0.type ?? "IPAddress") == "IPAddress" }.map(\.value)
        let services = statuses.loadBalancers.values.flatMap { $0.loadBalancer.ingress ?? [] }.compactMap(\.ip)
        return Set((gateways + services).compactMap(IPAddress.init).filter { address in
            address.isAnnounceable && pools.contains { $0.contains(address) }
        })
    }
}
