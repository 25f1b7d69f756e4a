import GatewayAPI
import RoutingTable

/// F5 NGINX Ingress Controller's reading of an Ingress (NginxIncAnnotations says what it does), for
/// IngressLowering: the location each path becomes with its place in nginx's order, the filters of
/// its annotations, and the ports it listens on.
extension Translator {
    /// nginx's order between a server's locations: exact ones (group -2), then regex ones in the
    /// order written (group -1), then prefixes longest first (group 0).
    static func nginxIncLocation(_ path: Ingress.Path, annotations: NginxIncAnnotations, ingress: String, index: Int) -> (match: HTTPMatch, order: IngressOrder) {
        let value = path.path ?? "/"
        if path.pathType == .Exact || annotations.pathRegex == .exact {
            return (HTTPMatch(path: .exact(value)), IngressOrder(group: -2, length: value.count, ingress: ingress, index: index))
        }
        if let regex = annotations.locationRegex(value) {
            return (HTTPMatch(path: .regularExpression(regex)), IngressOrder(group: -1, ingress: ingress, index: index))
        }
        // `location /tea`: a plain string prefix, so /teapot too.
        let match = value == "/" ? HTTPMatch(path: .prefix("")) : HTTPMatch(path: .regularExpression(escapeRegex(value) + ".*"))
        return (match, IngressOrder(length: value.count, typeRank: 1, ingress: ingress, index: index))
    }

    /// A prefix location ending in "/" ("/tea/") is answered for its path without the slash ("/tea")
    /// with a 301 to the location: nginx's auto_redirect for proxy_pass locations. nil for other paths.
    public static func nginxIncSlashRedirect(_ path: Ingress.Path, annotations: NginxIncAnnotations) -> String? {
        let value = path.path ?? "/"
        guard path.pathType != .Exact, annotations.pathRegex == nil, value.hasSuffix("/"), value != "/" else { return nil }
        return String(value.dropLast())
    }

    /// proxy-set-headers, proxy-hide-headers, hsts (HTTPS responses only) and the path's rewrite.
    static func nginxIncFilters(_ annotations: NginxIncAnnotations, path: Ingress.Path, secure: Bool) -> [HTTPFilter] {
        var filters: [HTTPFilter] = []
        if !annotations.setHeaders.isEmpty {
            filters.append(.requestHeaders(HeaderEdits(set: annotations.setHeaders.map { HeaderValue(name: $0.name.lowercased(), value: $0.value) },
                                                       add: [], remove: [])))
        }
        let hsts = secure ? annotations.hsts.map { [HeaderValue(name: "strict-transport-security", value: $0)] } ?? [] : []
        if !annotations.hideHeaders.isEmpty || !hsts.isEmpty {
            filters.append(.responseHeaders(HeaderEdits(set: hsts, add: [], remove: annotations.hideHeaders.map { $0.lowercased() })))
        }
        if let service = path.backend.service?.name, let target = annotations.rewrites[service] {
            // `rewrite "^LOCATION(.*)$" "TARGET$1" break;`: the location as written, then the rest as it is.
            let location = path.path ?? "/"
            let pattern = annotations.locationRegex(location).map { _ in "(?:\(location))(.*)" } ?? escapeRegex(location) + "(.*)"
            filters.append(.urlRewrite(hostname: nil, path: .regexReplace(pattern: (annotations.pathRegex == .caseInsensitive ? "(?i)" : "") + pattern,
                                                                           template: target + "$1")))
        }
        return filters
    }

    /// Every (port, TLS) pair some served Ingress listens on: the serving's two ports, and the ports
    /// NGINX Ingress Controller's listen-ports annotations give instead.
    static func ingressPorts(_ intents: [IngressIntent], serving: IngressServing) -> [(port: Int, secure: Bool)] {
        var pairs: [(port: Int, secure: Bool)] = [(serving.httpPort, false), (serving.httpsPort, true)]
        for intent in intents {
            guard let annotations = intent.nginxInc else { continue }
            for port in annotations.listenPorts ?? [] where !pairs.contains(where: { $0.port == port }) { pairs.append((port, false)) }
            for port in annotations.listenPortsSSL ?? [] where !pairs.contains(where: { $0.port == port }) { pairs.append((port, true)) }
        }
        return pairs
    }

    static func listens(_ intent: IngressIntent, port: Int, secure: Bool, serving: IngressServing) -> Bool {
        let annotations = intent.nginxInc
        let ports = (secure ? annotations?.listenPortsSSL : annotations?.listenPorts) ?? [secure ? serving.httpsPort : serving.httpPort]
        return ports.contains(port)
    }
}
