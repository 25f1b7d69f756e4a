import GatewayAPI
@testable import L2Announcement
import Testing

/// The frames layer-2 announcement reads and writes, byte for byte against frames Linux itself sent
/// (captured with `tcpdump -xx` between two network namespaces: arping and ndisc6 asking, the
/// kernel answering), and the replica choice, without sockets.
struct L2AnnouncePacketTests {
    static func bytes(_ hex: String) -> [UInt8] {
        let digits = Array(hex.filter(\.isHexDigit))
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
    }

    // arping -I awcap0 10.99.0.2 from 10.99.0.1 (02:00:00:00:00:01), and the kernel's reply.
    static let arpRequest = bytes("ffff ffff ffff 0200 0000 0001 0806 0001 0800 0604 0001 0200 0000 0001 0a63 0001 ffff ffff ffff 0a63 0002")
    static let kernelARPReply = bytes("0200 0000 0001 0200 0000 0002 0806 0001 0800 0604 0002 0200 0000 0002 0a63 0002 0200 0000 0001 0a63 0001")
    // ndisc6 fd00:99::2 from fe80::ff:fe00:1 to the solicited-node group, and the kernel's advertisement.
    static let solicitation = bytes("""
        3333 ff00 0002 0200 0000 0001 86dd 600d bcc4 0020 3aff fe80 0000 0000 0000 0000 00ff fe00 0001 ff02 0000 0000 0000 0000
        0001 ff00 0002 8700 7c7e 0000 0000 fd00 0099 0000 0000 0000 0000 0000 0002 0101 0200 0000 0001
        """)
    static let kernelAdvertisement = bytes("""
        0200 0000 0001 0200 0000 0002 86dd 6000 0000 0020 3aff fd00 0099 0000 0000 0000 0000 0000 0002 fe80 0000 0000 0000 0000
        00ff fe00 0001 8800 1ae8 6000 0000 fd00 0099 0000 0000 0000 0000 0000 0002 0201 0200 0000 0002
        """)
    static let node = MACAddress("02:00:00:00:00:02")!

    @Test func anARPRequestIsReadAndAnsweredAsTheKernelAnswersIt() throws {
        let request = try #require(ARPPacket.parseRequest(Self.arpRequest))
        #expect(request == .init(senderMAC: MACAddress("02:00:00:00:00:01")!, senderIP: IPAddress("10.99.0.1")!, target: IPAddress("10.99.0.2")!))
        let reply = ARPPacket.reply(to: request, from: Self.node)
        #expect(Array(reply.prefix(42)) == Self.kernelARPReply)
        #expect(reply.count == 60 && reply.dropFirst(42).allSatisfy { $0 == 0 }, "padded to Ethernet's minimum with zeros")
        #expect(ARPPacket.parseRequest(Self.kernelARPReply) == nil, "a reply is not a request")
    }

    @Test func aGratuitousARPIsABroadcastRequestFromAndForTheAddress() {
        let frame = ARPPacket.gratuitous(IPAddress("10.99.0.100")!, from: Self.node)
        #expect(Array(frame.prefix(42)) == Self.bytes("ffff ffff ffff 0200 0000 0002 0806 0001 0800 0604 0001 0200 0000 0002 0a63 0064 0000 0000 0000 0a63 0064"))
    }

    @Test func aSolicitationToTheSolicitedNodeGroupIsReadWithItsLinkLayerOption() throws {
        let solicitation = try #require(NeighborDiscovery.parseSolicitation(Self.solicitation))
        #expect(solicitation.target == IPAddress("fd00:99::2"))
        #expect(solicitation.senderIP == IPAddress("fe80::ff:fe00:1"))
        #expect(solicitation.senderLinkLayer == MACAddress("02:00:00:00:00:01"))
        #expect(NeighborDiscovery.solicitedNodeGroup(of: IPAddress("fd00:99::2")!) == IPAddress("ff02::1:ff00:2"))
        #expect(MACAddress.multicast(for: NeighborDiscovery.solicitedNodeGroup(of: IPAddress("fd00:99::2")!)).bytes == Array(Self.solicitation.prefix(6)))
        #expect(NeighborDiscovery.parseSolicitation(Self.kernelAdvertisement) == nil, "an advertisement is not a solicitation")
        var forwarded = Self.solicitation
        forwarded[21] = 254
        #expect(NeighborDiscovery.parseSolicitation(forwarded) == nil, "hop limit below 255: it crossed a router, RFC 4861 says drop it")
    }

    @Test func theAdvertisementMatchesTheKernelsChecksumFlagsAndOption() throws {
        let solicitation = try #require(NeighborDiscovery.parseSolicitation(Self.solicitation))
        let advertisement = NeighborDiscovery.advertisement(answering: solicitation, from: Self.node, source: IPAddress("fd00:99::2")!)
        #expect(advertisement == Self.kernelAdvertisement)
    }

