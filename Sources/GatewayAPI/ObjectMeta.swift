/// The subset of Kubernetes `metadata` archway reads. Unknown fields are ignored by `Decodable`.
public struct ObjectMeta: Codable, Sendable, Equatable {
    public var name: String
    public var namespace: String?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var generation: Int64?
    public var creationTimestamp: String?
    public var resourceVersion: String?
    public var uid: String?

    public init(name: String, namespace: String? = nil, labels: [String: String]? = nil,
                generation: Int64? = nil, creationTimestamp: String? = nil) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.generation = generation
        self.creationTimestamp = creationTimestamp
    }
}

/// Namespace + name; the identity of a namespaced object of a known kind.
public struct NamespacedName: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public var namespace: String
    public var name: String
    public init(_ namespace: String, _ name: String) {
        self.namespace = namespace
        self.name = name
    }
    public var description: String { "\(namespace)/\(name)" }
    public static func < (a: Self, b: Self) -> Bool { (a.namespace, a.name) < (b.namespace, b.name) }
}

/// The identity of any object: kind plus namespaced name. Used to key statuses and errors.
public struct ObjectRef: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public var kind: String
    public var namespace: String
    public var name: String
    public init(kind: String, namespace: String, name: String) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }
    public var description: String { namespace.isEmpty ? "\(kind) \(name)" : "\(kind) \(namespace)/\(name)" }
    public static func < (a: Self, b: Self) -> Bool { (a.kind, a.namespace, a.name) < (b.kind, b.namespace, b.name) }
}

/// A `metav1.Condition`. `lastTransitionTime` is left nil by the translator (it has no clock) and
/// stamped later by whoever publishes the status.
public struct Condition: Codable, Sendable, Equatable {
    public var type: String
    public var status: String
    public var reason: String
    public var message: String
    public var observedGeneration: Int64?
    public var lastTransitionTime: String?

    public init(type: String, status: Bool, reason: String, message: String, observedGeneration: Int64? = nil) {
        self.type = type
        self.status = status ? "True" : "False"
        self.reason = reason
        self.message = message
        self.observedGeneration = observedGeneration
    }

    public var isTrue: Bool { status == "True" }

    /// Whether the condition says something is wrong. Most types are good when True; the
    /// "abnormal-true" ones (Conflicted, PartiallyInvalid) are bad when True.
    public var isProblem: Bool {
        ["Conflicted", "PartiallyInvalid"].contains(type) ? isTrue : !isTrue
    }
}

/// `metav1.LabelSelector`.
public struct LabelSelector: Codable, Sendable, Equatable {
    public struct Requirement: Codable, Sendable, Equatable {
        public var key: String
        public var `operator`: Operator
        public var values: [String]?
        public enum Operator: String, Codable, Sendable { case In, NotIn, Exists, DoesNotExist }
    }
    public var matchLabels: [String: String]?
    public var matchExpressions: [Requirement]?

    public init(matchLabels: [String: String]? = nil) { self.matchLabels = matchLabels }

    public func matches(_ labels: [String: String]) -> Bool {
        for (key, value) in matchLabels ?? [:] where labels[key] != value { return false }
        for requirement in matchExpressions ?? [] {
            let value = labels[requirement.key]
            let values = requirement.values ?? []
            switch requirement.operator {
            case .In: if value == nil || !values.contains(value!) { return false }
            case .NotIn: if let value, values.contains(value) { return false }
            case .Exists: if value == nil { return false }
            case .DoesNotExist: if value != nil { return false }
            }
        }
        return true
    }
}

/// Kubernetes `IntOrString` (Service `targetPort`).
public enum IntOrString: Codable, Sendable, Equatable {
    case int(Int)
    case string(String)

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .int(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        }
    }
}
