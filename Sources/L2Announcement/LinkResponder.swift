import GatewayAPI
import Foundation
import NIOConcurrencyHelpers

/// Answers ARP requests and neighbour solicitations for the addresses it announces on one interface,
/// from a thread of its own that blocks in recv (with a short timeout), so the event loops never wait
/// on it. When it starts announcing an address it sends a gratuitous ARP or an unsolicited neighbour
/// advertisement at once and twice more, one second apart: a client whose neighbour entry changed less
/// than a second ago (Linux's locktime) or that missed the first still moves over.
/// With an identity it also broadcasts a `PeerHeartbeat` every `heartbeatInterval` and notes the
/// heartbeats of the other replicas on this LAN (`lastHeard`).
final class LinkResponder: Sendable {
    let interface: NetworkInterface
    private let frames: FrameAnswerer
    private let identity: String?
    private let socket: NIOLockedValueBox<PacketSocket?>
    private let state = NIOLockedValueBox(State())

    private struct State {
        var announced: Set<IPAddress> = []
        /// Announcements still to repeat: when next, and how many more.
        var repeats: [IPAddress: (next: ContinuousClock.Instant, left: Int)] = [:]
        var stopped = false
        var nextHeartbeat = ContinuousClock.now
        /// Each other replica heard on this interface: when its last heartbeat came, and whether it said it was leaving.
        var heard: [String: (at: ContinuousClock.Instant, leaving: Bool)] = [:]
    }

    static let repeatInterval: Duration = .seconds(1)
    static let heartbeatInterval: Duration = .milliseconds(100)

    /// Opens the socket (CAP_NET_RAW) and starts the reading thread.
    init(interface: NetworkInterface, mac: MACAddress, identity: String?) throws {
        self.interface = interface
        frames = FrameAnswerer(mac: mac)
        self.identity = identity
        // Half the heartbeat interval: the thread wakes often enough to send each one on time.
        socket = NIOLockedValueBox(try PacketSocket(interfaceIndex: interface.index, timeout: .milliseconds(50)))
        let thread = Thread { [self] in run() }
        thread.name = "archway-l2-\(interface.name)"
        thread.start()
    }

    /// Announces exactly `addresses` from now on: new ones are announced gratuitously, removed ones
    /// are simply no longer answered (their neighbours' entries age out or move to the new announcer).
    func announce(_ addresses: Set<IPAddress>) {
        let (added, removed) = state.withLockedValue { state -> ([IPAddress], [IPAddress]) in
            let added = addresses.subtracting(state.announced).sorted(), removed = state.announced.subtracting(addresses).sorted()
            state.announced = addresses
            for address in removed { state.repeats[address] = nil }
            for address in added { state.repeats[address] = (ContinuousClock.now + Self.repeatInterval, 2) }
            return (added, removed)
        }
        socket.withLockedValue { socket in
            guard let socket else { return }
            for address in removed where !address.isV4 { socket.membership(.multicast(for: NeighborDiscovery.solicitedNodeGroup(of: address)), join: false) }
            for address in added {
                if !address.isV4 { socket.membership(.multicast(for: NeighborDiscovery.solicitedNodeGroup(of: address)), join: true) }
                socket.send(frames.unsolicited(address))
            }
        }
    }

    /// The other replicas heard on this interface: when each was last heard, and whether it said it was leaving.
    func lastHeard() -> [String: (at: ContinuousClock.Instant, leaving: Bool)] {
        state.withLockedValue { $0.heard }
    }

    /// Stops answering at once; the thread closes the socket within its receive timeout. `leaving`
    /// (a shutdown) tells the other replicas so, three times in case one is lost, and they take this
    /// replica's addresses now.
    func stop(leaving: Bool) {
        state.withLockedValue { $0.stopped = true; $0.announced = []; $0.repeats = [:] }
        guard leaving, let identity else { return }
        socket.withLockedValue { socket in
            for _ in 0..<3 { socket?.send(PeerHeartbeat.frame(identity: identity, leaving: true, from: frames.mac)) }
        }
    }

    private func run() {
        guard let socket = socket.withLockedValue({ $0 }) else { return }
        while true {
            let frame = socket.receive()
            let beat = frame.flatMap(PeerHeartbeat.parse)
            let (stopped, announced, due, heartbeatDue) = state.withLockedValue { state -> (Bool, Set<IPAddress>, [IPAddress], Bool) in
                let now = ContinuousClock.now
                let due = state.repeats.filter { $0.value.next <= now }.keys.sorted()
                for address in due {
                    let left = state.repeats[address]!.left - 1
                    state.repeats[address] = left > 0 ? (now + Self.repeatInterval, left) : nil
                }
                if let beat, beat.identity != identity { state.heard[beat.identity] = (now, beat.leaving) }
                let heartbeatDue = identity != nil && state.nextHeartbeat <= now
                if heartbeatDue { state.nextHeartbeat = now + Self.heartbeatInterval }
                return (state.stopped, state.announced, due, heartbeatDue)
            }
            if stopped { break }
            if heartbeatDue, let identity { socket.send(PeerHeartbeat.frame(identity: identity, leaving: false, from: frames.mac)) }
            for address in due { socket.send(frames.unsolicited(address)) }
            if let frame, beat == nil, let reply = frames.answer(frame, announced: announced) { socket.send(reply) }
        }
        self.socket.withLockedValue { $0 = nil }  // closes it
    }
}

/// What to send for a frame, and when an address starts being announced; no sockets. Advertisements
/// are sent from the target address itself, as Linux sends them for its own addresses.
struct FrameAnswerer: Sendable {
    var mac: MACAddress

    /// The answer to `frame` if it asks for an address in `announced`.
    func answer(_ frame: [UInt8], announced: Set<IPAddress>) -> [UInt8]? {
        if let request = ARPPacket.parseRequest(frame), announced.contains(request.target),
           request.senderIP != request.target {  // another host's own announcement is news, not a question
            return ARPPacket.reply(to: request, from: mac)
        }
        if let solicitation = NeighborDiscovery.parseSolicitation(frame), announced.contains(solicitation.target) {
            return NeighborDiscovery.advertisement(answering: solicitation, from: mac, source: solicitation.target)
        }
        return nil
    }

    /// The gratuitous ARP or unsolicited neighbour advertisement that moves neighbours to this MAC.
    func unsolicited(_ address: IPAddress) -> [UInt8] {
        address.isV4 ? ARPPacket.gratuitous(address, from: mac) : NeighborDiscovery.unsolicited(address, from: mac, source: address)
    }
}
