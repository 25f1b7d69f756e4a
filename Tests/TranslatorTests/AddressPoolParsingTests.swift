import GatewayAPI
import Testing
import Translator

/// What an AddressPool's `spec.addresses` may say, and what a user is told when it says something else.
struct AddressPoolParsingTests {
    @Test(arguments: [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),  // a lone zero group is not compressed
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),  // the longest run of zeros
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),  // the first of two equal runs
        ("::", "::"),
        ("fd00::", "fd00::"),
        ("::FFFF:c000:0201", "::ffff:192.0.2.1"),  // IPv4-mapped: the IPv4 part in dotted form
    ])
    func addressesPrintCanonically(_ written: String, _ canonical: String) {
        #expect(IPAddress(written)?.description == canonical)
    }

    @Test(arguments: ["10.0.0.256", "010.0.0.1", "10.0.0", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", ":::1", "fd00::g", ""])
    func malformedAddressesAreRefused(_ text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func rangesCountWhatTheyHold() throws {
        let sizes = try ["172.21.5.240/28", "172.21.5.240-172.21.5.250", "fd00:10::/120", "fd00:10::10 - fd00:10::1f", "fd00::/64", "10.0.0.7"]
            .map { try IPRange.parse($0).get().count.description }
        #expect(sizes == ["16", "11", "256", "16", "18446744073709551616", "1"])
    }

    private func load(_ addresses: [String]) -> ManifestLoader.Result {
        let list = addresses.map { "\"\($0)\"" }.joined(separator: ", ")
        return ManifestLoader().parse(text: """
            apiVersion: archway.dev/v1alpha1
            kind: AddressPool
            metadata: {name: edge}
            spec:
              addresses: [\(list)]
            """, file: "pools.yaml")
    }

    @Test func aValidPoolIsClusterScopedAndReadyForTheSnapshot() throws {
        let loaded = load(["172.21.5.240/28", "172.21.6.10-172.21.6.20", "fd00:10::/120", "fd00:20::1-fd00:20::ff"])
        #expect(loaded.errors.isEmpty)
        let snapshot = ResourceSnapshot(loaded.resources.map(\.resource))
        #expect(snapshot.addressPools.map(\.metadata.name) == ["edge"])
        #expect(snapshot.addressPools.first?.metadata.namespace == nil)
        #expect(loaded.resources.first?.resource.ref.description == "AddressPool edge")
    }

    @Test(arguments: [
        ("10.0.0.300/24", "\"10.0.0.300/24\" is not an IPv4 or IPv6 CIDR or range"),
        ("10.0.0.5/24", "\"10.0.0.5/24\" has bits set after the prefix length; did you mean 10.0.0.0/24?"),
        ("10.0.0.0/33", "\"10.0.0.0/33\" is not an IPv4 or IPv6 CIDR or range"),
        ("10.0.0.20-10.0.0.10", "\"10.0.0.20-10.0.0.10\" ends before it starts"),
        ("10.0.0.1-fd00::1", "\"10.0.0.1-fd00::1\" mixes an IPv4 and an IPv6 address"),
        ("fd00::/-1", "\"fd00::/-1\" is not an IPv4 or IPv6 CIDR or range"),
        ("172.21.5.250-172.21.6.3", "\"172.21.5.250-172.21.6.3\" overlaps spec.addresses[0] (172.21.5.240/28)"),
    ])
    func aBadEntryIsNamedWithItsFieldAndValue(_ entry: String, _ message: String) {
        let loaded = load(["172.21.5.240/28", entry])
        #expect(loaded.errors.map(\.description) == ["pools.yaml: document 1 (AddressPool edge): spec.addresses[1]: \(message)"])
    }

    @Test func anInvalidPoolIsStillReportedOnItsStatus() {
        let loaded = load(["172.21.5.240/28", "10.0.0.300/24"])
        let result = Translator().translate(ResourceSnapshot(loaded.resources.map(\.resource)))
        let accepted = result.statuses.addressPools["edge"]?.conditions.first
        #expect(accepted?.status == "False")
        #expect(accepted?.reason == "InvalidAddresses")
        #expect(accepted?.message == "spec.addresses[1]: \"10.0.0.300/24\" is not an IPv4 or IPv6 CIDR or range")
        #expect(result.statuses.addressPools["edge"]?.free == "0")
    }

    @Test func aValidPoolReportsItsSizeOnItsStatus() {
        let loaded = load(["172.21.5.240/28", "fd00:10::/64"])
        let status = Translator().translate(ResourceSnapshot(loaded.resources.map(\.resource))).statuses.addressPools["edge"]
        #expect(status?.conditions.map(\.reason) == ["Accepted"])
        // 16 − the network and broadcast addresses, plus 2^64 − the Subnet-Router anycast address.
        #expect(status?.total == "18446744073709551629")
        #expect(status?.used == 0)
        #expect(status?.free == status?.total)
    }

    @Test func aMisspelledKindIsNamed() {
        let loaded = ManifestLoader().parse(text: "apiVersion: archway.dev/v1alpha1\nkind: AdressPool\nmetadata: {name: x}\nspec: {addresses: []}\n",
                                            file: "pools.yaml")
        #expect(loaded.errors.first?.message.contains("did you mean AddressPool?") == true)
    }
}
