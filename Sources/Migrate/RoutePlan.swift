import GatewayAPI
import Translator
import Yams

/// The routes one (non-canary) Ingress becomes: an HTTPRoute per host (a GRPCRoute for gRPC
/// backends, a TLSRoute for ssl-passthrough), plus redirect routes and BackendTLSPolicies.
struct RoutePlan {
    let ingress: Ingress
    let gateway: String
    let gatewayNamespace: String
    let snapshot: ResourceSnapshot
    let intent: IngressIntent
    var documents: [Node] = []
    var policies: [Node] = []
    /// The HTTPRoutes that carry the Ingress's backends: what its edge policies attach to.
    var backendRoutes: [String] = []
    private var namespace: String { ingress.metadata.namespace ?? "default" }

    init(ingress: Ingress, gateway: String, gatewayNamespace: String, snapshot: ResourceSnapshot) {
        self.ingress = ingress
        self.gateway = gateway
        self.gatewayNamespace = gatewayNamespace
        self.snapshot = snapshot
        self.intent = IngressIntent(ingress)
    }

    private func parent(_ section: String) -> Node {
        Manifest.map([("name", Manifest.str(gateway)), ("namespace", gatewayNamespace == namespace ? nil : Manifest.str(gatewayNamespace)),
                      ("sectionName", Manifest.str(section))])
    }

    private func route(kind: String, apiVersion: String = "gateway.networking.k8s.io/v1", name: String, host: String,
                       parents: [String], rules: [Node]) -> Node {
        Manifest.map([
            ("apiVersion", Manifest.str(apiVersion)), ("kind", Manifest.str(kind)),
            ("metadata", Manifest.metadata(name: name, namespace: namespace)),
            ("spec", Manifest.map([
                ("parentRefs", Manifest.seq(parents.map(parent))),
                ("hostnames", host == "*" ? nil : Manifest.seq([Manifest.str(host)])),
                ("rules", Manifest.seq(rules)),
            ])),
        ])
    }

