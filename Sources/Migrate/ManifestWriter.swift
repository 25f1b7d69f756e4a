import Foundation
import Yams

/// Builds manifests as ordered YAML trees (field order as people write them), and prints them as
/// multi-document YAML or as a JSON `List`.
public enum Manifest {
    static func map(_ pairs: [(String, Node?)]) -> Node {
        .mapping(Node.Mapping(pairs.compactMap { key, value in value.map { (Node(key), $0) } }))
    }

    static func seq(_ items: [Node]) -> Node { .sequence(Node.Sequence(items)) }

    static func str(_ value: String) -> Node {
        // Quoted when a plain scalar would read back as a number, boolean or null.
        let plainIsString = Int(value) == nil && Double(value) == nil && value != ""
            && !["true", "false", "yes", "no", "on", "off", "null", "~"].contains(value.lowercased())
            && !value.hasPrefix("*") && !value.hasPrefix("&") && !value.hasPrefix("!")
        return .scalar(Node.Scalar(value, Tag(.str), plainIsString ? .any : .doubleQuoted))
    }

    static func int(_ value: Int) -> Node { .scalar(Node.Scalar(String(value), Tag(.int))) }

    static func bool(_ value: Bool) -> Node { .scalar(Node.Scalar(value ? "true" : "false", Tag(.bool))) }

    static func metadata(name: String, namespace: String?, annotations: [String: String] = [:]) -> Node {
        map([("name", str(name)), ("namespace", namespace.map(str)),
             ("annotations", annotations.isEmpty ? nil : map(annotations.sorted { $0.key < $1.key }.map { ($0.key, str($0.value)) }))])
    }

    public static func yaml(_ documents: [Node]) throws -> String {
        try documents.map { "---\n" + (try Yams.serialize(node: $0, sortKeys: false)) }.joined()
    }

    public static func json(_ documents: [Node]) throws -> String {
        let list: [String: Any] = ["apiVersion": "v1", "kind": "List", "items": documents.map(plain)]
        let data = try JSONSerialization.data(withJSONObject: list, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    private static func plain(_ node: Node) -> Any {
        switch node {
        case .mapping(let mapping):
            var result: [String: Any] = [:]
            for (key, value) in mapping { result[key.string ?? ""] = plain(value) }
            return result
        case .sequence(let sequence): return sequence.map(plain)
        case .scalar(let scalar):
            if scalar.style != .doubleQuoted, let number = Int(scalar.string) { return number }
            if scalar.tag == Tag(.bool) { return scalar.string == "true" }
            return scalar.string
        case .alias: return NSNull()
        }
    }
}
