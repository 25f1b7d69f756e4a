import GatewayAPI
import Logging

/// Makes addresses reachable on the LAN, the way LVS direct routing and MetalLB's layer-2 mode do:
/// every replica adds each served address to an interface of its own (so its kernel accepts packets
/// for it; a `ProcessBoundInterface`, else `lo`) and sets arp_ignore/arp_announce on the LAN
/// interface (so its kernel never answers ARP for it); only the addresses this replica `owns` are
/// answered for, by a `LinkResponder` in this process. A replica that dies stops answering and
/// holding the addresses with it, and the next owner's gratuitous ARP moves the clients.
/// One owner calls it (AddressAnnouncement, an actor): each update runs to the end without a
/// suspension point, so two updates never interleave.
public final class L2Announcer {
    /// What happened to one address on the last update.
    public struct AddressState: Sendable, Equatable, Codable {
        public var interface: String?
        /// This replica answers ARP / neighbour solicitations for it.
        public var announced: Bool
        /// The node has it (on archway's device or lo), so its kernel accepts packets for it.
        public var held = false
        /// Why it is not announced (here or anywhere), when that is not just another replica's turn.
        public var problem: String?
    }

    /// `interface`: the LAN interface for every address; nil picks, per address, the interface whose
    /// network contains it.
    /// `heartbeatIdentity`: this replica's name in the `PeerHeartbeat`s its responders send (nil: alone,
    /// no heartbeats).
    public init(interface: String?, heartbeatIdentity: String?, logger: Logger) {
        self.interfaceName = interface
        self.heartbeatIdentity = heartbeatIdentity
        self.logger = logger
    }

    private let interfaceName: String?
    private let heartbeatIdentity: String?
    /// Where the served addresses are held: this process's own TUN device once made, else `lo`.
    private var holder: ProcessBoundInterface?
    private var triedHolder = false
    /// The interface holding the served addresses, for the report.
    public private(set) var holderName = "lo"
    private let logger: Logger
    private var responders: [String: LinkResponder] = [:]
    private var localAddresses: Set<IPAddress> = []
    private var restrictedInterfaces: Set<String> = []
    /// Whether leftovers of an earlier run were looked for (once, at the first update).
    private var swept = false
    /// Set once a capability turns out to be missing: it stays missing for the life of the process,
    /// so announcing is off from then on and the warning is not repeated.
    private var missingCapabilities: String?
    /// Problems already logged, so a problem is named once rather than on every update.
    private var logged: Set<String> = []

    /// Serves `served` (every replica: local on lo) and announces `owned` (a subset: answered here).
    /// Returns what happened to each address.
    @discardableResult
    public func update(served: Set<IPAddress>, owned: Set<IPAddress>) -> [IPAddress: AddressState] {
        var states: [IPAddress: AddressState] = [:]
        let interfaces = NetworkInterface.all()
        var byInterface: [String: (interface: NetworkInterface, owned: Set<IPAddress>)] = [:]
        var serving: Set<IPAddress> = []
        for address in served.sorted() {
            guard let interface = lanInterface(for: address, in: interfaces) else {
                let problem = interfaceName.map { "interface \($0) is not up or has no MAC address" }
                    ?? "no interface's network contains it; name one with --announce-interface"
                states[address] = AddressState(interface: nil, announced: false, problem: problem)
                logOnce("address not announced", ["address": "\(address)", "reason": "\(problem)"])
                continue
            }
            serving.insert(address)
            states[address] = AddressState(interface: interface.name, announced: false, problem: missingCapabilities)
            byInterface[interface.name, default: (interface, [])].owned.formUnion(owned.contains(address) ? [address] : [])
        }
        if missingCapabilities == nil {
            let loopbackIndex = interfaces.first { $0.isLoopback }?.index ?? 1
            if !serving.isEmpty && !triedHolder { makeHolder() }
            if !swept {
                // Addresses an earlier run added and no one serves now (it crashed, the Gateway went
                // meanwhile): off lo, so the node can reach whoever has the address next.
                swept = true
                // Held on a device of our own now, any tagged address on lo is a leftover.
                for leftover in (try? RouteNetlink.taggedAddresses(interfaceIndex: loopbackIndex)) ?? [] where holder != nil || !serving.contains(leftover) {
                    try? RouteNetlink.removeHostAddress(leftover, interfaceIndex: loopbackIndex)
                    logger.info("removed an address an earlier run left on lo", metadata: ["address": "\(leftover)"])
                }
            }
            apply(serving: serving, byInterface: byInterface, holderIndex: holder?.index ?? loopbackIndex, states: &states)
        }
        if let missing = missingCapabilities {
            for address in states.keys where states[address]?.problem == nil { states[address]?.problem = missing }
        }
        for address in localAddresses { states[address]?.held = true }
        return states
    }

    /// Makes the process-bound device the addresses are held on, once; without it they go on `lo`.
    private func makeHolder() {
        triedHolder = true
        do {
            let device = try ProcessBoundInterface()
            holder = device
            holderName = device.name
            logger.info("served addresses are held on a device that goes away with this process", metadata: ["device": "\(device.name)"])
        } catch let failure as ProcessBoundInterface.Failure where failure.isUnavailable {
            logger.warning("no TUN device (\(failure)): the served addresses are held on lo, where they outlive a crash of this process, so for the seconds until another replica takes them over this node refuses connections to them instead of letting clients retry; mount /dev/net/tun into the container")
        } catch {
            // No CAP_NET_ADMIN: adding to lo fails the same way next, and says so.
            logger.debug("no process-bound device", metadata: ["error": "\(error)"])
        }
    }

