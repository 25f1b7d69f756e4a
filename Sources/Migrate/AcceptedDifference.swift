import GatewayAPI

/// Something ingress-nginx does with one Ingress path that the converted routes knowingly do not,
/// because Gateway API cannot say it. `migrate --verify` labels the probes it explains
/// `accepted: <why>` instead of hiding them; anything else that differs is a conversion defect.
public struct AcceptedDifference: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The rule routes where ingress-nginx does but cannot rewrite the path as nginx does.
        case pathNotRewritten
        /// A PathPrefix (kept so that its ReplacePrefixMatch survives) matches `prefix` only in this
        /// spelling, where ingress-nginx's location matches it in any case.
        case caseSensitive(prefix: String)
        /// A PathPrefix written with a trailing slash ("/foo/") also matches "/foo", which
        /// ingress-nginx leaves to the host's other paths.
        case prefixWithoutSlash(String)
        /// A PathPrefix matches whole segments where the controller's prefix (NGINX Ingress
        /// Controller's `location /tea`) is a string prefix that also matches "/teapot".
        case segmentPrefix(String)
        /// The controller answered cleartext with a status of its own (Kong's 426), which no
        /// Gateway API rule can give: the host has no cleartext route.
        case cleartextRefused
    }
    public var ingress: NamespacedName
    public var host: String
    /// The Ingress path, as written.
    public var path: String
    public var kind: Kind
    public var why: String

    public var description: String { "Ingress \(ingress) host \(host) path \(path): \(why)" }

    /// What rewrite-target's line in the annotation report must mention.
    var isAboutRewrite: Bool {
        switch kind {
        case .pathNotRewritten, .caseSensitive: true
        case .prefixWithoutSlash, .segmentPrefix, .cleartextRefused: false
        }
    }
}
