/// A custom resource an Ingress controller reads beside the Ingress — Kong's KongPlugin, Traefik's
/// Middleware — kept whole as plain values for the provider that converts it (`archway migrate`,
/// side-by-side serving). archway serves none of them on its own.
public struct IngressExtension: Sendable, Equatable {
    /// (group, kind) of each kind kept; other kinds of these groups stay opaque.
    public static let kinds: Set<GroupKind> = [
        GroupKind(group: "configuration.konghq.com", kind: "KongPlugin"),
        GroupKind(group: "configuration.konghq.com", kind: "KongClusterPlugin"),
        GroupKind(group: "traefik.io", kind: "Middleware"),
        GroupKind(group: "traefik.containo.us", kind: "Middleware"),
    ]

    public struct GroupKind: Hashable, Sendable {
        public var group: String
        public var kind: String
    }

    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    /// The whole document, metadata included.
    public var document: ConfigValue

    public var group: String { apiVersion.split(separator: "/").dropLast().joined(separator: "/") }

    public subscript(_ key: String) -> ConfigValue? { document[key] }
}

/// A YAML/JSON value as it was written, for resources read by key rather than by a model type.
public indirect enum ConfigValue: Sendable, Equatable, Codable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case list([ConfigValue])
    case map([String: ConfigValue])
    case null

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([ConfigValue].self) { self = .list(value) }
        else { self = .map(try container.decode([String: ConfigValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .list(let value): try container.encode(value)
        case .map(let value): try container.encode(value)
        case .null: try container.encodeNil()
        }
    }

    public subscript(_ key: String) -> ConfigValue? {
        if case .map(let map) = self { return map[key] }
        return nil
    }

    /// A scalar as text ("10" for the number 10, "true" for true).
    public var text: String? {
        switch self {
        case .string(let value): value
        case .number(let value): value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
        case .bool(let value): String(value)
        default: nil
        }
    }

    public var int: Int? {
        switch self {
        case .number(let value): value == value.rounded() ? Int(exactly: value) : nil
        case .string(let value): Int(value)
        default: nil
        }
    }

    public var bool: Bool? {
        switch self {
        case .bool(let value): value
        case .string(let value): value == "true" ? true : value == "false" ? false : nil
        default: nil
        }
    }

    /// A list of scalars as texts; a single scalar is a list of one.
    public var texts: [String] {
        switch self {
        case .list(let values): values.compactMap(\.text)
        default: text.map { [$0] } ?? []
        }
    }
}