    mutating func build(into gateway: inout GatewayPlan, canaries: [Ingress]) {
        for key in ["cert-manager.io/cluster-issuer", "cert-manager.io/issuer"] {
            if let value = ingress.annotation(key) { gateway.annotations[key] = value }
        }
        let tlsHosts = Set(ingress.tlsHosts)
        let entrypoints = ingress.annotation(AnnotationCatalog.traefik + "router.entrypoints")
        let traefik = ingress.className == "traefik" || ingress.metadata.annotations?.keys.contains { $0.hasPrefix(AnnotationCatalog.traefik) } == true
        for (host, paths) in ingress.hostRules {
            let name = IngressConverter.routeName(ingress, host: host)
            if intent.sslPassthrough {
                let section = gateway.addPassthrough(host: host)
                let refs = paths.prefix(1).compactMap { backendRef($0.backend, weight: nil) }
                documents.append(route(kind: "TLSRoute", apiVersion: "gateway.networking.k8s.io/v1alpha2", name: name, host: host,
                                       parents: [section], rules: [Manifest.map([("backendRefs", Manifest.seq(refs))])]))
                // ingress-nginx still serves the host's paths in plain HTTP on port 80 (kubernetes/ingress-nginx#4203).
                documents.append(route(kind: "HTTPRoute", name: name + "-http", host: host, parents: ["http"],
                                       rules: httpRules(host: host, paths: paths, canaries: canaries)))
                backendRoutes.append(name + "-http")
                continue
            }
            var parents: [String] = []
            let hasTLS = tlsHosts.contains(host)
            if hasTLS, let secret = ingress.tlsSecret(for: host), entrypoints != "web" {
                parents.append(gateway.addHTTPS(host: host, secret: NamespacedName(namespace, secret)))
            }
            // ingress-nginx redirects TLS hosts to HTTPS by default; Traefik never does unless told (a middleware).
            let redirect = intent.forceSSLRedirect || (hasTLS && intent.sslRedirect != false && !traefik)
            if redirect {
                // Only the paths the Ingress routes are redirected; others stay unrouted, as in ingress-nginx.
                let matches = paths.map { convertPath($0.path ?? "/", type: $0.pathType).match }
                let rule = Manifest.map([("matches", Manifest.seq(matches)),
                                         ("filters", Manifest.seq([redirectFilter(scheme: "https", statusCode: 308)]))])
                documents.append(route(kind: "HTTPRoute", name: name + "-ssl-redirect", host: host, parents: ["http"], rules: [rule]))
            } else if entrypoints != "websecure" {
                parents.insert("http", at: 0)
            }
            if intent.fromToWWWRedirect && host != "*" {
                let other = host.hasPrefix("www.") ? String(host.dropFirst(4)) : "www." + host
                let rule = Manifest.map([("filters", Manifest.seq([redirectFilter(hostname: host, statusCode: 308)]))])
                documents.append(route(kind: "HTTPRoute", name: name + "-www-redirect", host: other, parents: ["http"], rules: [rule]))
            }
            guard !parents.isEmpty else { continue }
            let grpc = intent.backendProtocol == "GRPC" || intent.backendProtocol == "GRPCS"
            let rules = grpc ? grpcRules(paths) : httpRules(host: host, paths: paths, canaries: canaries)
            documents.append(route(kind: grpc ? "GRPCRoute" : "HTTPRoute", name: name, host: host, parents: parents, rules: rules))
            if !grpc { backendRoutes.append(name) }
            if intent.backendProtocol == "HTTPS" || intent.backendProtocol == "GRPCS" {
                for service in Set(paths.compactMap { $0.backend.service?.name }).sorted() { policies.append(backendTLSPolicy(service)) }
            }
        }
        if let backend = ingress.spec.defaultBackend, let ref = backendRef(backend, weight: nil) {
            documents.append(route(kind: "HTTPRoute", name: "\(ingress.metadata.name)-default-backend", host: "*", parents: ["http"],
                                   rules: [Manifest.map([("backendRefs", Manifest.seq([ref]))])]))
            backendRoutes.append("\(ingress.metadata.name)-default-backend")
        }
        policies += EdgeAnnotations(ingress: ingress).policies(routes: backendRoutes)
    }

