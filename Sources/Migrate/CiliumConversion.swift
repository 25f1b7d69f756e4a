import GatewayAPI
import Translator
import Yams

/// Cilium's paths and request timeout as Gateway API (what Cilium does with them is in CiliumAnnotations).
extension PathConversion {
    /// Exact and Prefix are the Ingress spec's, which Gateway API's Exact and PathPrefix share.
    /// ImplementationSpecific is Envoy's whole-path regex: RegularExpression as written, or Exact
    /// when it has no metacharacter (it then matches only itself), which every implementation supports.
    static func cilium(_ path: Ingress.Path) -> PathConversion {
        let value = path.path ?? "/"
        switch path.pathType {
        case .Exact: return PathConversion(matches: [.exact(value)])
        case .Prefix: return PathConversion(matches: [.prefix(value)])
        case .ImplementationSpecific:
            return PathConversion(matches: [value.contains(where: RegexLiteral.metacharacters.contains) ? .regex(value) : .exact(value)])
        }
    }
}

extension CiliumAnnotations {
    /// `request-timeout` as an HTTPRoute rule's `timeouts`; nil without one.
    var timeoutsNode: Node? {
        requestTimeoutMillis.map { Manifest.map([("request", Manifest.str(Self.gatewayDuration(millis: $0)))]) }
    }
}
