import Foundation
import GatewayAPI
import Testing
import Yams

/// The decoder that replaced Yams' YAMLDecoder reads scalars as YAML 1.1 (and Yams) read them, so a
/// manifest means what it meant before; and the loader reuses what an unchanged file parsed to.
struct ManifestDecoderTests {
    private struct Scalars: Decodable {
        var plainNumberAsText: String
        var quotedNull: String?
        var plainNull: String?
        var tilde: String?
        var empty: String?
        var absent: String?
        var hex: Int
        var separated: Int
        var octal: Int
        var negative: Int
        var yes: Bool
        var off: Bool
        var half: Double
        var list: [Int]
        var map: [String: String]
    }

    private func decode<T: Decodable>(_ type: T.Type, _ yaml: String) throws -> T {
        let parser = try ManifestDecoder.parser(yaml: yaml)
        let root = try parser.nextRoot()
        return try ManifestDecoder().decode(type, from: try #require(root))
    }

    @Test func scalarsReadAsYAMLWritesThem() throws {
        let value = try decode(Scalars.self, """
        plainNumberAsText: 80
        quotedNull: "null"
        plainNull: null
        tilde: ~
        empty:
        hex: 0x1F
        separated: 1_000
        octal: 010
        negative: -42
        yes: yes
        off: Off
        half: 0.5
        list: [1, 2, 3]
        map: {a: "1", b: 2}
        """)
        #expect(value.plainNumberAsText == "80")
        #expect(value.quotedNull == "null")
        #expect(value.plainNull == nil && value.tilde == nil && value.empty == nil && value.absent == nil)
        #expect(value.hex == 31 && value.separated == 1000 && value.octal == 8 && value.negative == -42)
        #expect(value.yes == true && value.off == false)
        #expect(value.half == 0.5)
        #expect(value.list == [1, 2, 3])
        #expect(value.map == ["a": "1", "b": "2"])
    }

    private struct Port: Decodable { var port: Int }
    private struct Flag: Decodable { var on: Bool }

    @Test func quotedNumbersAndBooleansAreText() {
        #expect(throws: DecodingError.self) { try decode(Port.self, "port: \"80\"") }
        #expect(throws: DecodingError.self) { try decode(Flag.self, "on: 'true'") }
        #expect(throws: DecodingError.self) { try decode(Flag.self, "on: maybe") }
    }

    @Test func mergeKeysLendTheirFieldsAndOwnFieldsWin() throws {
        struct Pair: Decodable { var a: String; var b: String }
        let values = try decode([Pair].self, """
        - &base {a: from-base, b: from-base}
        - <<: *base
          b: own
        """)
        #expect(values.map(\.a) == ["from-base", "from-base"])
        #expect(values.map(\.b) == ["from-base", "own"])
    }

    @Test func wrongTypesNameTheFieldInTheLoadersMessage() {
        let result = ManifestLoader().parse(text: """
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: gw}
        spec:
          gatewayClassName: archway
          listeners:
          - {name: http, protocol: HTTP, port: eighty}
        """, file: "gw.yaml")
        #expect(result.resources.isEmpty)
        #expect(result.errors.map(\.description) == ["gw.yaml: document 1 (Gateway gw): spec.listeners[0].port: expected an integer"])
    }

    @Test func missingRequiredFieldsAndDuplicateKeysAreErrors() {
        let missing = ManifestLoader().parse(text: """
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: gw}
        spec: {listeners: []}
        """, file: "gw.yaml")
        #expect(missing.errors.map(\.description) == ["gw.yaml: document 1 (Gateway gw): spec.gatewayClassName: required field is missing"])
        let duplicated = ManifestLoader().parse(text: "apiVersion: v1\nkind: Namespace\nkind: Service\nmetadata: {name: x}\n", file: "dup.yaml")
        #expect(duplicated.resources.isEmpty)
        #expect(duplicated.errors.first?.description.contains("not valid YAML or JSON") == true)
    }

    @Test func aLoaderRereadsOnlyChangedBytesEvenWithinOneClockTick() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("archway-cache-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let a = directory.appendingPathComponent("a.yaml"), b = directory.appendingPathComponent("b.yaml")
        try "apiVersion: v1\nkind: Namespace\nmetadata: {name: one}\n".write(to: a, atomically: false, encoding: .utf8)
        try "apiVersion: v1\nkind: Namespace\nmetadata: {name: keep}\n".write(to: b, atomically: false, encoding: .utf8)
        let loader = ManifestLoader()
        #expect(loader.load(paths: [directory.path]).resources.map(\.resource.ref.name) == ["one", "keep"])
        // Same size, written at once: a modification time would not tell the two apart.
        try "apiVersion: v1\nkind: Namespace\nmetadata: {name: two}\n".write(to: a, atomically: false, encoding: .utf8)
        #expect(loader.load(paths: [directory.path]).resources.map(\.resource.ref.name) == ["two", "keep"])
        try FileManager.default.removeItem(at: b)
        #expect(loader.load(paths: [directory.path]).resources.map(\.resource.ref.name) == ["two"])
        try "apiVersion: v1\nkind: Namespace\nmetadata: {name: two\n".write(to: a, atomically: false, encoding: .utf8)
        let broken = loader.load(paths: [directory.path])
        #expect(broken.resources.isEmpty)
        #expect(broken.errors.count == 1)
    }
}