    private func httpRules(host: String, paths: [Ingress.Path], canaries: [Ingress]) -> [Node] {
        var rules: [Node] = []
        let edge = EdgeAnnotations(ingress: ingress)
        if let appRoot = intent.appRoot {
            rules.append(Manifest.map([
                ("matches", Manifest.seq([Manifest.map([("path", pathMatch("Exact", "/"))])])),
                ("filters", Manifest.seq([redirectFilter(path: appRoot, statusCode: 302)])),
            ]))
        }
        for path in paths {
            let value = path.path ?? "/"
            let (match, rewrite) = convertPath(value, type: path.pathType)
            var filters: [Node] = []
            if let prefix = intent.xForwardedPrefix {
                filters.append(Manifest.map([("type", Manifest.str("RequestHeaderModifier")), ("requestHeaderModifier", Manifest.map([
                    ("set", Manifest.seq([Manifest.map([("name", Manifest.str("X-Forwarded-Prefix")), ("value", Manifest.str(prefix))])])),
                ]))]))
            }
            if let cors = edge.corsFilter { filters.append(cors) }
            if rewrite != nil || intent.upstreamVhost != nil {
                filters.append(Manifest.map([("type", Manifest.str("URLRewrite")), ("urlRewrite", Manifest.map([
                    ("hostname", intent.upstreamVhost.map(Manifest.str)), ("path", rewrite),
                ]))]))
            }
            if let fixed = intent.fixedRedirect {
                let url = RedirectURL(fixed.url)
                rules.append(Manifest.map([("matches", Manifest.seq([match])), ("filters", Manifest.seq([
                    redirectFilter(scheme: url.scheme, hostname: url.host, port: url.port, path: url.path, statusCode: fixed.statusCode),
                ]))]))
                continue
            }
            let canary = canaries.lazy.compactMap { candidate -> (IngressIntent.Canary, Ingress.Path)? in
                guard let settings = IngressIntent(candidate).canary,
                      let found = candidate.hostRules.first(where: { $0.host == host })?.paths.first(where: { $0.path == path.path }) else { return nil }
                return (settings, found)
            }.first
            func rule(_ matches: [Node], _ refs: [Node?]) -> Node {
                Manifest.map([("matches", Manifest.seq(matches)), ("filters", filters.isEmpty ? nil : Manifest.seq(filters)),
                              ("backendRefs", Manifest.seq(refs.compactMap { $0 })), ("sessionPersistence", edge.sessionPersistence)])
            }
            if let (settings, canaryPath) = canary {
                if let header = settings.header {
                    let cases: [(String, Ingress.Backend)] = settings.headerValue.map { [($0, canaryPath.backend)] }
                        ?? [("always", canaryPath.backend), ("never", path.backend)]
                    for (value, backend) in cases {
                        let withHeader = Manifest.map(Self.pairs(of: match) + [("headers", Manifest.seq([Manifest.map([
                            ("name", Manifest.str(header)), ("value", Manifest.str(value))])]))])
                        rules.append(rule([withHeader], [backendRef(backend, weight: nil)]))
                    }
                }
                if let weight = settings.weight {
                    rules.append(rule([match], [backendRef(path.backend, weight: max(0, settings.weightTotal - weight)),
                                                backendRef(canaryPath.backend, weight: weight)]))
                    continue
                }
            }
            rules.append(rule([match], [backendRef(path.backend, weight: nil)]))
        }
        return rules
    }

    private static func pairs(of node: Node) -> [(String, Node?)] {
        guard case .mapping(let mapping) = node else { return [] }
        return mapping.map { ($0.key.string ?? "", $0.value) }
    }

    /// gRPC backends: ingress-nginx forwards every path, and gRPC paths are "/service/method", so a
    /// path "/" becomes a rule matching every method; other paths become a service match.
    private func grpcRules(_ paths: [Ingress.Path]) -> [Node] {
        paths.map { path in
            let value = (path.path ?? "/").trimmingCharacters(in: "/")
            let matches: Node? = value.isEmpty ? nil : Manifest.seq([Manifest.map([("method", Manifest.map([("service", Manifest.str(value))]))])])
            return Manifest.map([("matches", matches), ("backendRefs", Manifest.seq([backendRef(path.backend, weight: nil)].compactMap { $0 }))])
        }
    }

    /// A path and the rewrite it needs. ImplementationSpecific is a plain string prefix in
    /// ingress-nginx, so it becomes a regular expression; with `use-regex`/`rewrite-target` the path
    /// already is one. The common `rewrite-target: /$2` on `PREFIX(/|$)(.*)` is a prefix strip:
    /// PathPrefix + ReplacePrefixMatch.
    private func convertPath(_ value: String, type: Ingress.Path.PathType) -> (match: Node, rewrite: Node?) {
        if type == .Exact {
            return (Manifest.map([("path", pathMatch("Exact", value))]), rewriteNode(nil))
        }
        if let target = intent.rewriteTarget, let strip = PrefixStrip(path: value, target: target) {
            return (Manifest.map([("path", pathMatch("PathPrefix", strip.prefix))]),
                    Manifest.map([("type", Manifest.str("ReplacePrefixMatch")), ("replacePrefixMatch", Manifest.str(strip.replacement))]))
        }
        if intent.regexPaths {
            return (Manifest.map([("path", pathMatch("RegularExpression", "(?i)(?:" + value + ").*"))]), rewriteNode(value))
        }
        if type == .Prefix { return (Manifest.map([("path", pathMatch("PathPrefix", value))]), nil) }
        return (Manifest.map([("path", pathMatch("RegularExpression", Translator.escapeRegex(value) + ".*"))]), nil)
    }

