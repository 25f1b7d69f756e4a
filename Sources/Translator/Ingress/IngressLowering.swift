import GatewayAPI
import RoutingTable

/// How Ingress resources are served next to the Gateways (the migration's "run both" step).
public struct IngressServing: Sendable, Equatable {
    public static let defaultController = "archway.dev/ingress-controller"
    public var controllerName: String
    public var httpPort: Int
    public var httpsPort: Int
    /// Serve every Ingress whatever its class (`migrate --verify` reads Ingresses this way).
    public var everyClass: Bool

    public init(controllerName: String = Self.defaultController, httpPort: Int = 80, httpsPort: Int = 443, everyClass: Bool = false) {
        self.controllerName = controllerName
        self.httpPort = httpPort
        self.httpsPort = httpsPort
        self.everyClass = everyClass
    }
}

/// Ingress semantics, as ingress-nginx applies them, lowered straight into the routing table (not
/// through Gateway API resources, so that `migrate --verify` compares two independent readings):
/// within a host the longest path wins, Exact before Prefix on a tie; Prefix matches whole path
/// elements; ImplementationSpecific is a plain string prefix. A host in regex mode (NginxLocations:
/// `use-regex` or `rewrite-target` on any of its Ingresses) has only case-insensitive regular
/// expressions from the start of the path, tried longest first. Hosts with TLS redirect cleartext
/// requests with 308 unless `ssl-redirect: "false"`.
extension Translator {
    struct IngressEntry {
        var order: IngressOrder
        var entry: HTTPRouteEntry
    }

    /// An entry's place among its host's: nginx's order between locations, then the canary cases
    /// of one location before the location itself.
    struct IngressOrder: Comparable {
        /// -1 before every location (app-root), 1 after them (default backend, www redirect).
        var group = 0
        /// The location's path length; longer first.
        var length = 0
        /// Regex mode: equal lengths in descending byte order, nginx's tie-break.
        var pattern = ""
        /// Not regex mode: Exact, then Prefix, then ImplementationSpecific on equal length.
        var typeRank = 0
        var variant = 0
        var ingress = ""
        var index = 0

        static func < (a: Self, b: Self) -> Bool {
            if a.group != b.group { return a.group < b.group }
            if a.length != b.length { return a.length > b.length }
            if a.pattern != b.pattern { return NginxLocations.precedes(a.pattern, b.pattern) }
            return (a.typeRank, a.variant, a.ingress, a.index) < (b.typeRank, b.variant, b.ingress, b.index)
        }

        static func == (a: Self, b: Self) -> Bool { !(a < b) && !(b < a) }
    }

    /// The Ingress path (index into its host rule's paths) an entry of an Ingress came from; nil for
    /// app-root, www and default-backend entries. Each path's entries are numbered
    /// `path * 100 + n`: n below 10 is the location's own match, from 10 its canary cases.
    public static func ingressPathIndex(of origin: RouteOrigin) -> Int? {
        origin.rule >= 0 && origin.match >= 0 ? origin.match / 100 : nil
    }

    func servedIngresses(_ snapshot: ResourceSnapshot, serving: IngressServing, into statuses: inout StatusSet) -> [Ingress] {
        let ourClasses = Set(snapshot.ingressClasses.filter { $0.spec.controller == serving.controllerName }.map(\.metadata.name))
        let defaultClass = snapshot.ingressClasses.first { $0.isDefault }
        var served: [Ingress] = []
        for ingress in snapshot.ingresses {
            let className = ingress.className ?? defaultClass?.metadata.name
            let ours = serving.everyClass || className.map(ourClasses.contains) ?? false
            let why: String
            if ours {
                why = "served on ports \(serving.httpPort) and \(serving.httpsPort)"
                served.append(ingress)
            } else if let className {
                why = "class \"\(className)\" is not archway's (\(serving.controllerName)): not served"
            } else {
                why = "no ingressClassName and no default IngressClass: not served"
            }
            statuses.ingresses[ingress.metadata.namespacedName] = IngressServingStatus(served: ours, className: className, message: why)
        }
        // A canary only splits its main Ingress's traffic (same namespace, host and path): without a
        // served main Ingress nothing of it is reachable, so it is not reported as served.
        let mains = served.filter { IngressIntent($0).canary == nil }
        for canary in served where IngressIntent(canary).canary != nil {
            let pairs = canary.hostRules.flatMap { rule in rule.paths.map { (rule.host, $0.path ?? "/") } }
            let reachable = pairs.contains { host, path in
                mains.contains { main in
                    main.metadata.namespace == canary.metadata.namespace
                        && main.hostRules.contains { $0.host == host && $0.paths.contains { ($0.path ?? "/") == path } }
                }
            }
            guard !reachable else { continue }
            let key = canary.metadata.namespacedName
            statuses.ingresses[key]?.served = false
            statuses.ingresses[key]?.degraded = true
            statuses.ingresses[key]?.message = "not served: a canary Ingress only splits the traffic of a main Ingress with the same host and path "
                + "in namespace \(canary.metadata.namespace ?? "default"), and no served Ingress has "
                + pairs.map { "\($0.0)\($0.1)" }.joined(separator: ", ")
        }
        return served
    }

