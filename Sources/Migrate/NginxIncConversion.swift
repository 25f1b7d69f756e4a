import GatewayAPI
import Translator
import Yams

/// F5 NGINX Ingress Controller's paths and annotations as Gateway API (what NGINX does with them is
/// in NginxIncAnnotations).
extension PathConversion {
    /// One path of an NGINX Ingress Controller Ingress, with its `nginx.org/rewrites` rewrite.
    static func nginxInc(_ path: Ingress.Path, _ annotations: NginxIncAnnotations) -> PathConversion {
        let value = path.path ?? "/"
        let target = path.backend.service.flatMap { annotations.rewrites[$0.name] }
        if path.pathType == .Exact || annotations.pathRegex == .exact {
            // `rewrite "^/tea(.*)$" "R$1"` on a location that only matches /tea is R.
            return PathConversion(matches: [.exact(value)], rewrite: target.map { .fullPath($0) })
        }
        if let regex = annotations.locationRegex(value) {
            // A regex that matches every path is PathPrefix "/", which every implementation supports.
            let match: Match = value == "/" ? .prefix("/") : .regex(regex)
            guard let target else { return PathConversion(matches: [match]) }
            return PathConversion(matches: [match], accepted: [(
                .pathNotRewritten,
                "nginx rewrites \(value) to \(target) followed by the rest of the path; Gateway API cannot rebuild a path from a regular expression, so the backend gets the path unchanged")])
        }
        var conversion = PathConversion(matches: [.prefix(value)], rewrite: target.map { .prefixMatch($0) })
        // A path ending in "/" has its own rule for the path without it (NginxIncSlashRedirect), which
        // outranks the PathPrefix's match of it.
        if !value.hasSuffix("/") {
            conversion.accepted = [(.segmentPrefix(value),
                                    "nginx's location \(value) is a string prefix (it also matches \(value)-more and \(value)x); PathPrefix \(value) matches whole path segments, as the Ingress spec defines Prefix")]
        }
        // nginx joins TARGET and the rest of the path as they are; ReplacePrefixMatch joins them with one "/".
        if let target, value != "/", value.hasSuffix("/") != target.hasSuffix("/") {
            let rest = value.hasSuffix("/") ? "x" : "/x"
            conversion.accepted.append((.pathNotRewritten,
                                        "nginx writes \(target) and then the rest of the path as it is (\(value + rest) → \(target + rest)); ReplacePrefixMatch joins them with exactly one slash"))
        }
        return conversion
    }
}

extension NginxIncAnnotations {
    /// proxy-set-headers, proxy-hide-headers and (`secure`: on a route of HTTPS listeners) hsts as HTTPRoute filters.
    func filterNodes(secure: Bool) -> [Node] {
        let hstsHeader = hsts.flatMap { secure ? $0 : nil }.map { [(name: "Strict-Transport-Security", value: $0)] } ?? []
        return [Manifest.headerModifier(response: false, set: setHeaders.map { ($0.name, $0.value) }),
                Manifest.headerModifier(response: true, set: hstsHeader, remove: hideHeaders)].compactMap { $0 }
    }
}