    /// nginx rewrites the whole path to the target. When the path has no capture groups, every `$n`
    /// in the target is empty, so the result is one fixed path: ReplaceFullPath.
    private func rewriteNode(_ pattern: String?) -> Node? {
        guard let target = intent.rewriteTarget else { return nil }
        if target.contains("$") && (pattern ?? "").contains("(") { return nil }
        var fixed = target.replacing(#/\$[0-9]/#, with: "")
        if !fixed.hasPrefix("/") { fixed = "/" + fixed }
        return Manifest.map([("type", Manifest.str("ReplaceFullPath")), ("replaceFullPath", Manifest.str(fixed))])
    }

    private func pathMatch(_ type: String, _ value: String) -> Node {
        Manifest.map([("type", Manifest.str(type)), ("value", Manifest.str(value))])
    }

    private func redirectFilter(scheme: String? = nil, hostname: String? = nil, port: Int? = nil, path: String? = nil, statusCode: Int) -> Node {
        Manifest.map([("type", Manifest.str("RequestRedirect")), ("requestRedirect", Manifest.map([
            ("scheme", scheme.map(Manifest.str)), ("hostname", hostname.map(Manifest.str)), ("port", port.map(Manifest.int)),
            ("path", path.map { Manifest.map([("type", Manifest.str("ReplaceFullPath")), ("replaceFullPath", Manifest.str($0))]) }),
            ("statusCode", Manifest.int(statusCode)),
        ]))])
    }

    /// A Service backend as a backendRef; a named port is looked up in the Service when it is known.
    private func backendRef(_ backend: Ingress.Backend, weight: Int?) -> Node? {
        guard let service = backend.service else { return nil }
        let ports = snapshot.services[NamespacedName(namespace, service.name)]?.spec?.ports ?? []
        guard let port = service.port.number ?? ports.first(where: { $0.name == service.port.name })?.port else { return nil }
        return Manifest.map([("name", Manifest.str(service.name)), ("port", Manifest.int(port)), ("weight", weight.map(Manifest.int))])
    }

    private func backendTLSPolicy(_ service: String) -> Node {
        let hostname = ingress.annotation(IngressIntent.nginx + "proxy-ssl-name") ?? "\(service).\(namespace).svc"
        return Manifest.map([
            ("apiVersion", Manifest.str("gateway.networking.k8s.io/v1")), ("kind", Manifest.str("BackendTLSPolicy")),
            ("metadata", Manifest.metadata(name: "\(service)-backend-tls", namespace: namespace)),
            ("spec", Manifest.map([
                ("targetRefs", Manifest.seq([Manifest.map([("group", Manifest.str("")), ("kind", Manifest.str("Service")), ("name", Manifest.str(service))])])),
                ("validation", Manifest.map([("hostname", Manifest.str(hostname)), ("wellKnownCACertificates", Manifest.str("System"))])),
            ])),
        ])
    }
}

/// `PREFIX(/|$)(.*)` rewritten to `REPLACEMENT$2` (the form ingress-nginx's documentation teaches):
/// strip PREFIX and keep the rest, which is what ReplacePrefixMatch does.
struct PrefixStrip {
    var prefix: String
    var replacement: String

    init?(path: String, target: String) {
        let suffixes = ["(/|$)(.*)", "(/|$)(.*)$"]
        guard let suffix = suffixes.first(where: path.hasSuffix) else { return nil }
        let prefix = String(path.dropLast(suffix.count))
        guard prefix.hasPrefix("/"), !prefix.contains(where: { "\\^$.|?*+()[]{}".contains($0) }) else { return nil }
        guard target.hasSuffix("$2"), !target.dropLast(2).contains("$") else { return nil }
        var replacement = String(target.dropLast(2))
        if replacement.isEmpty { replacement = "/" }
        self.prefix = prefix.isEmpty ? "/" : prefix
        self.replacement = replacement
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}
