import Foundation
import Yams

/// Objects the API server sends arrive already parsed by `JSONSerialization`. Turning them back into
/// JSON text for the YAML parser cost most of a cluster's first load (10,000 routes: serialized,
/// re-read by libyaml, every mapping's keys hashed for duplicates), and the text and the parser's
/// events were most of the allocation churn of every watch event. Here the node tree is built straight
/// from the parsed object, with the styles the parser would have given that text, so the reading
/// rules of `ManifestDecoder` are untouched: strings and keys are double-quoted (a JSON `"true"` or
/// `"null"` stays a string, a `"<<"` key merges nothing), numbers, booleans and null are plain.
/// One difference, on purpose: a string is kept as the API server stored it, where libyaml refused
/// the whole object for a DEL or C1 control character (which JSON writes raw) and folded a NEL or a
/// line or paragraph separator into a space.
extension Node {
    public init(json value: Any) {
        switch value {
        case let string as String:
            self = .scalar(.init(string, Tag(.implicit), .doubleQuoted))
        case let object as [String: Any]:
            // Sorted, so that a document reads the same whatever order the dictionary keeps.
            let pairs = object.sorted { $0.key < $1.key }.map { key, value in
                (Node.scalar(.init(key, Tag(.implicit), .doubleQuoted)), Node(json: value))
            }
            self = .mapping(.init(pairs, Tag(.implicit)))
        case let array as [Any]:
            self = .sequence(.init(array.map { Node(json: $0) }, Tag(.implicit)))
        case let number as NSNumber:
            self = .scalar(.init(Self.jsonText(number), Tag(.implicit), .plain))
        default:  // NSNull, and nothing else JSONSerialization gives
            self = .scalar(.init("null", Tag(.implicit), .plain))
        }
    }

    /// A number as `JSONSerialization` writes it: booleans as `true`/`false`; literals too long for a
    /// double (which the parser keeps as `NSDecimalNumber`) digit for digit; doubles in Swift's
    /// shortest form without a trailing `.0` (`2.0` is `2`, `-0.0` is `-0`).
    private static func jsonText(_ number: NSNumber) -> String {
        if type(of: number) == booleanClass { return number.boolValue ? "true" : "false" }
        if let decimal = number as? NSDecimalNumber { return decimal.description }
        switch UInt8(bitPattern: number.objCType.pointee) {
        case UInt8(ascii: "d"), UInt8(ascii: "f"):
            var text = number.doubleValue.description
            if text.hasSuffix(".0") { text.removeLast(2) }
            return text
        default:
            return number.stringValue
        }
    }

    private static let booleanClass: AnyClass = type(of: NSNumber(value: true))
}

extension ManifestLoader {
    /// Decodes one object the API server sent, parsed by `JSONSerialization`, with the rules and
    /// messages a manifest file gets. Its `managedFields` (often larger than the object) are left out
    /// of the tree: nothing reads them.
    public func parse(json object: [String: Any], file: String) -> Result {
        var object = object
        if var metadata = object["metadata"] as? [String: Any], metadata["managedFields"] != nil {
            metadata["managedFields"] = nil
            object["metadata"] = metadata
        }
        return parse(document: Node(json: object), file: file)
    }
}
