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
    /// ingress-nginx's locations for the hosts of the Ingresses this one shares a Gateway with.
    let nginx: NginxLocations
    /// Those Ingresses, whose paths share nginx's order with this one's on a host in regex mode.
    let neighbours: [Ingress]
    var documents: [Node] = []
    /// What the routes knowingly do differently from ingress-nginx.
    var accepted: [AcceptedDifference] = []
    var policies: [Node] = []
    /// The HTTPRoutes that carry the Ingress's backends: what its edge policies attach to.
    var backendRoutes: [String] = []
    private var namespace: String { ingress.metadata.namespace ?? "default" }

    init(ingress: Ingress, gateway: String, gatewayNamespace: String, snapshot: ResourceSnapshot, neighbours: [Ingress]) {
        self.ingress = ingress
        self.neighbours = neighbours
        self.nginx = NginxLocations(neighbours)
        self.gateway = gateway
        self.gatewayNamespace = gatewayNamespace
        self.snapshot = snapshot
        self.intent = IngressIntent.reading(ingress, in: snapshot)
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
                ("hostnames", host == "*" ? nil : Manifest.seq(([host] + (intent.kong?.hostAliases ?? [])).map(Manifest.str))),
                ("rules", Manifest.seq(rules)),
            ])),
        ])
    }

    mutating func build(into gateway: inout GatewayPlan, canaries: [Ingress]) {
        for key in ["cert-manager.io/cluster-issuer", "cert-manager.io/issuer"] {
            if let value = ingress.annotation(key) { gateway.annotations[key] = value }
        }
        let tlsHosts = Set(ingress.tlsHosts)
        let traefik = intent.controller == .traefik
        let nginxInc = intent.nginxInc
        // GCE's allow-http "false": no cleartext forwarding rule, so no route on the http listener.
        let httpParents = intent.gce?.allowHTTP == false ? [] : (nginxInc?.listenPorts ?? [80]).map { gateway.addHTTP(port: $0) }
        if let gce = intent.gce { gateway.keepStaticAddress(of: gce) }
        for (host, paths) in ingress.hostRules {
            let name = IngressConverter.routeName(ingress, host: host)
            if intent.sslPassthrough {
                let section = gateway.addPassthrough(host: host)
                let refs = paths.prefix(1).compactMap { backendRef($0.backend, weight: nil) }
                documents.append(route(kind: "TLSRoute", apiVersion: "gateway.networking.k8s.io/v1", name: name, host: host,
                                       parents: [section], rules: [Manifest.map([("backendRefs", Manifest.seq(refs))])]))
                // Cilium serves a passthrough Ingress in TLS only.
                if intent.cilium != nil { continue }
                // ingress-nginx still serves the host's paths in plain HTTP on port 80 (kubernetes/ingress-nginx#4203).
                documents.append(route(kind: "HTTPRoute", name: name + "-http", host: host, parents: httpParents,
                                       rules: httpRules(host: host, paths: paths, canaries: canaries)))
                backendRoutes.append(name + "-http")
                continue
            }
            var parents: [String] = []
            let secret = tlsSecret(host: host, traefik: traefik || intent.gce != nil)
            let hasTLS = tlsHosts.contains(host) || secret != nil
            if let secret, intent.traefik?.servesTLS != false, intent.kong?.httpOnly != true {
                parents += (nginxInc?.listenPortsSSL ?? [443]).map { gateway.addHTTPS(host: host, secret: secret, port: $0) }
            }
            // ingress-nginx redirects TLS hosts to HTTPS by default; Traefik never does unless told (a middleware).
            let redirect = intent.forceSSLRedirect || (hasTLS && intent.sslRedirect != false && !traefik)
            if redirect, !httpParents.isEmpty {
                // Only the paths the Ingress routes are redirected; others stay unrouted, as in ingress-nginx.
                // A FrontendConfig's redirect is GCE's whole cleartext URL map: every path.
                let matches = intent.gce != nil ? [Manifest.map([("path", pathMatch("PathPrefix", "/"))])] : redirectMatches(host: host, paths: paths)
                let rule = Manifest.map([("matches", Manifest.seq(matches)),
                                         ("filters", Manifest.seq([redirectFilter(scheme: "https", port: intent.httpsRedirectPort, statusCode: intent.httpsRedirectCode)]))])
                // app-root answers before any location, in cleartext too (keeping the scheme).
                documents.append(route(kind: "HTTPRoute", name: name + "-ssl-redirect", host: host, parents: httpParents,
                                       rules: appRootRule().map { [$0, rule] } ?? [rule]))
            } else if let kong = intent.kong, kong.httpsOnly {
                // Kong answers cleartext with 426, which no Gateway API rule can: no cleartext route at all.
                for path in paths {
                    let difference = AcceptedDifference(ingress: ingress.metadata.namespacedName, host: host, path: path.path ?? "/", kind: .cleartextRefused,
                                                        why: "Kong answered cleartext requests with 426 Upgrade Required; the Gateway has no cleartext route for them, so they get 404 (set konghq.com/https-redirect-status-code to 301, 302, 307 or 308 for a redirect instead)")
                    if !accepted.contains(difference) { accepted.append(difference) }
                }
            } else if intent.traefik?.servesCleartext != false {
                parents.insert(contentsOf: httpParents, at: 0)
            }
            if intent.fromToWWWRedirect && host != "*" {
                let other = host.hasPrefix("www.") ? String(host.dropFirst(4)) : "www." + host
                let rule = Manifest.map([("filters", Manifest.seq([redirectFilter(hostname: host, statusCode: 308)]))])
                documents.append(route(kind: "HTTPRoute", name: name + "-www-redirect", host: other, parents: ["http"], rules: [rule]))
            }
            guard !parents.isEmpty else { continue }
            let grpc = nginxInc.map { !$0.grpcServices.isEmpty && paths.allSatisfy { intent.speaksGRPC($0.backend) } }
                ?? (intent.backendProtocol == "GRPC" || intent.backendProtocol == "GRPCS")
            // NGINX sends HSTS on HTTPS only: a host also served in cleartext gets its own route there without it.
            let cleartext = nginxInc?.hsts != nil && !grpc ? parents.filter(httpParents.contains) : []
            if !cleartext.isEmpty && cleartext.count < parents.count {
                parents.removeAll(where: cleartext.contains)
                documents.append(route(kind: "HTTPRoute", name: name + "-http", host: host, parents: cleartext,
                                       rules: httpRules(host: host, paths: paths, canaries: canaries, secure: false)))
                backendRoutes.append(name + "-http")
            }
            let rules = grpc ? grpcRules(paths) : httpRules(host: host, paths: paths, canaries: canaries)
            documents.append(route(kind: grpc ? "GRPCRoute" : "HTTPRoute", name: name, host: host, parents: parents, rules: rules))
            if !grpc { backendRoutes.append(name) }
            if let tlsServices = nginxInc?.sslServices {
                for service in Set(paths.compactMap { $0.backend.service?.name }).intersection(tlsServices).sorted() { policies.append(backendTLSPolicy(service)) }
            } else if intent.backendProtocol == "HTTPS" || intent.backendProtocol == "GRPCS" {
                for service in Set(paths.compactMap { $0.backend.service?.name }).sorted() { policies.append(backendTLSPolicy(service)) }
            }
        }
        // Without rules, the default backend is the catch-all for every host (with rules, see hostDefaultBackend).
        if (ingress.spec.rules ?? []).isEmpty, let backend = ingress.spec.defaultBackend, let ref = backendRef(backend, weight: nil) {
            documents.append(route(kind: "HTTPRoute", name: "\(ingress.metadata.name)-default-backend", host: "*", parents: ["http"],
                                   rules: [Manifest.map([("backendRefs", Manifest.seq([ref]))])]))
            backendRoutes.append("\(ingress.metadata.name)-default-backend")
        }
        policies += EdgeAnnotations(ingress: ingress, controller: intent.controller).policies(routes: backendRoutes, intent: intent)
        policies += intent.gce?.healthCheckPolicies(namespace: namespace) ?? []
    }

    /// The Secret of a host's HTTPS listener. ingress-nginx terminates TLS per host, so a tls section
    /// of another Ingress on the host covers this one's paths too; Traefik's routers each have their own.
    private func tlsSecret(host: String, traefik: Bool) -> NamespacedName? {
        let owners = traefik ? [ingress] : [ingress] + neighbours.filter { IngressIntent($0).canary == nil }
        return owners.lazy.compactMap { owner in
            owner.tlsSecret(for: host).map { NamespacedName(owner.metadata.namespace ?? "default", $0) }
        }.first
    }

    /// What the cleartext listener redirects to HTTPS: exactly the paths the Ingress routes, each in
    /// the form that matches as nginx does (regex mode: the location regexes, case and all; a redirect
    /// needs no rewrite, so nothing is lost and their order does not matter).
    private func redirectMatches(host: String, paths: [Ingress.Path]) -> [Node] {
        let conversions = paths.map { path in
            nginx.isRegex(host: host)
                ? PathConversion(matches: nginx.patterns(host: host, path: path, intent: intent).map { .regex(NginxLocations.locationRegex($0)) })
                : intent.nginxInc.map { PathConversion.nginxInc(path, $0) }
                ?? intent.kong.map { PathConversion.kong(path, $0) }
                ?? intent.traefik.map { PathConversion.traefik(path, $0, []) }
                ?? intent.cilium.map { _ in PathConversion.cilium(path) } ?? intent.apisix.map { PathConversion.apisix(path, $0) }
                ?? PathConversion.plain(path.path ?? "/", type: path.pathType)
        }
        let fallback = hostDefaultBackend(host).map { _ in [Manifest.map([("path", pathMatch("PathPrefix", "/"))])] } ?? []
        let matches = conversions.flatMap(matchNodes)
        // Kong redirects only requests its route matches: with their methods and headers.
        return (intent.kong.map { $0.expand(matches) } ?? matches) + fallback
    }

    /// Each path with what it becomes, in the order its rules must have: nginx's order on a host in
    /// regex mode (ties between rules of one route go by rule order), the Ingress's order elsewhere.
    private mutating func conversions(host: String, paths: [Ingress.Path]) -> [(path: Ingress.Path, conversion: PathConversion)] {
        let name = ingress.metadata.namespacedName
        let plan = nginx.isRegex(host: host) ? RegexHostPlan(host: host, ingresses: neighbours, nginx: nginx) : nil
        let ordered = plan.map { plan in paths.indices.sorted { plan.rank(name, path: $0) < plan.rank(name, path: $1) } } ?? Array(paths.indices)
        return ordered.map { index in
            let conversion: PathConversion = plan?.conversion(name, path: index)
                ?? intent.nginxInc.map { PathConversion.nginxInc(paths[index], $0) }
                ?? intent.kong.map { PathConversion.kong(paths[index], $0) }
                ?? intent.traefik.map { PathConversion.traefik(paths[index], $0, intent.traefikMiddlewares) }
                ?? intent.gce.map { _ in PathConversion.gce(paths[index], exactPaths: GCEAnnotations.exactPaths(paths)) }
                ?? intent.cilium.map { _ in PathConversion.cilium(paths[index]) } ?? intent.apisix.map { PathConversion.apisix(paths[index], $0) }
                ?? PathConversion.plain(paths[index].path ?? "/", type: paths[index].pathType)
            for (kind, why) in conversion.accepted {
                let difference = AcceptedDifference(ingress: name, host: host, path: paths[index].path ?? "/", kind: kind, why: why)
                if !accepted.contains(difference) { accepted.append(difference) }
            }
            return (paths[index], conversion)
        }
    }

    /// `secure`: false for a route that only serves cleartext listeners (no HSTS there).
    private mutating func httpRules(host: String, paths: [Ingress.Path], canaries: [Ingress], secure: Bool = true) -> [Node] {
        var rules: [Node] = []
        let edge = EdgeAnnotations(ingress: ingress, controller: intent.controller)
        if let appRoot = appRootRule() { rules.append(appRoot) }
        for (path, conversion) in conversions(host: host, paths: paths) {
            let matches = intent.kong.map { $0.expand(matchNodes(conversion)) } ?? intent.apisix.map { $0.expand(matchNodes(conversion)) } ?? matchNodes(conversion)
            var filters: [Node] = []
            if let prefix = intent.xForwardedPrefix, let modifier = Manifest.headerModifier(response: false, set: [("X-Forwarded-Prefix", prefix)]) {
                filters.append(modifier)
            }
            if let cors = edge.corsFilter { filters.append(cors) }
            if let nginxInc = intent.nginxInc { filters += nginxInc.filterNodes(secure: secure) }
            filters += intent.kongPlugins.compactMap(\.corsFilter)
            if intent.traefik != nil { filters += TraefikMiddlewareUse.filterNodes(intent.traefikMiddlewares) }
            if let cors = intent.apisix?.corsFilterNode { filters.append(cors) }
            // Kong's preserve-host "false" sends the upstream's name as Host.
            let upstreamHost = intent.upstreamVhost ?? (intent.kong?.preserveHost == false ? path.backend.service.map { "\($0.name).\(namespace).svc" } : nil)
            if conversion.rewrite != nil || upstreamHost != nil {
                filters.append(Manifest.map([("type", Manifest.str("URLRewrite")), ("urlRewrite", Manifest.map([
                    ("hostname", upstreamHost.map(Manifest.str)), ("path", conversion.rewrite.map(rewriteNode)),
                ]))]))
            }
            if let moved = intent.hostRedirect, moved.host == host {
                rules.append(Manifest.map([("matches", Manifest.seq(matches)), ("filters", Manifest.seq([
                    redirectFilter(scheme: moved.scheme, hostname: moved.hostname, statusCode: moved.statusCode)]))]))
                continue
            }
            if let fixed = intent.fixedRedirect {
                let url = RedirectURL(fixed.url)
                rules.append(Manifest.map([("matches", Manifest.seq(matches)), ("filters", Manifest.seq([
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
                              ("backendRefs", Manifest.seq(refs.compactMap { $0 })), ("sessionPersistence", edge.sessionPersistence ?? intent.gce?.sessionPersistenceNode(path.backend)),
                              ("timeouts", intent.gce?.timeoutsNode(path.backend) ?? intent.cilium?.timeoutsNode),
                              ("retry", TraefikMiddlewareUse.retryNode(intent.traefikMiddlewares))])
            }
            func withHeader(_ name: String, _ value: String, regex: Bool) -> [Node] {
                matches.map { match in
                    Manifest.map(Self.pairs(of: match) + [("headers", Manifest.seq([Manifest.map([
                        ("type", regex ? Manifest.str("RegularExpression") : nil), ("name", Manifest.str(name)), ("value", Manifest.str(value))])]))])
                }
            }
            if let annotations = intent.nginxInc, let exact = Translator.nginxIncSlashRedirect(path, annotations: annotations) {
                rules.append(Manifest.map([("matches", Manifest.seq([Manifest.map([("path", pathMatch("Exact", exact))])])),
                                           ("filters", Manifest.seq([redirectFilter(path: path.path, statusCode: 301)]))]))
            }
            if intent.nginxInc?.redirectToHTTPS == true {
                // NGINX Ingress Controller's `if ($http_x_forwarded_proto = 'http') { return 301 https://... }`.
                rules.append(Manifest.map([("matches", Manifest.seq(withHeader("X-Forwarded-Proto", "http", regex: false))),
                                           ("filters", Manifest.seq([redirectFilter(scheme: "https", statusCode: 301)]))]))
            }
            if let (settings, canaryPath) = canary {
                // ingress-nginx asks the header, then the cookie, then the weight.
                if let header = settings.header {
                    for (value, regex, toCanary) in settings.headerCases {
                        rules.append(rule(withHeader(header, value, regex: regex), [backendRef(toCanary ? canaryPath.backend : path.backend, weight: nil)]))
                    }
                }
                for (value, backend) in [("always", canaryPath.backend), ("never", path.backend)] {
                    guard let cookie = settings.cookieMatch(value) else { break }
                    rules.append(rule(withHeader("Cookie", cookie, regex: true), [backendRef(backend, weight: nil)]))
                }
                if let weight = settings.weight {
                    rules.append(rule(matches, [backendRef(path.backend, weight: max(0, settings.weightTotal - weight)),
                                                backendRef(canaryPath.backend, weight: weight)]))
                    continue
                }
            }
            if case .prefixMatch = conversion.rewrite, matches.count > 1 {
                // ReplacePrefixMatch takes a rule with one match: Kong's method and header combinations get a rule each.
                rules += matches.map { rule([$0], [backendRef(path.backend, weight: nil)]) }
            } else {
                rules.append(rule(matches, [backendRef(path.backend, weight: nil)]))
            }
        }
        if let fallback = hostDefaultBackend(host) {
            rules.append(Manifest.map([("matches", Manifest.seq([Manifest.map([("path", pathMatch("PathPrefix", "/"))])])),
                                       ("backendRefs", Manifest.seq([fallback]))]))
        }
        return rules
    }

    /// `app-root`: "/" exactly is redirected (302) there.
    private func appRootRule() -> Node? {
        intent.appRoot.map { appRoot in
            Manifest.map([
                ("matches", Manifest.seq([Manifest.map([("path", pathMatch("Exact", "/"))])])),
                ("filters", Manifest.seq([redirectFilter(path: appRoot, statusCode: 302)])),
            ])
        }
    }

    /// ingress-nginx gives the hosts an Ingress with rules defines a root location with its
    /// defaultBackend: what their paths leave unmatched goes there (a last rule PathPrefix "/").
    private func hostDefaultBackend(_ host: String) -> Node? {
        guard host != "*", !(ingress.spec.rules ?? []).isEmpty, let backend = ingress.spec.defaultBackend else { return nil }
        return backendRef(backend, weight: nil)
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

    private func matchNodes(_ conversion: PathConversion) -> [Node] {
        conversion.matches.map { match in
            switch match {
            case .exact(let value): Manifest.map([("path", pathMatch("Exact", value))])
            case .prefix(let value): Manifest.map([("path", pathMatch("PathPrefix", value))])
            case .regex(let value): Manifest.map([("path", pathMatch("RegularExpression", value))])
            }
        }
    }

    private func rewriteNode(_ rewrite: PathConversion.Rewrite) -> Node {
        switch rewrite {
        case .fullPath(let value): Manifest.map([("type", Manifest.str("ReplaceFullPath")), ("replaceFullPath", Manifest.str(value))])
        case .prefixMatch(let value): Manifest.map([("type", Manifest.str("ReplacePrefixMatch")), ("replacePrefixMatch", Manifest.str(value))])
        }
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

extension String {
    func trimmingCharacters(in set: String) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}