    func lowerIngresses(_ ingresses: [Ingress], serving: IngressServing, snapshot: ResourceSnapshot, builder: inout TableBuilder) {
        guard !ingresses.isEmpty else { return }
        let canaries = ingresses.filter { IngressIntent($0).canary != nil }
        let mains = ingresses.filter { IngressIntent($0).canary == nil }
        let tlsHosts = Set(mains.flatMap(\.tlsHosts))
        let nginx = NginxLocations(mains)
        var clusters: [String: ClusterSource] = [:]
        // Each Ingress read once, as its controller reads it, for every port.
        let intents = mains.map { IngressIntent.reading($0, in: snapshot) }
        for (port, secure) in Self.ingressPorts(intents, serving: serving) {
            var hosts: [String: [IngressEntry]] = [:]
            for (ingress, intent) in zip(mains, intents) where Self.listens(intent, port: port, secure: secure, serving: serving)
                && (secure || intent.gce?.allowHTTP != false) {  // GKE's allow-http "false": no cleartext forwarding rule
                for (index, entry) in entries(of: ingress, intent: intent, canaries: canaries, secure: secure, tlsHosts: tlsHosts, nginx: nginx,
                                              snapshot: snapshot, clusters: &clusters) {
                    hosts[index, default: []].append(entry)
                }
            }
            let virtualHosts = hosts.keys.sorted(by: Hostnames.specificityOrder).map { host in
                VirtualHost(hostname: host, routes: hosts[host]!.sorted { $0.order < $1.order }.map(\.entry))
            }
            let ref = ListenerTable.Ref(gatewayNamespace: "", gatewayName: "ingress", listenerName: secure ? "https" : "http")
            if secure {
                for host in tlsHosts.sorted(by: Hostnames.specificityOrder) {
                    guard let pair = ingressCertificate(for: host, in: mains, snapshot: snapshot) else { continue }
                    let covered = virtualHosts.filter { $0.hostname == host || Hostnames.covers(host, $0.hostname) }
                    if covered.isEmpty && port != serving.httpsPort { continue }
                    var listener = ListenerTable(refs: [ref], hostname: host, virtualHosts: covered,
                                                 tls: ListenerTLS(mode: .terminate, certificates: [pair]))
                    listener.hostRulesAnswerAlone = true  // ingress-nginx: a host's server block answers alone
                    builder.addPrebuilt(listener, port: port, protocol: "HTTPS")
                }
            } else {
                var listener = ListenerTable(refs: [ref], hostname: nil, virtualHosts: virtualHosts)
                listener.hostRulesAnswerAlone = true  // ingress-nginx: a host's server block answers alone
                builder.addPrebuilt(listener, port: port, protocol: "HTTP")
            }
        }
        builder.addClusters(clusters)
    }

    private func ingressCertificate(for host: String, in ingresses: [Ingress], snapshot: ResourceSnapshot) -> CertificatePair? {
        for ingress in ingresses {
            guard let name = ingress.tlsSecret(for: host),
                  let secret = snapshot.secrets[NamespacedName(ingress.metadata.namespace ?? "default", name)],
                  let chain = secret.value(forKey: "tls.crt"), let key = secret.value(forKey: "tls.key") else { continue }
            if let check = options.certificateCheck, check(chain, key) != nil { continue }
            return CertificatePair(source: "\(ingress.metadata.namespace ?? "default")/\(name)", chainPEM: chain, keyPEM: key)
        }
        return nil
    }

