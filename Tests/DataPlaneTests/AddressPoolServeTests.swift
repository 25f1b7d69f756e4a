import Foundation
import GatewayAPI
import NIOCore
import Testing
import Translator

/// AddressPools in file mode, over real sockets: a Gateway that asks for no address is served on one
/// from the pool, keeps it while others come and go and across a restart, and frees it when deleted.
@Suite(.timeLimit(.minutes(2)))
struct AddressPoolServeTests {
    static func gateway(_ name: String) -> String {
        """
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: \(name), namespace: default}
        spec:
          gatewayClassName: archway
          listeners: [{name: http, port: 80, protocol: HTTP}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: \(name)}
        spec:
          parentRefs: [{name: \(name)}]
          rules: [{filters: [{type: RequestRedirect, requestRedirect: {hostname: \(name).example, statusCode: 302}}]}]
        """
    }

    static let base = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: GatewayClass
        metadata: {name: archway}
        spec: {controllerName: archway.dev/gateway-controller}
        ---
        apiVersion: archway.dev/v1alpha1
        kind: AddressPool
        metadata: {name: lan}
        spec: {addresses: [127.0.50.0/27]}
        """

    static func addresses(_ harness: GatewayHarness) async throws -> [String: String] {
        var result: [String: String] = [:]
        for item in try await harness.statusItems() where item["kind"] as? String == "Gateway" {
            let name = (item["metadata"] as? [String: Any])?["name"] as? String ?? ""
            result[name] = (((item["status"] as? [String: Any])?["addresses"] as? [[String: Any]]) ?? []).first?["value"] as? String
        }
        return result
    }

    static func poolUsed(_ harness: GatewayHarness) async throws -> Int? {
        let pool = try await harness.statusItems().first { $0["kind"] as? String == "AddressPool" }
        return (pool?["status"] as? [String: Any])?["used"] as? Int
    }

    /// The Gateway named `name` answers on `address` with its own redirect.
    static func answers(_ harness: GatewayHarness, _ name: String, on address: String) async throws -> Bool {
        let client = try await harness.client(address: address)
        defer { Task { await client.close() } }
        let response = try await client.request(.GET, "/", host: "x.example")
        return response.status == 302 && response.headers["location"].first == "http://\(name).example/"
    }

    @Test func aGatewayKeepsItsPoolAddressThroughReloadsAndRestartsAndFreesItWhenDeleted() async throws {
        let harness = GatewayHarness()
        try harness.write("gw.yaml", [Self.base, Self.gateway("alpha")].joined(separator: "\n---\n"))
        try await harness.start()
        let alpha = try #require(try await Self.addresses(harness)["alpha"] ?? nil)
        #expect(alpha.hasPrefix("127.0.50."), "\(alpha)")
        #expect(try await Self.answers(harness, "alpha", on: alpha))
        #expect(await harness.hostPort(80) == 0, "nothing on the default address: alpha has its own")

        // Others arrive: alpha keeps its address, each newcomer gets another.
        var generation = await harness.runtime.generation
        try harness.write("more.yaml", ["beta", "gamma", "delta"].map(Self.gateway).joined(separator: "\n---\n"))
        try await harness.waitForGeneration(atLeast: generation + 1)
        let before = try await Self.addresses(harness)
        #expect(before["alpha"] == alpha)
        #expect(Set(before.values.compactMap { $0 }).count == 4, "four Gateways, four addresses: \(before)")
        for (name, address) in before { #expect(try await Self.answers(harness, name, on: try #require(address))) }
        #expect(try await Self.poolUsed(harness) == 4)

        // A restart with the same files gives every Gateway the address it had.
        let files = try ["gw.yaml", "more.yaml"].map { ($0, try harness.read($0)) }
        await harness.stop()
        let restarted = GatewayHarness()
        for (file, text) in files { try restarted.write(file, text) }
        try await restarted.start()
        defer { Task { await restarted.stop() } }
        #expect(try await Self.addresses(restarted) == before, "after a restart")

        // Deleting a Gateway frees its address and closes its socket; the others stay.
        generation = await restarted.runtime.generation
        try restarted.write("more.yaml", ["beta", "gamma"].map(Self.gateway).joined(separator: "\n---\n"))
        try await restarted.waitForGeneration(atLeast: generation + 1)
        let after = try await Self.addresses(restarted)
        #expect(after["delta"] == nil && after["alpha"] == alpha && after["beta"] == before["beta"] && after["gamma"] == before["gamma"])
        #expect(try await Self.poolUsed(restarted) == 3)
        #expect(await restarted.hostPort(80, address: try #require(before["delta"] ?? nil)) == 0)
    }

    /// Across a restart the pools' choice alone is not enough: a Gateway added meanwhile that comes
    /// first and whose place in the pool is the held address would take it. `--state-dir` remembers
    /// what each held, so the restart keeps it; the newcomer gets another.
    @Test func aRestartWithAStateDirectoryKeepsAddressesAGatewayAddedMeanwhileWouldTake() async throws {
        let pool = AddressPool(metadata: ObjectMeta(name: "pair"), spec: .init(addresses: ["127.0.51.1-127.0.51.2"]))
        func claim(_ name: String) -> AddressClaim {
            AddressClaim(holder: ObjectRef(kind: "Gateway", namespace: "default", name: name), namespaceLabels: [:], creationTimestamp: nil,
                         pool: nil, requested: [], unspecifiedCount: 1, families: [.IPv4], previous: [])
        }
        func placed(_ names: [String]) -> [String: String] {
            let allocation = AddressAllocator.allocate(pools: [pool], claims: names.map(claim))
            return Dictionary(uniqueKeysWithValues: names.map { name in
                (name, allocation.holders[ObjectRef(kind: "Gateway", namespace: "default", name: name)]?.addresses.first?.address.description ?? "")
            })
        }
        // A name that sorts before "zulu" and, with no memory, would take zulu's address.
        let held = try #require(placed(["zulu"])["zulu"])
        let newcomer = try #require((1...50).map { "gw-\($0)" }.first { placed([$0, "zulu"])["zulu"] != held },
                                    "no name in 50 collides; the test needs one")
        let base = Self.base.replacingOccurrences(of: "metadata: {name: lan}\nspec: {addresses: [127.0.50.0/27]}",
                                                  with: "metadata: {name: pair}\nspec: {addresses: [127.0.51.1-127.0.51.2]}")
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("archway-state-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: state) }

        let first = GatewayHarness()
        first.stateDirectory = state
        try first.write("gw.yaml", [base, Self.gateway("zulu")].joined(separator: "\n---\n"))
        try await first.start()
        #expect(try await Self.addresses(first)["zulu"] == held)
        await first.stop()
        let remembered = try String(contentsOfFile: state + "/addresses.json", encoding: .utf8)
        #expect(remembered.contains(held) && remembered.contains("zulu"), "\(remembered)")

        let restarted = GatewayHarness()
        restarted.stateDirectory = state
        try restarted.write("gw.yaml", [base, Self.gateway("zulu"), Self.gateway(newcomer)].joined(separator: "\n---\n"))
        try await restarted.start()
        defer { Task { await restarted.stop() } }
        let after = try await Self.addresses(restarted)
        #expect(after["zulu"] == held, "zulu keeps \(held) after the restart: \(after)")
        #expect(after[newcomer] != nil && after[newcomer] != held, "\(after)")
        #expect(try await Self.answers(restarted, "zulu", on: held))
    }
}
