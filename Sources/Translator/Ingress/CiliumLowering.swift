import GatewayAPI
import RoutingTable

/// Cilium's reading of an Ingress (CiliumAnnotations says what it does), for IngressLowering: the
/// match each path becomes, in the place Envoy's route order gives it.
extension Translator {
    /// Envoy's order under Cilium: exact paths (group -2), then regexes longest first (group -1),
    /// then prefixes longest first (group 0).
    static func ciliumLocation(_ path: Ingress.Path, ingress: String, index: Int) -> (match: HTTPMatch, order: IngressOrder) {
        let value = path.path ?? "/"
        switch path.pathType {
        case .Exact:
            return (HTTPMatch(path: .exact(value)), IngressOrder(group: -2, length: value.count, ingress: ingress, index: index))
        case .Prefix:
            // Whole segments, a trailing slash ignored, as the Ingress spec says.
            let trimmed = value.hasSuffix("/") ? String(value.dropLast()) : value
            return (HTTPMatch(path: .prefix(trimmed)), IngressOrder(length: trimmed.count, typeRank: 1, ingress: ingress, index: index))
        case .ImplementationSpecific:
            // Envoy's safe_regex matches the whole path, as archway's regular expressions do.
            return (HTTPMatch(path: .regularExpression(value)), IngressOrder(group: -1, length: value.count, ingress: ingress, index: index))
        }
    }
}
