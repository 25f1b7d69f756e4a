import Foundation
import GatewayAPI

/// Something that happened to an object, as `kubectl describe` lists Events: a configuration that
/// could not be loaded, an object newly rejected (a condition turning False) or recovered.
public struct ArchwayEvent: Codable, Sendable, Equatable {
    public enum Severity: String, Codable, Sendable { case Normal, Warning }
    public var type: Severity
    /// CamelCase, as Kubernetes reasons are: ReloadFailed, the condition's reason when rejected, Recovered.
    public var reason: String
    /// The object it is about; nil when the error names none (an unreadable file).
    public var regarding: ObjectRef?
    public var note: String
    /// How many times it happened; a repeat updates the one event rather than adding another.
    public var count: Int
    public var firstTime: String
    public var lastTime: String

    public init(type: Severity, reason: String, regarding: ObjectRef?, note: String, time: Date = Date()) {
        self.type = type
        self.reason = reason
        self.regarding = regarding
        self.note = note
        count = 1
        firstTime = ArchwayEvent.timestamp(time)
        lastTime = firstTime
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: date)
    }

    /// What makes two events the same one happening again.
    var identity: String { "\(type.rawValue) \(reason) \(regarding?.description ?? "-") \(note)" }

    /// Whether the event is about the object: kinds compare as kubectl's do (case-insensitively), and a
    /// manifest that named no namespace is in `default`.
    public func regards(_ object: ObjectRef) -> Bool {
        guard let regarding, regarding.kind.lowercased() == object.kind.lowercased(), regarding.name == object.name else { return false }
        return regarding.namespace == object.namespace || (regarding.namespace.isEmpty && ["", "default"].contains(object.namespace))
    }

    /// A manifest error's "Kind namespace/name" (or "Kind name"), as the loader writes it.
    static func object(named text: String?) -> ObjectRef? {
        guard let text, let space = text.firstIndex(of: " ") else { return nil }
        let kind = String(text[..<space]), rest = text[text.index(after: space)...]
        let parts = rest.split(separator: "/", maxSplits: 1).map(String.init)
        return parts.count == 2 ? ObjectRef(kind: kind, namespace: parts[0], name: parts[1]) : ObjectRef(kind: kind, namespace: "", name: String(rest))
    }
}