    /// (vhost, entry) pairs one Ingress contributes on one port.
    private func entries(of ingress: Ingress, intent: IngressIntent, canaries: [Ingress], secure: Bool, tlsHosts: Set<String>, nginx: NginxLocations,
                         snapshot: ResourceSnapshot, clusters: inout [String: ClusterSource]) -> [(String, IngressEntry)] {
        let namespace = ingress.metadata.namespace ?? "default"
        let name = "\(namespace)/\(ingress.metadata.name)"
        var result: [(String, IngressEntry)] = []
        func origin(_ rule: Int, _ match: Int) -> RouteOrigin {
            RouteOrigin(namespace: namespace, name: ingress.metadata.name, rule: rule, match: match, gatewayNamespace: "", gatewayName: "ingress")
        }
        // Kong `protocols: http`: no TLS route; `protocols: https` without a redirect code: cleartext gets 426.
        if secure && intent.kong?.httpOnly == true { return [] }
        // Traefik `router.entrypoints`: web is cleartext, websecure TLS.
        if let traefik = intent.traefik, secure ? !traefik.servesTLS : !traefik.servesCleartext { return [] }
        // Cilium tls-passthrough: TLS goes to the backend untouched and nothing is served in
        // cleartext; archway serving Ingresses does not pass TLS through, so it serves none of it.
        if intent.cilium?.tlsPassthrough == true { return [] }
        let refusesCleartext = !secure && intent.kong.map { $0.httpsOnly && $0.redirectCode == nil } ?? false
        for (ruleIndex, (host, paths)) in ingress.hostRules.enumerated() {
            let redirectToHTTPS = !secure && (intent.forceSSLRedirect || (tlsHosts.contains(host) && intent.sslRedirect != false))
            let httpsRedirect = Redirect(scheme: "https", hostname: nil, port: intent.httpsRedirectPort, path: nil, statusCode: intent.httpsRedirectCode)
            if intent.fromToWWWRedirect && host != "*" {
                let other = host.hasPrefix("www.") ? String(host.dropFirst(4)) : "www." + host
                let redirect = Redirect(scheme: nil, hostname: host, port: nil, path: nil, statusCode: 308)
                result.append((other, IngressEntry(order: IngressOrder(group: 1, ingress: name, index: ruleIndex),
                                                   entry: HTTPRouteEntry(origin: origin(ruleIndex, -2), match: HTTPMatch(path: .prefix("")),
                                                                         filters: [], action: .redirect(redirect)))))
            }
            if let appRoot = intent.appRoot {
                // `if ($uri = /) { return 302 $scheme://$http_host APP-ROOT; }` runs in the server block,
                // before any location: the request's scheme is kept, HTTPS redirect or not.
                let redirect = Redirect(scheme: nil, hostname: nil, port: nil, path: .replaceFullPath(appRoot), statusCode: 302)
                result.append((host, IngressEntry(order: IngressOrder(group: -1, ingress: name, index: ruleIndex),
                                                  entry: HTTPRouteEntry(origin: origin(ruleIndex, -1), match: HTTPMatch(path: .exact("/")),
                                                                        filters: [], action: .redirect(redirect)))))
            }
            let regexMode = nginx.isRegex(host: host)
            for (pathIndex, path) in paths.enumerated() {
                let value = path.path ?? "/"
                // One match per nginx location the path becomes, each in its own place in nginx's order.
                let locations: [(match: HTTPMatch, order: IngressOrder)] = intent.traefik.map {
                    [Self.traefikLocation(path, annotations: $0, ingress: name, index: ruleIndex * 1000 + pathIndex)]
                } ?? intent.kong.map {
                    Self.kongLocations(path, annotations: $0, ingress: name, index: ruleIndex * 1000 + pathIndex)
                } ?? intent.nginxInc.map {
                    [Self.nginxIncLocation(path, annotations: $0, ingress: name, index: ruleIndex * 1000 + pathIndex)]
                } ?? intent.gce.map { _ in Self.gceLocations(path, ingress: name, index: ruleIndex * 1000 + pathIndex) }
                ?? intent.cilium.map { _ in
                    [Self.ciliumLocation(path, ingress: name, index: ruleIndex * 1000 + pathIndex)]
                } ?? intent.apisix.map {
                    Self.apisixLocations(path, annotations: $0, ingress: name, index: ruleIndex * 1000 + pathIndex)
                } ?? (regexMode
                    ? nginx.patterns(host: host, path: path, intent: intent).map { pattern in
                        (HTTPMatch(path: .regularExpression(NginxLocations.locationRegex(pattern))),
                         IngressOrder(length: pattern.utf8.count, pattern: pattern, ingress: name, index: ruleIndex * 1000 + pathIndex))
                    }
                    : [(Self.ingressPathMatch(value, type: path.pathType),
                        IngressOrder(length: value.count, typeRank: path.pathType == .Exact ? 0 : path.pathType == .Prefix ? 1 : 2,
                                     ingress: name, index: ruleIndex * 1000 + pathIndex))])
                let filters = redirectToHTTPS || intent.fixedRedirect != nil || intent.hostRedirect?.host == host ? []
                    : intent.traefik.map { _ in Self.traefikFilters(intent.traefikMiddlewares) }
                    ?? intent.kong.map { Self.kongFilters($0, plugins: intent.kongPlugins, path: path, namespace: namespace) }
                    ?? intent.nginxInc.map { Self.nginxIncFilters($0, path: path, secure: secure) }
                    ?? intent.apisix.map(Self.apisixFilters) ?? intent.cilium.map { _ in [] }
                    ?? Self.ingressFilters(intent, pathValue: value, regexMode: regexMode)
                var cases: [(ValueMatch?, RouteAction)] = []
                if refusesCleartext {
                    cases = [(nil, .direct(status: 426, reason: "Kong answers cleartext with 426 Upgrade Required on a protocols: https route"))]
                } else if redirectToHTTPS {
                    cases = [(nil, .redirect(httpsRedirect))]
                } else if let moved = intent.hostRedirect, moved.host == host {
                    cases = [(nil, .redirect(Redirect(scheme: moved.scheme, hostname: moved.hostname, port: nil, path: nil, statusCode: moved.statusCode)))]
                } else if let fixed = intent.fixedRedirect {
                    let url = RedirectURL(fixed.url)
                    cases = [(nil, .redirect(Redirect(scheme: url.scheme, hostname: url.host, port: url.port,
                                                      path: .replaceFullPath(url.path), statusCode: fixed.statusCode)))]
                } else {
                    cases = forwardCases(host: host, path: path, namespace: namespace, intent: intent, canaries: canaries, snapshot: snapshot, clusters: &clusters)
                    if intent.nginxInc?.redirectToHTTPS == true {
                        // `if ($http_x_forwarded_proto = 'http') { return 301 https://$host$request_uri; }` in the server block.
                        let offloaded = Redirect(scheme: "https", hostname: nil, port: nil, path: nil, statusCode: 301)
                        cases.insert((ValueMatch(name: "x-forwarded-proto", kind: .exact, value: "http"), .redirect(offloaded)), at: 0)
                    }
                }
                if let annotations = intent.nginxInc, let exact = Self.nginxIncSlashRedirect(path, annotations: annotations) {
                    // nginx answers the location's path without its slash with 301 to it (a proxy_pass location's auto_redirect).
                    let action: RouteAction = redirectToHTTPS ? .redirect(httpsRedirect)
                        : .redirect(Redirect(scheme: nil, hostname: nil, port: nil, path: .replaceFullPath(value), statusCode: 301))
                    result.append((host, IngressEntry(order: IngressOrder(group: -2, length: exact.count, typeRank: 1, ingress: name, index: ruleIndex * 1000 + pathIndex),
                                                      entry: HTTPRouteEntry(origin: origin(ruleIndex, pathIndex * 100 + 9), match: HTTPMatch(path: .exact(exact)),
                                                                            filters: [], action: action))))
                }
                for (variant, (condition, action)) in cases.enumerated() {
                    for (patternIndex, location) in locations.enumerated() {
                        var order = location.order
                        order.variant = condition == nil ? cases.count : variant
                        var match = location.match
                        if let condition { match.headers.append(condition) }
                        let code = pathIndex * 100 + (condition == nil ? patternIndex : 10 + variant * 2 + patternIndex)
                        result.append((host, IngressEntry(order: order, entry: HTTPRouteEntry(origin: origin(ruleIndex, code), match: match,
                                                                                             filters: filters, action: action,
                                                                                             timeouts: intent.cilium?.routeTimeouts))))
                    }
                }
            }
        }
        // ingress-nginx's createServers: an Ingress without rules makes its default backend the catch-all
        // server's; with rules, it answers what the paths of the hosts it defines leave unmatched (their
        // root location). HTTPS listeners carry only TLS hosts' vhosts, never "*": the catch-all is cleartext only.
        if let backend = ingress.spec.defaultBackend {
            let forward = ingressBackend(backend, namespace: namespace, intent: intent, snapshot: snapshot, clusters: &clusters)
            let hosts = (ingress.spec.rules ?? []).isEmpty ? (secure ? [] : ["*"]) : ingress.hostRules.map(\.host).filter { $0 != "*" }
            for host in hosts {
                let redirectToHTTPS = !secure && (intent.forceSSLRedirect || (tlsHosts.contains(host) && intent.sslRedirect != false))
                let action: RouteAction = redirectToHTTPS
                    ? .redirect(Redirect(scheme: "https", hostname: nil, port: nil, path: nil, statusCode: intent.httpsRedirectCode)) : .forward([forward])
                result.append((host, IngressEntry(order: IngressOrder(group: 1, typeRank: 3, ingress: name),
                                                  entry: HTTPRouteEntry(origin: origin(-1, 0), match: HTTPMatch(path: .prefix("")),
                                                                        filters: [], action: action))))
            }
        }
        if let retry = Self.traefikRetry(intent.traefikMiddlewares) {
            for index in result.indices where result[index].1.entry.retry == nil { result[index].1.entry.retry = retry }
        }
        // Kong host-aliases: the same routes under more hostnames.
        let hostEntries = result.filter { $0.0 != "*" }
        for alias in intent.kong?.hostAliases ?? [] {
            result += hostEntries.map { (alias, $0.1) }
        }
        result += Self.gceRedirectEverything(ingress, intent: intent, secure: secure)
        Self.applyGCEBackendConfigs(&result, of: ingress, intent: intent)
        if let unenforced = Self.unenforcedAccessControl(intent, ingress: name) {
            for index in result.indices {
                // Redirects (to HTTPS, app-root) run before access checks in ingress-nginx too.
                if case .redirect = result[index].1.entry.action { continue }
                result[index].1.entry.edge = [unenforced]
            }
        }
        return result
    }

