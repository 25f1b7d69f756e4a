import Yams

/// Decodes model types from a parsed YAML or JSON node.
///
/// Yams' own `YAMLDecoder` resolves every scalar's type by matching it against regular expressions,
/// and finds each field of a mapping by comparing nodes (which resolves both tags again); at 10,000
/// routes that was three quarters of loading a configuration. Here a scalar is read only as the type
/// the model asks for, and fields are found by comparing strings. The reading rules are Yams' own, so
/// manifests mean what they meant: a plain `null`, `~` or nothing is null, a quoted one is a string;
/// integers and floats must be plain (`0x`, `0o`, `_` separators accepted); booleans are plain
/// `true/false/yes/no/on/off` as YAML 1.1 writes them; any scalar reads as a string. Errors are
/// `DecodingError`s with the coding path, which `ManifestLoader.describe` turns into messages.
///
/// Nodes must come from a parser using `Resolver.basic` (`ManifestDecoder.parser`), so that nothing
/// on the way resolves tags by regular expression.
public struct ManifestDecoder: Sendable {
    public init() {}

    public static func parser(yaml: String) throws -> Parser {
        try Parser(yaml: yaml, resolver: .basic)
    }

    public func decode<T: Decodable>(_ type: T.Type = T.self, from node: Node) throws -> T {
        try NodeDecoder(node: node, codingPath: []).decodeValue(type)
    }
}

extension Node {
    /// The value of a mapping's key, found by comparing strings (Yams' subscript compares nodes,
    /// resolving tags by regular expression). Keys merged in with YAML's `<<` come after the mapping's own.
    public func field(_ key: String) -> Node? {
        guard case .mapping(let mapping) = self else { return nil }
        var merged: [Node] = []
        for index in mapping.indices {
            let pair = mapping[index]
            guard case .scalar(let scalar) = pair.key else { continue }
            if scalar.string == key { return pair.value }
            if scalar.string == "<<", scalar.style == .plain { merged.append(pair.value) }
        }
        for source in merged {
            switch source {
            case .mapping: if let value = source.field(key) { return value }
            case .sequence(let sequence): for item in sequence { if let value = item.field(key) { return value } }
            default: continue
            }
        }
        return nil
    }

    /// A plain `null`, `~` or empty scalar: YAML's null. A quoted one is a string.
    var isNull: Bool {
        guard case .scalar(let scalar) = self, scalar.style == .plain || scalar.style == .any else { return false }
        switch scalar.string {
        case "", "~", "null", "Null", "NULL": return true
        default: return false
        }
    }
}

private struct ManifestCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init(intValue: Int) {
        self.stringValue = "\(intValue)"
        self.intValue = intValue
    }
}

private struct NodeDecoder: Decoder, SingleValueDecodingContainer {
    let node: Node
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .mapping = node else { throw mismatch([String: Any].self) }
        return KeyedDecodingContainer(KeyedContainer<Key>(decoder: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .sequence(let sequence) = node else { throw mismatch([Any].self) }
        return UnkeyedContainer(items: Array(sequence), codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    func decodeNil() -> Bool { node.isNull }

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decodeValue(type) }

    /// Scalars by the reading rules above; everything else by its own `init(from:)`.
    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        switch type {
        case is String.Type: return try scalar(String.self) { $0.string } as! T
        case is Bool.Type: return try scalar(Bool.self, plain: true) { Self.bool($0.string) } as! T
        case is Int.Type: return try integer(Int.self) as! T
        case is Int64.Type: return try integer(Int64.self) as! T
        case is Int32.Type: return try integer(Int32.self) as! T
        case is UInt16.Type: return try integer(UInt16.self) as! T
        case is UInt8.Type: return try integer(UInt8.self) as! T
        case is UInt32.Type: return try integer(UInt32.self) as! T
        case is UInt64.Type: return try integer(UInt64.self) as! T
        case is UInt.Type: return try integer(UInt.self) as! T
        case is Double.Type: return try scalar(Double.self, plain: true) { Self.floatingPoint($0.string) } as! T
        case is Float.Type: return try scalar(Float.self, plain: true) { Self.floatingPoint($0.string).map { Float($0) } } as! T
        default: return try T(from: self)
        }
    }

    private func scalar<T>(_ type: T.Type, plain: Bool = false, _ read: (Node.Scalar) -> T?) throws -> T {
        guard case .scalar(let scalar) = node else { throw mismatch(type) }
        if plain, scalar.style != .plain, scalar.style != .any { throw mismatch(type) }
        guard let value = read(scalar) else { throw mismatch(type) }
        return value
    }

    private func integer<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
        try scalar(type, plain: true) { Self.integer($0.string) }
    }

