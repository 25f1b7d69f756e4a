import GatewayAPI
import Foundation
import NIOConcurrencyHelpers

/// Answers ARP requests and neighbour solicitations for the addresses it announces on one interface,
/// from a thread of its own that blocks in recv (with a short timeout), so the event loops never wait
/// on it. When it starts announcing an address it sends a gratuitous ARP or an unsolicited neighbour
/// advertisement at once and twice more, one second apart: a client whose neighbour entry changed less
/// than a second ago (Linux's locktime) or that missed the first still moves over.
final class LinkResponder: Sendable {
    let interface: NetworkInterface
    private let frames: FrameAnswerer
    private let socket: NIOLockedValueBox<PacketSocket?>
    private let state = NIOLockedValueBox(State())

    private struct State {
        var announced: Set<IPAddress> = []
        /// Announcements still to repeat: when next, and how many more.
        var repeats: [IPAddress: (next: ContinuousClock.Instant, left: Int)] = [:]
        var stopped = false
    }

    static let repeatInterval: Duration = .seconds(1)

    /// Opens the socket (CAP_NET_RAW) and starts the reading thread.
    init(interface: NetworkInterface, mac: MACAddress) throws {
        self.interface = interface
        frames = FrameAnswerer(mac: mac)
        socket = NIOLockedValueBox(try PacketSocket(interfaceIndex: interface.index, timeout: .milliseconds(100)))
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

    /// Stops answering at once; the thread closes the socket within its receive timeout.
    func stop() {
        state.withLockedValue { $0.stopped = true; $0.announced = []; $0.repeats = [:] }
    }

    private func run() {
        guard let socket = socket.withLockedValue({ $0 }) else { return }
        while true {
            let frame = socket.receive()
            let (stopped, announced, due) = state.withLockedValue { state -> (Bool, Set<IPAddress>, [IPAddress]) in
                let now = ContinuousClock.now
                let due = state.repeats.filter { $0.value.next <= now }.keys.sorted()
                for address in due {
                    let left = state.repeats[address]!.left - 1
                    state.repeats[address] = left > 0 ? (now + Self.repeatInterval, left) : nil
                }
                return (state.stopped, state.announced, due)
            }
            if stopped { break }
            for address in due { socket.send(frames.unsolicited(address)) }
            if let frame, let reply = frames.answer(frame, announced: announced) { socket.send(reply) }
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
