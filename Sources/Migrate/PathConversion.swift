import GatewayAPI
import Translator

/// The Gateway API path matches (one per nginx location) and rewrite one Ingress path becomes.
struct PathConversion {
    enum Match: Equatable {
        case exact(String)
        case prefix(String)
        case regex(String)
    }
    enum Rewrite: Equatable {
        case fullPath(String)
        case prefixMatch(String)
    }
    var matches: [Match]
    var rewrite: Rewrite?
    /// What Gateway API cannot say about this path, and why.
    var accepted: [(kind: AcceptedDifference.Kind, why: String)] = []

    /// A path of a host not in regex mode: Exact and Prefix as they are; ImplementationSpecific is a
    /// plain (case-sensitive) string prefix in ingress-nginx, which only a regular expression says.
    static func plain(_ value: String, type: Ingress.Path.PathType) -> PathConversion {
        switch type {
        case .Exact: PathConversion(matches: [.exact(value)])
        case .Prefix where value.hasSuffix("/") && value != "/":
            PathConversion(matches: [.prefix(value)], accepted: [(
                .prefixWithoutSlash(String(value.dropLast())),
                "PathPrefix \(value) also matches \(value.dropLast()), which ingress-nginx (locations \(value) and = \(value)) leaves to the host's other paths")])
        case .Prefix: PathConversion(matches: [.prefix(value)])
        case .ImplementationSpecific: PathConversion(matches: [.regex(Translator.escapeRegex(value) + ".*")])
        }
    }

    /// nginx's `rewrite "(?i)PATTERN" TARGET` when it rebuilds every path to one value: TARGET has no
    /// `$n`, or PATTERN has no groups (so every `$n` is empty). nil when it needs capture groups.
    static func fixedRewrite(pattern: String, target: String) -> Rewrite? {
        guard !target.contains("$") || !pattern.contains("(") else { return nil }
        let fixed = target.replacing(#/\$[0-9]/#, with: "")
        return .fullPath(fixed.hasPrefix("/") ? fixed : "/" + fixed)
    }
}

/// A regex-mode location Gateway API can say as a PathPrefix: `LITERAL(/|$)(.*)` (whole path
/// segments, as PathPrefix matches) or a catch-all (`/`, `/.*`, `/(.*)`, `/()(.*)`), with its
/// rewrite when that is a prefix replacement: TARGET `R$n`, `$n` the trailing `(.*)`, R ending in "/".
struct PrefixForm {
    var prefix: String
    var rewrite: PathConversion.Rewrite?
    /// "/": matches every path, so case cannot matter.
    var matchesEveryPath: Bool { prefix == "/" }

    /// What may follow "/" in a catch-all, with the number of the group holding the rest of the path.
    private static let catchAllTails: [String: Int?] = ["": nil, ".*": nil, ".*$": nil, "(.*)": 1, "(.*)$": 1, "()(.*)": 2, "()(.*)$": 2]

    /// `target`: the rewrite-target when nginx rewrites this location, else nil.
    init?(pattern: String, target: String?) {
        let literal = String(pattern.prefix { !RegexLiteral.metacharacters.contains($0) })
        let rest = String(pattern.dropFirst(literal.count))
        let tailGroup: Int?
        if ["(/|$)(.*)", "(/|$)(.*)$"].contains(rest), literal.hasPrefix("/"), literal.count > 1, !literal.hasSuffix("/") {
            tailGroup = 2
        } else if literal == "/", let group = Self.catchAllTails[rest] {
            tailGroup = group
        } else {
            return nil
        }
        prefix = literal
        guard let target else { return }
        if let fixed = PathConversion.fixedRewrite(pattern: pattern, target: target) {
            rewrite = fixed
            return
        }
        guard let tailGroup, target.hasSuffix("$\(tailGroup)") else { return nil }
        let replacement = String(target.dropLast(2))
        guard replacement.hasPrefix("/"), replacement.hasSuffix("/"), !replacement.contains("$") else { return nil }
        // "/" then the rest of a catch-all's path is the path itself.
        rewrite = literal == "/" && replacement == "/" ? nil : .prefixMatch(replacement)
    }
}

/// What can be said about every path a regular expression matches without running it.
enum RegexLiteral {
    static let metacharacters: Set<Character> = ["\\", "^", "$", ".", "|", "?", "*", "+", "(", ")", "[", "]", "{", "}"]

    /// The text every match starts with, lowercased (regex mode ignores case); "" when unsure.
    static func requiredPrefix(_ pattern: String) -> String {
        var depth = 0
        for character in pattern {
            if character == "(" { depth += 1 }
            if character == ")" { depth -= 1 }
            // An alternative at the top level may start with anything.
            if character == "|" && depth == 0 { return "" }
        }
        var literal = String(pattern.prefix { !metacharacters.contains($0) })
        // A quantifier that allows zero repetitions makes the character before it optional.
        if let next = pattern.dropFirst(literal.count).first, "?*{".contains(next) { literal = String(literal.dropLast()) }
        return literal.lowercased()
    }