    @Test func duplicateAddressDetectionAndUnsolicitedAdvertisementsGoToAllNodesWithoutSolicited() throws {
        var probe = try #require(NeighborDiscovery.parseSolicitation(Self.solicitation))
        probe.senderIP = IPAddress("::")!
        probe.senderLinkLayer = nil
        for frame in [NeighborDiscovery.advertisement(answering: probe, from: Self.node, source: IPAddress("fe80::2")!),
                      NeighborDiscovery.unsolicited(IPAddress("fd00:99::2")!, from: Self.node, source: IPAddress("fe80::2")!)] {
            #expect(Array(frame.prefix(6)) == Self.bytes("3333 0000 0001"))
            #expect(Array(frame[38..<54]) == IPAddress("ff02::1")!.bytes)
            #expect(frame[58] == 0x20, "Override only")
            // A receiver's check: the checksum over the pseudo-header and the message sums to zero.
            let icmp = Array(frame[54...])
            #expect(NeighborDiscovery.checksum(source: IPAddress("fe80::2")!, destination: IPAddress("ff02::1")!, icmp: icmp) == 0)
        }
    }

    @Test func onlyAddressesThatBelongOnALANAreAnnounceable() {
        for text in ["10.99.0.100", "192.0.2.1", "fd00:99::100", "2001:db8::1"] { #expect(IPAddress(text)!.isAnnounceable, "\(text)") }
        for text in ["127.0.0.1", "0.0.0.0", "169.254.1.1", "224.0.0.1", "::", "::1", "fe80::1", "ff02::1"] {
            #expect(!IPAddress(text)!.isAnnounceable, "\(text)")
        }
        #expect(IPAddress("gateway.example") == nil)
        #expect(IPRange(network: IPAddress("10.99.0.0")!, prefixLength: 24).contains(IPAddress("10.99.0.100")!))
        #expect(!IPRange(network: IPAddress("10.99.0.0")!, prefixLength: 24).contains(IPAddress("10.99.1.100")!))
    }

    @Test func rendezvousGivesEachAddressOneOwnerAndMovesOnlyTheLeaversAddresses() {
        let addresses = Set((1...200).map { IPAddress("10.99.\($0 / 250).\($0 % 250)")! })
        let replicas: Set<String> = ["archway-7d9f-abcde", "archway-7d9f-fghij", "archway-7d9f-klmno"]
        let owners = Dictionary(uniqueKeysWithValues: addresses.map { ($0, Rendezvous.owner(of: $0, among: replicas)!) })
        let shares = replicas.map { replica in Rendezvous.owned(by: replica, of: addresses, among: replicas) }
        #expect(shares.map(\.count).reduce(0, +) == addresses.count, "every address has exactly one owner")
        #expect(shares.allSatisfy { $0.count > 40 }, "each replica gets a fair share: \(shares.map(\.count))")
        // The same answer whatever order the member list comes in.
        #expect(addresses.allSatisfy { Rendezvous.owner(of: $0, among: replicas.sorted().reversed()) == owners[$0] })

        let leaver = "archway-7d9f-fghij"
        let remaining = replicas.subtracting([leaver])
        for address in addresses {
            let after = Rendezvous.owner(of: address, among: remaining)!
            if owners[address] == leaver { #expect(remaining.contains(after)) } else { #expect(after == owners[address], "\(address) moved without cause") }
        }
        #expect(Rendezvous.weight(IPAddress("10.99.0.100")!, "a") == Rendezvous.weight(IPAddress("10.99.0.100")!, "a"))
    }

    @Test func theResponderAnswersOnlyForWhatItAnnounces() throws {
        let request = try #require(ARPPacket.parseRequest(Self.arpRequest))
        let announced: Set<IPAddress> = [request.target, IPAddress("fd00:99::2")!]
        let responder = FrameAnswerer(mac: Self.node)
        #expect(responder.answer(Self.arpRequest, announced: announced) == ARPPacket.reply(to: request, from: Self.node))
        #expect(responder.answer(Self.arpRequest, announced: [IPAddress("fd00:99::2")!]) == nil)
        #expect(responder.answer(Self.solicitation, announced: announced) == Self.kernelAdvertisement)
        // Another host's gratuitous ARP for the address is news, not a question.
        #expect(responder.answer(ARPPacket.gratuitous(request.target, from: MACAddress("02:00:00:00:00:09")!), announced: announced) == nil)
    }

    /// A heartbeat is a broadcast frame of EtherType 0x88B5 naming the replica; its leaving flag
    /// survives the trip, and neither ARP nor a truncated or later-version frame reads as one.
    @Test func aHeartbeatNamesItsReplicaAndWhetherItIsLeaving() throws {
        let frame = PeerHeartbeat.frame(identity: "archway-7d9f-abcde", leaving: false, from: Self.node)
        #expect(Array(frame[0..<6]) == MACAddress.broadcast.bytes && Array(frame[6..<12]) == Self.node.bytes)
        #expect(Array(frame[12..<14]) == [0x88, 0xb5] && frame.count == 60)
        #expect(PeerHeartbeat.parse(frame) == PeerHeartbeat.Beat(identity: "archway-7d9f-abcde", leaving: false))
        let leaving = PeerHeartbeat.frame(identity: "b", leaving: true, from: Self.node)
        #expect(PeerHeartbeat.parse(leaving) == PeerHeartbeat.Beat(identity: "b", leaving: true))
        #expect(PeerHeartbeat.parse(Self.arpRequest) == nil)
        var later = frame
        later[18] = 2
        #expect(PeerHeartbeat.parse(later) == nil, "a later version is not misread")
        let long = PeerHeartbeat.frame(identity: String(repeating: "x", count: 300), leaving: false, from: Self.node)
        #expect(PeerHeartbeat.parse(long)?.identity.count == 255, "names are cut at 255 bytes, not wrapped")
        #expect(PeerHeartbeat.parse(Array(long.prefix(100))) == nil, "a truncated frame is not read")
    }
}