    /// Where one path forwards: a canary Ingress on the same host and path adds, in ingress-nginx's
    /// order, its header cases, its cookie cases, then its weight to the main backend (the last case,
    /// with no condition).
    private func forwardCases(host: String, path: Ingress.Path, namespace: String, intent: IngressIntent, canaries: [Ingress], snapshot: ResourceSnapshot,
                              clusters: inout [String: ClusterSource]) -> [(ValueMatch?, RouteAction)] {
        let mainBackend = ingressBackend(path.backend, namespace: namespace, intent: intent, snapshot: snapshot, clusters: &clusters)
        let canary = canaries.lazy.compactMap { candidate -> (IngressIntent, Ingress.Path)? in
            let candidateIntent = IngressIntent(candidate)
            guard candidate.metadata.namespace ?? "default" == namespace, candidateIntent.canary != nil,
                  let match = candidate.hostRules.first(where: { $0.host == host })?.paths.first(where: { $0.path == path.path })
            else { return nil }
            return (candidateIntent, match)
        }.first
        guard let (canaryIntent, canaryPath) = canary, let settings = canaryIntent.canary else { return [(nil, .forward([mainBackend]))] }
        let canaryBackend = ingressBackend(canaryPath.backend, namespace: namespace, intent: canaryIntent, snapshot: snapshot, clusters: &clusters)
        var cases: [(ValueMatch?, RouteAction)] = []
        if let header = settings.header?.lowercased() {
            cases += settings.headerCases.map { value, regex, toCanary in
                (ValueMatch(name: header, kind: regex ? .regularExpression : .exact, value: value), .forward([toCanary ? canaryBackend : mainBackend]))
            }
        }
        if settings.cookie != nil {
            cases += [("always", canaryBackend), ("never", mainBackend)].map { value, backend in
                (ValueMatch(name: "cookie", kind: .regularExpression, value: settings.cookieMatch(value)!), .forward([backend]))
            }
        }
        var weighted = [mainBackend]
        if let weight = settings.weight {
            var other = canaryBackend
            weighted[0].weight = max(0, settings.weightTotal - weight)
            other.weight = weight
            weighted.append(other)
        }
        return cases + [(nil, .forward(weighted))]
    }

