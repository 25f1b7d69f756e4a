import Foundation
import GatewayAPI
import RoutingTable
import Testing
import Translator

/// The routing table is the IR between the translator and the data plane: plain values that can be
/// dumped, diffed and read back. Every fixture's table survives a JSON round trip unchanged.
struct TableCodingTests {
    @Test(arguments: FixtureTests.names)
    func tableSurvivesAJSONRoundTrip(_ name: String) throws {
        let text = try String(contentsOfFile: FixtureTests.directory.appendingPathComponent(name).path, encoding: .utf8)
        let loaded = ManifestLoader().parse(text: text, file: name)
        let table = Translator().translate(ResourceSnapshot(loaded.resources.map(\.resource))).table
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let encoded = try encoder.encode(table)
        let decoded = try JSONDecoder().decode(RoutingTable.self, from: encoded)
        #expect(decoded == table)
        #expect(try encoder.encode(decoded) == encoded, "the same rendering after the round trip")
    }
}
