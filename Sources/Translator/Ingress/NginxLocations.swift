import GatewayAPI

/// The nginx `location` blocks ingress-nginx writes for the hosts of a set of Ingresses, where they
/// decide routing: whether a host is in regex mode, which location paths each Ingress path becomes
/// there, and the order nginx tries them in. Archway's Ingress serving (IngressLowering) and
/// `archway migrate` both read it, so the two agree on what ingress-nginx does and `--verify`
/// compares only how each expresses it.
///
/// What ingress-nginx does (controller.go, template.go):
/// - A host is in regex mode when any location on it, from any Ingress, has `use-regex` or a
///   `rewrite-target` other than its own path. Then every location of the host is written
///   `location ~* "^PATH"`: a case-insensitive regular expression anchored only at the start, so
///   Exact and Prefix lose their meaning.
/// - Before that, a Prefix path of an Ingress without `use-regex`/rewrite (other than "/") becomes two
///   locations, "PATH/" and an exact "PATH" (only "PATH/" when an Exact location already has PATH).
/// - nginx takes the first regex location that matches, in the order ingress-nginx writes them:
///   longest path first, equal lengths by path in descending byte order.
public struct NginxLocations: Sendable {
    /// Hosts ("*" for rules without one) whose locations are all regular expressions.
    public private(set) var regexHosts: Set<String> = []
    /// Exact paths per host, which keep a Prefix path from getting its own exact location.
    private var exactPaths: [String: Set<String>] = [:]

    /// `ingresses`: the ones that share nginx servers (canaries are folded into their main Ingress and
    /// contribute no locations of their own).
    public init(_ ingresses: [Ingress]) {
        for ingress in ingresses {
            let intent = IngressIntent(ingress)
            guard intent.canary == nil else { continue }
            for (host, paths) in ingress.hostRules {
                for path in paths {
                    let value = path.path ?? "/"
                    if intent.useRegex || Self.needsRewrite(intent, path: value) { regexHosts.insert(host) }
                    if path.pathType == .Exact { exactPaths[host, default: []].insert(value) }
                }
            }
        }
    }

    /// ingress-nginx's needsRewrite: a rewrite-target other than the path itself.
    public static func needsRewrite(_ intent: IngressIntent, path: String) -> Bool {
        guard let target = intent.rewriteTarget, !target.isEmpty else { return false }
        return target != path
    }

    public func isRegex(host: String) -> Bool { regexHosts.contains(host) }

    /// The regex-mode location paths one Ingress path becomes on `host` (only meaningful in regex mode).
    public func patterns(host: String, path: Ingress.Path, intent: IngressIntent) -> [String] {
        let value = path.path ?? "/"
        guard path.pathType == .Prefix, value != "/", !intent.useRegex, !Self.needsRewrite(intent, path: value) else { return [value] }
        let normalized = value.hasSuffix("/") ? value : value + "/"
        if exactPaths[host]?.contains(value) == true || normalized == value { return [normalized] }
        return [normalized, value]
    }

    /// nginx's order between two regex locations of a host: true when `a` is tried before `b`.
    public static func precedes(_ a: String, _ b: String) -> Bool {
        if a.utf8.count != b.utf8.count { return a.utf8.count > b.utf8.count }
        return a.utf8.lexicographicallyPrecedes(b.utf8) == false && a != b
    }

    /// `location ~* "^PATTERN"` as a path match of archway's routing table, which matches whole paths.
    public static func locationRegex(_ pattern: String) -> String { "(?i)(?:" + pattern + ").*" }
}