    /// The rule that refuses an Ingress's requests while it asks for access control the side-by-side
    /// serving does not enforce; nil when it asks for none.
    static func unenforcedAccessControl(_ intent: IngressIntent, ingress: String) -> EdgeRule? {
        guard !intent.accessControl.isEmpty else { return nil }
        return .unenforceable(UnenforceableRule(
            policy: "Ingress \(ingress) annotations", kind: "IngressAccessControl",
            problem: intent.accessControl.joined(separator: ", ") + " not enforced when archway serves Ingresses; convert it with `archway migrate` (which turns them into archway.dev policies)"))
    }

    /// A path of a host not in regex mode. Prefix "/foo" becomes the locations "/foo/" and "= /foo":
    /// whole path segments. Prefix "/foo/" becomes "/foo/" and "= /foo/" (ingress-nginx keeps the
    /// path as written for the exact one), so unlike the Ingress spec "/foo" itself is not matched.
    static func ingressPathMatch(_ value: String, type: Ingress.Path.PathType) -> HTTPMatch {
        if type == .Exact { return HTTPMatch(path: .exact(value)) }
        if type == .Prefix && !(value.hasSuffix("/") && value != "/") { return HTTPMatch(path: .prefix(value == "/" ? "" : value)) }
        return HTTPMatch(path: .regularExpression(Self.escapeRegex(value) + ".*"))
    }