    /// Whether some path may match both (anchored at the start, case-insensitive): only when one
    /// required prefix starts the other.
    static func mayOverlap(_ a: String, _ b: String) -> Bool {
        let x = requiredPrefix(a), y = requiredPrefix(b)
        return x.hasPrefix(y) || y.hasPrefix(x)
    }
}

/// The paths of one host in ingress-nginx's regex mode, from every Ingress on it, converted
/// together. nginx tries them longest first; archway puts every RegularExpression before every
/// PathPrefix and orders regexes by length, so with the same wrapper around each location
/// (NginxLocations.locationRegex) the regexes keep nginx's order, and its case-insensitivity.
/// - A path stays a regex when its rewrite survives (none, a fixed one, or the identity).
/// - A path whose rewrite needs capture groups becomes PathPrefix + ReplacePrefixMatch when it has a
///   PrefixForm and no regex that nginx tries after it can match what it matches (that regex would
///   outrank it); it then matches case-sensitively: accepted.
/// - A catch-all becomes PathPrefix "/" under the same condition, so that such prefixes stay reachable.
/// - Otherwise the path stays a regex and loses its rewrite: accepted.
struct RegexHostPlan {
    private struct Key: Hashable {
        var ingress: NamespacedName
        var path: Int
    }
    private var conversions: [Key: PathConversion] = [:]
    /// Each path's place in nginx's order, for the order of a route's rules.
    private var ranks: [Key: Int] = [:]

    init(host: String, ingresses: [Ingress], nginx: NginxLocations) {
        var locations: [(key: Key, pattern: String, path: String, target: String?)] = []
        for ingress in ingresses {
            let intent = IngressIntent(ingress)
            guard intent.canary == nil, let paths = ingress.hostRules.first(where: { $0.host == host })?.paths else { continue }
            for (index, path) in paths.enumerated() {
                let value = path.path ?? "/"
                let target = NginxLocations.needsRewrite(intent, path: value) ? intent.rewriteTarget : nil
                for pattern in nginx.patterns(host: host, path: path, intent: intent) {
                    locations.append((Key(ingress: ingress.metadata.namespacedName, path: index), pattern, value, target))
                }
            }
        }
        locations.sort { NginxLocations.precedes($0.pattern, $1.pattern) }
        for (rank, location) in locations.enumerated() where ranks[location.key] == nil { ranks[location.key] = rank }
        var laterRegexes: [String] = []
        for location in locations.reversed() {
            let overlapsLater = laterRegexes.contains { RegexLiteral.mayOverlap($0, location.pattern) }
            let form = PrefixForm(pattern: location.pattern, target: location.target)
            let regexRewrite = Self.regexRewrite(pattern: location.pattern, target: location.target, form: form)
            var conversion: PathConversion
            if let form, !overlapsLater, form.matchesEveryPath || regexRewrite == nil {
                conversion = PathConversion(matches: [.prefix(form.prefix)], rewrite: form.rewrite)
                if !form.matchesEveryPath {
                    conversion.accepted = [(.caseSensitive(prefix: form.prefix),
                                            "PathPrefix \(form.prefix) keeps the rewrite (ReplacePrefixMatch) but matches only this spelling; ingress-nginx matched \(location.path) in any case")]
                }
            } else {
                conversion = PathConversion(matches: [.regex(NginxLocations.locationRegex(location.pattern))], rewrite: regexRewrite ?? nil)
                if regexRewrite == nil, let target = location.target {
                    conversion.accepted = [(.pathNotRewritten,
                                            "rewrite-target \(target) rebuilds the path from the capture groups of \(location.path), which Gateway API's URLRewrite cannot; the rule forwards the path unrewritten")]
                }
                laterRegexes.append(location.pattern)
            }
            // A path split into two locations ("/foo/" and "/foo") keeps one match per location.
            if let existing = conversions[location.key] {
                conversion.matches = existing.matches + conversion.matches
            }
            conversions[location.key] = conversion
        }
    }

    /// The rewrite a regex match keeps: `.some(nil)` when none is needed (no rewrite, or one that
    /// gives back the path itself), nil when it needs capture groups.
    private static func regexRewrite(pattern: String, target: String?, form: PrefixForm?) -> PathConversion.Rewrite?? {
        guard let target else { return .some(nil) }
        if let fixed = PathConversion.fixedRewrite(pattern: pattern, target: target) { return .some(fixed) }
        if let form, form.matchesEveryPath, form.rewrite == nil { return .some(nil) }
        return nil
    }

    func conversion(_ ingress: NamespacedName, path: Int) -> PathConversion? { conversions[Key(ingress: ingress, path: path)] }

    func rank(_ ingress: NamespacedName, path: Int) -> Int { ranks[Key(ingress: ingress, path: path)] ?? Int.max }
}