    /// YAML 1.1 integers as Yams reads them: sign, `_` separators, `0x`, `0b`, `0o` and a leading `0` for octal.
    static func integer<T: FixedWidthInteger>(_ written: String) -> T? {
        let text = written.contains("_") ? written.filter { $0 != "_" } : written
        if text == "0" { return 0 }
        let negative = text.hasPrefix("-")
        guard T.isSigned || !negative else { return nil }
        let digits = text.dropFirst(negative || text.hasPrefix("+") ? 1 : 0)
        for (prefix, radix) in [("0x", 16), ("0b", 2), ("0o", 8), ("0", 8)] where digits.hasPrefix(prefix) {
            return T((negative ? "-" : "") + digits.dropFirst(prefix.count), radix: radix)
        }
        return T(text)
    }

    static func floatingPoint(_ text: String) -> Double? {
        switch text.lowercased() {
        case ".inf", "+.inf": return .infinity
        case "-.inf": return -.infinity
        case ".nan": return .nan
        default: return Double(text.contains("_") ? text.filter { $0 != "_" } : text)
        }
    }

    static func bool(_ text: String) -> Bool? {
        switch text {
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": true
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": false
        default: nil
        }
    }

    func mismatch(_ type: Any.Type) -> DecodingError {
        .typeMismatch(type, .init(codingPath: codingPath, debugDescription: "Expected to decode \(type) but found \(Self.describe(node)) instead."))
    }

    private static func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar): "the scalar '\(scalar.string)'"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: NodeDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }

    var allKeys: [Key] {
        guard case .mapping(let mapping) = decoder.node else { return [] }
        var seen = Set<String>()
        var keys: [Key] = []
        for index in mapping.indices {
            guard case .scalar(let scalar) = mapping[index].key else { continue }
            if scalar.string == "<<", scalar.style == .plain {
                for merged in mergedKeys(mapping[index].value) where seen.insert(merged).inserted {
                    if let key = Key(stringValue: merged) { keys.append(key) }
                }
            } else if seen.insert(scalar.string).inserted, let key = Key(stringValue: scalar.string) {
                keys.append(key)
            }
        }
        return keys
    }

    private func mergedKeys(_ node: Node) -> [String] {
        switch node {
        case .mapping(let mapping): mapping.indices.compactMap { mapping[$0].key.scalar?.string }
        case .sequence(let sequence): sequence.flatMap(mergedKeys)
        default: []
        }
    }

    func contains(_ key: Key) -> Bool { decoder.node.field(key.stringValue) != nil }

    private func child(_ key: any CodingKey) throws -> NodeDecoder {
        guard let node = decoder.node.field(key.stringValue) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "No value for key \"\(key.stringValue)\"."))
        }
        return NodeDecoder(node: node, codingPath: codingPath + [key])
    }

    func decodeNil(forKey key: Key) throws -> Bool { try child(key).node.isNull }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try child(key).decodeValue(type) }

    /// Absent and null both read as nil, as with Yams (and JSON).
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let node = decoder.node.field(key.stringValue), !node.isNull else { return nil }
        return try NodeDecoder(node: node, codingPath: codingPath + [key]).decodeValue(type)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try child(key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { try child(key).unkeyedContainer() }

    func superDecoder() throws -> any Decoder { decoder }

    func superDecoder(forKey key: Key) throws -> any Decoder { try child(key) }
}

private struct UnkeyedContainer: UnkeyedDecodingContainer {
    let items: [Node]
    let codingPath: [any CodingKey]
    var currentIndex = 0
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    init(items: [Node], codingPath: [any CodingKey]) {
        self.items = items
        self.codingPath = codingPath
    }

    private mutating func next<T>(_ type: T.Type) throws -> NodeDecoder {
        let key = ManifestCodingKey(intValue: currentIndex)
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(type, .init(codingPath: codingPath + [key], debugDescription: "The list has no more items."))
        }
        currentIndex += 1
        return NodeDecoder(node: items[currentIndex - 1], codingPath: codingPath + [key])
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, items[currentIndex].isNull else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next(type).decodeValue(type) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next([String: Any].self).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next([Any].self).unkeyedContainer() }

    mutating func superDecoder() throws -> any Decoder { try next(Any.self) }
}