    /// x-forwarded-prefix, upstream-vhost and, in regex mode, nginx's `rewrite "(?i)PATH" TARGET`.
    static func ingressFilters(_ intent: IngressIntent, pathValue: String, regexMode: Bool) -> [HTTPFilter] {
        var filters: [HTTPFilter] = []
        if let prefix = intent.xForwardedPrefix {
            filters.append(.requestHeaders(HeaderEdits(set: [HeaderValue(name: "x-forwarded-prefix", value: prefix)], add: [], remove: [])))
        }
        let rewrite = regexMode && NginxLocations.needsRewrite(intent, path: pathValue)
            ? intent.rewriteTarget.map { PathRewrite.regexReplace(pattern: "(?i)" + pathValue, template: $0) } : nil
        if rewrite != nil || intent.upstreamVhost != nil {
            filters.append(.urlRewrite(hostname: intent.upstreamVhost, path: rewrite))
        }
        return filters
    }

    /// A Service backend as a cluster; a missing Service or port is answered 503, as ingress-nginx does.
    /// `backend-protocol: GRPC` speaks HTTP/2 with prior knowledge (h2c) to it, as ingress-nginx's grpc_pass does.
    private func ingressBackend(_ backend: Ingress.Backend, namespace: String, intent: IngressIntent, snapshot: ResourceSnapshot,
                                clusters: inout [String: ClusterSource]) -> WeightedBackend {
        guard let service = backend.service else {
            return WeightedBackend(name: backend.description, weight: 1, target: .invalid(reason: "resource backends are not supported"))
        }
        let key = NamespacedName(namespace, service.name)
        let ports = snapshot.services[key]?.spec?.ports ?? []
        guard let port = service.port.number ?? ports.first(where: { $0.name == service.port.name })?.port else {
            let known = snapshot.services[key].map { "its ports: " + Self.describePorts($0) } ?? "the Service does not exist"
            return WeightedBackend(name: service.name, weight: 1,
                                   target: .invalid(reason: "Service \(key) has no port \(service.port.name ?? "?"); \(known)"))
        }
        let http2 = intent.speaksGRPC(backend)
        let id = "\(namespace)/\(service.name):\(port)" + (http2 ? "/h2c" : "")
        clusters[id] = ClusterSource(service: key, port: port, http2: http2)
        return WeightedBackend(name: service.name, weight: 1, target: .cluster(id))
    }

    public static func escapeRegex(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if "\\^$.|?*+()[]{}".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}