    private func apply(serving: Set<IPAddress>, byInterface: [String: (interface: NetworkInterface, owned: Set<IPAddress>)],
                       holderIndex: Int32, states: inout [IPAddress: AddressState]) {
        var missing: [String] = []
        // Before any address is on lo, so the kernel never gets to answer ARP for one.
        for name in byInterface.keys.sorted() where !restrictedInterfaces.contains(name) {
            do {
                try ARPSysctl.restrict(interface: name)
                restrictedInterfaces.insert(name)
            } catch {
                logOnce("cannot set arp_ignore=1/arp_announce=2, so the IPv4 addresses announced there are not made local (else every replica's kernel would answer ARP for them); set them on the node or run privileged",
                        ["interface": "\(name)", "error": "\(error)"])
            }
        }
        // An IPv4 address held locally behind an unrestricted interface would be answered by every node's
        // kernel: it is neither made local nor announced. (IPv6 needs no restriction.)
        var serving = serving, byInterface = byInterface
        for name in byInterface.keys where !restrictedInterfaces.contains(name) {
            let unrestricted = serving.filter { $0.isV4 && states[$0]?.interface == name }
            serving.subtract(unrestricted)
            byInterface[name]?.owned.subtract(unrestricted)
            for address in unrestricted { states[address]?.problem = "arp_ignore/arp_announce could not be set on \(name)" }
        }
        for address in serving.subtracting(localAddresses).sorted() {
            do {
                try RouteNetlink.addHostAddress(address, interfaceIndex: holderIndex)
                localAddresses.insert(address)
            } catch let failure as RouteNetlink.Failure where failure.isPermission {
                missing.append("CAP_NET_ADMIN (to add the addresses to \(holderName) over netlink: \(failure))")
                break
            } catch {
                states[address]?.problem = "cannot add it to \(holderName): \(error)"
                logOnce("address not added to \(holderName)", ["address": "\(address)", "error": "\(error)"])
            }
        }
        for address in localAddresses.subtracting(serving).sorted() {
            // No longer served: give it back. A failure only leaves a harmless local address.
            try? RouteNetlink.removeHostAddress(address, interfaceIndex: holderIndex)
            localAddresses.remove(address)
        }
        for (name, entry) in byInterface.sorted(by: { $0.key < $1.key }) {
            // Opened wherever an address is served, owned here or not: a missing CAP_NET_RAW shows at
            // start-up, not at the first failover.
            if responders[name] == nil {
                do {
                    responders[name] = try LinkResponder(interface: entry.interface, mac: entry.interface.mac!, identity: heartbeatIdentity)
                    logger.info("ready to answer ARP and neighbour solicitations", metadata: ["interface": "\(name)", "mac": "\(entry.interface.mac!)"])
                } catch let failure as PacketSocket.Failure where failure.isPermission {
                    missing.append("CAP_NET_RAW (to answer ARP and neighbour solicitations on an AF_PACKET socket: \(failure))")
                    break
                } catch {
                    logOnce("cannot answer ARP on the interface", ["interface": "\(name)", "error": "\(error)"])
                    for address in entry.owned { states[address]?.problem = "cannot open a packet socket on \(name): \(error)" }
                    continue
                }
            }
            guard missing.isEmpty, let responder = responders[name] else { continue }
            responder.announce(entry.owned)
            for address in entry.owned { states[address]?.announced = true }
        }
        for (name, responder) in responders where byInterface[name] == nil {
            responder.stop(leaving: false)
            responders[name] = nil
        }
        guard !missing.isEmpty else { return }
        let problem = "missing " + missing.map { String($0.prefix { $0 != " " }) }.joined(separator: " and ")
        missingCapabilities = problem
        for responder in responders.values { responder.stop(leaving: false) }
        responders = [:]
        logger.warning("layer-2 announcement is off: \(missing.joined(separator: "; ")). The addresses are served but not announced on the LAN; grant the capabilities (or announce them another way)", metadata: [
            "not_announced": "\(serving.sorted().map(\.description).joined(separator: ", "))",
        ])
        for address in states.keys { states[address]?.announced = false }
    }

    /// The interface the address is announced on: the named one, else the one whose network holds it.
    private func lanInterface(for address: IPAddress, in interfaces: [NetworkInterface]) -> NetworkInterface? {
        let interface = interfaceName.map { name in interfaces.first { $0.name == name } }
            ?? NetworkInterface.containing(address, in: interfaces)
        guard let interface, interface.mac != nil, !interface.isLoopback else { return nil }
        return interface
    }

    /// Stops answering everywhere and tells the other replicas this one is leaving (a shutdown). The
    /// addresses stay held until the process exits: its draining connections still use them.
    public func stop() {
        for responder in responders.values { responder.stop(leaving: true) }
        responders = [:]
    }

    /// The other replicas that were heard on the LAN and are not any more: silent for longer than
    /// `timeout` on every interface, or whose last word was that they are leaving. A replica never
    /// heard is not among them (its heartbeats may not reach this LAN; its Lease decides alone).
    public func silentPeers(timeout: Duration) -> Set<String> {
        var latest: [String: (at: ContinuousClock.Instant, leaving: Bool)] = [:]
        for responder in responders.values {
            for (identity, sighting) in responder.lastHeard() where latest[identity].map({ $0.at < sighting.at }) ?? true {
                latest[identity] = sighting
            }
        }
        let now = ContinuousClock.now
        return Set(latest.filter { $0.value.leaving || now - $0.value.at > timeout }.keys)
    }

    private func logOnce(_ message: String, _ metadata: [String: String]) {
        let key = message + metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined()
        guard logged.insert(key).inserted else { return }
        logger.warning("\(message)", metadata: metadata.mapValues { .string($0) })
    }
}
