/// The kinds each API group archway reads really has. A document of a known group with a kind not
/// listed here is a typo (`HTTPRoutes`), and is refused with a suggestion instead of being kept as an
/// opaque object that nothing serves.
public enum KnownKinds {
    public static let byGroup: [String: [String]] = [
        GatewayAPIGroup.name: ["GatewayClass", "Gateway", "HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute", "UDPRoute",
                               "ReferenceGrant", "BackendTLSPolicy", "ListenerSet", "XListenerSet", "BackendLBPolicy",
                               "XBackendTrafficPolicy", "XMesh"],
        BackendTrafficPolicy.group: EdgePolicy.Kind.allCases.map(\.rawValue) + ["BackendTrafficPolicy", "ServiceLevelObjective", "AddressPool", "ACMEIssuer", "Rollout"],
    ]

    /// Why `kind` cannot be a kind of `group`, or nil when it is one (or the group is not one archway reads).
    public static func problem(kind: String, group: String) -> String? {
        guard let kinds = byGroup[group], !kinds.contains(kind) else { return nil }
        let suggestion = closest(to: kind, among: kinds).map { "; did you mean \($0)?" } ?? ""
        return "\(group) has no kind \(kind)\(suggestion) (its kinds: \(kinds.joined(separator: ", ")))"
    }

    /// The candidate nearest to `word` by edit distance, case ignored, when it is near enough to be a
    /// typo of it (at most a third of its letters differ).
    public static func closest(to word: String, among candidates: [String]) -> String? {
        let target = Array(word.lowercased())
        var best: (name: String, distance: Int)?
        for candidate in candidates {
            let distance = editDistance(target, Array(candidate.lowercased()))
            if distance <= max(1, target.count / 3), distance < (best?.distance ?? .max) { best = (candidate, distance) }
        }
        return best?.name
    }

    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
}

/// A problem with one field of a document, thrown while decoding it.
public struct FieldProblemError: Error, CustomStringConvertible {
    public var field: String
    public var message: String
    public var description: String { "\(field): \(message)" }
}
