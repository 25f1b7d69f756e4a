import ArchwayCore
import ArgumentParser

/// `serve --announce [--announce-interface IF]`: layer-2 announcement of the Gateways' addresses.
struct AnnounceOptions: ParsableArguments {
    @Flag(name: .long, help: "Answer ARP and IPv6 neighbour solicitations for the Gateways' addresses, so the LAN reaches them (needs CAP_NET_ADMIN and CAP_NET_RAW; with --kubernetes one replica announces each address).")
    var announce = false

    @Option(name: .long, help: "The LAN interface to announce on (implies --announce; default: the interface whose network contains each address).")
    var announceInterface: String?

    var announcement: AddressAnnouncement.Options? {
        announce || announceInterface != nil ? AddressAnnouncement.Options(interface: announceInterface) : nil
    }
}
