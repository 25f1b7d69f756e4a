import GatewayAPI
import RoutingTable

/// GKE's reading of a GCE Ingress (GCEAnnotations says what the load balancer does), for
/// IngressLowering: the URL-map path rules each path becomes in the URL map's order, the cleartext
/// port it leaves out, the redirect of every cleartext request and the backend service timeouts.
extension Translator {
    /// The URL map's order: the longest rule first, an exact rule before a wildcard of the same
    /// length. For any one request this picks what GCE picks, since an exact rule that matches is as
    /// long as the request and a wildcard that matches is at most as long.
    static func gceLocations(_ path: Ingress.Path, ingress: String, index: Int) -> [(match: HTTPMatch, order: IngressOrder)] {
        GCEAnnotations.pathRules(path).map { rule in
            let match: HTTPMatch = if !rule.wildcard {
                HTTPMatch(path: .exact(rule.literal))
            } else if rule.literal == "/" {
                HTTPMatch(path: .prefix(""))
            } else {
                // `/foo/*` is a string prefix ending in "/": /foo/ and below, never /foo itself.
                HTTPMatch(path: .regularExpression(escapeRegex(rule.literal) + ".*"))
            }
            return (match, IngressOrder(length: rule.literal.count, typeRank: rule.wildcard ? 1 : 0, ingress: ingress, index: index))
        }
    }

    /// The FrontendConfig's redirect is the whole cleartext URL map: paths the Ingress does not route
    /// are redirected too, after every path (group 1, after a default backend's redirect).
    static func gceRedirectEverything(_ ingress: Ingress, intent: IngressIntent, secure: Bool) -> [(String, IngressEntry)] {
        guard !secure, let code = intent.gce?.redirectCode else { return [] }
        let namespace = ingress.metadata.namespace ?? "default"
        let redirect = Redirect(scheme: "https", hostname: nil, port: nil, path: nil, statusCode: code)
        return ingress.hostRules.enumerated().map { ruleIndex, rule in
            let origin = RouteOrigin(namespace: namespace, name: ingress.metadata.name, rule: ruleIndex, match: -3, gatewayNamespace: "", gatewayName: "ingress")
            return (rule.host, IngressEntry(order: IngressOrder(group: 1, typeRank: 4, ingress: "\(namespace)/\(ingress.metadata.name)", index: ruleIndex),
                                            entry: HTTPRouteEntry(origin: origin, match: HTTPMatch(path: .prefix("")), filters: [], action: .redirect(redirect))))
        }
    }

    /// What the BackendConfig of each path's backend asks of the entries forwarding to it: its
    /// `timeoutSec` bounds each try, its GENERATED_COOKIE affinity keeps a client on one endpoint.
    static func applyGCEBackendConfigs(_ entries: inout [(String, IngressEntry)], of ingress: Ingress, intent: IngressIntent) {
        guard let gce = intent.gce else { return }
        let rules = ingress.hostRules
        for index in entries.indices {
            let origin = entries[index].1.entry.origin
            guard case .forward = entries[index].1.entry.action, let pathIndex = ingressPathIndex(of: origin),
                  origin.rule < rules.count, pathIndex < rules[origin.rule].paths.count else { continue }
            let backend = rules[origin.rule].paths[pathIndex].backend
            entries[index].1.entry.timeouts = gce.timeoutSeconds(backend).map { RouteTimeouts(requestMillis: nil, backendRequestMillis: $0 * 1000) }
            entries[index].1.entry.session = gce.generatedCookie(backend).map { ttl in
                StickySession(name: GCEAnnotations.affinityCookie, carrier: .cookie, absoluteTimeoutMillis: ttl.map { $0 * 1000 }, permanent: ttl != nil)
            }
        }
    }
}
