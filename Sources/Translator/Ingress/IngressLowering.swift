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
/// elements; ImplementationSpecific is a plain string prefix, or a case-insensitive regular
/// expression from the start of the path when `use-regex` or `rewrite-target` is set; hosts with TLS
/// redirect cleartext requests with 308 unless `ssl-redirect: "false"`.
extension Translator {
    struct IngressEntry {
        var sortKey: (Int, Int, Int, String, Int)
        var entry: HTTPRouteEntry
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
        var clusters: [String: ClusterSource] = [:]
        for (port, secure) in [(serving.httpPort, false), (serving.httpsPort, true)] {
            var hosts: [String: [IngressEntry]] = [:]
            for ingress in mains {
                for (index, entry) in entries(of: ingress, canaries: canaries, secure: secure, tlsHosts: tlsHosts,
                                              snapshot: snapshot, clusters: &clusters) {
                    hosts[index, default: []].append(entry)
                }
            }
            let virtualHosts = hosts.keys.sorted(by: Hostnames.specificityOrder).map { host in
                VirtualHost(hostname: host, routes: hosts[host]!.sorted { $0.sortKey < $1.sortKey }.map(\.entry))
            }
            let ref = ListenerTable.Ref(gatewayNamespace: "", gatewayName: "ingress", listenerName: secure ? "https" : "http")
            if secure {
                for host in tlsHosts.sorted(by: Hostnames.specificityOrder) {
                    guard let pair = ingressCertificate(for: host, in: mains, snapshot: snapshot) else { continue }
                    let covered = virtualHosts.filter { $0.hostname == host || Hostnames.covers(host, $0.hostname) }
                    builder.addPrebuilt(ListenerTable(refs: [ref], hostname: host, virtualHosts: covered,
                                                      tls: ListenerTLS(mode: .terminate, certificates: [pair])),
                                        port: port, protocol: "HTTPS")
                }
            } else {
                builder.addPrebuilt(ListenerTable(refs: [ref], hostname: nil, virtualHosts: virtualHosts), port: port, protocol: "HTTP")
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
    private func entries(of ingress: Ingress, canaries: [Ingress], secure: Bool, tlsHosts: Set<String>,
                         snapshot: ResourceSnapshot, clusters: inout [String: ClusterSource]) -> [(String, IngressEntry)] {
        let intent = IngressIntent(ingress)
        let namespace = ingress.metadata.namespace ?? "default"
        let name = "\(namespace)/\(ingress.metadata.name)"
        var result: [(String, IngressEntry)] = []
        func origin(_ rule: Int, _ match: Int) -> RouteOrigin {
            RouteOrigin(namespace: namespace, name: ingress.metadata.name, rule: rule, match: match, gatewayNamespace: "", gatewayName: "ingress")
        }
        for (ruleIndex, (host, paths)) in ingress.hostRules.enumerated() {
            let redirectToHTTPS = !secure && (intent.forceSSLRedirect || (tlsHosts.contains(host) && intent.sslRedirect != false))
            if intent.fromToWWWRedirect && host != "*" {
                let other = host.hasPrefix("www.") ? String(host.dropFirst(4)) : "www." + host
                let redirect = Redirect(scheme: nil, hostname: host, port: nil, path: nil, statusCode: 308)
                result.append((other, IngressEntry(sortKey: (0, 0, 0, name, ruleIndex),
                                                   entry: HTTPRouteEntry(origin: origin(ruleIndex, -2), match: HTTPMatch(path: .prefix("")),
                                                                         filters: [], action: .redirect(redirect)))))
            }
            if let appRoot = intent.appRoot {
                let redirect = Redirect(scheme: redirectToHTTPS ? "https" : nil, hostname: nil, port: nil, path: .replaceFullPath(appRoot), statusCode: 302)
                result.append((host, IngressEntry(sortKey: (Int.min, 0, 0, name, ruleIndex),
                                                  entry: HTTPRouteEntry(origin: origin(ruleIndex, -1), match: HTTPMatch(path: .exact("/")),
                                                                        filters: [], action: .redirect(redirect)))))
            }
            for (pathIndex, path) in paths.enumerated() {
                let value = path.path ?? "/"
                let match = Self.ingressPathMatch(value, type: path.pathType, intent: intent)
                let typeRank = path.pathType == .Exact ? 0 : path.pathType == .Prefix ? 1 : 2
                var filters: [HTTPFilter] = []
                var action: RouteAction
                if redirectToHTTPS {
                    action = .redirect(Redirect(scheme: "https", hostname: nil, port: nil, path: nil, statusCode: 308))
                } else if let fixed = intent.fixedRedirect {
                    let url = RedirectURL(fixed.url)
                    action = .redirect(Redirect(scheme: url.scheme, hostname: url.host, port: url.port,
                                                path: .replaceFullPath(url.path), statusCode: fixed.statusCode))
                } else {
                    let mainBackend = ingressBackend(path.backend, namespace: namespace, intent: intent, snapshot: snapshot, clusters: &clusters)
                    let canary = canaries.lazy.compactMap { candidate -> (Ingress, Ingress.Path)? in
                        guard candidate.metadata.namespace == ingress.metadata.namespace,
                              let match = candidate.hostRules.first(where: { $0.host == host })?.paths.first(where: { $0.path == path.path })
                        else { return nil }
                        return (candidate, match)
                    }.first
                    action = .forward([mainBackend])
                    if let (canaryIngress, canaryPath) = canary, let settings = IngressIntent(canaryIngress).canary {
                        let canaryBackend = ingressBackend(canaryPath.backend, namespace: namespace, intent: IngressIntent(canaryIngress), snapshot: snapshot, clusters: &clusters)
                        if let weight = settings.weight {
                            var main = mainBackend, other = canaryBackend
                            main.weight = max(0, settings.weightTotal - weight)
                            other.weight = weight
                            action = .forward([main, other])
                        }
                        if let header = settings.header?.lowercased() {
                            let cases: [(String, WeightedBackend)] = settings.headerValue.map { [($0, canaryBackend)] }
                                ?? [("always", canaryBackend), ("never", mainBackend)]
                            for (offset, (headerValue, backend)) in cases.enumerated() {
                                let headerMatch = HTTPMatch(path: match.path, headers: [ValueMatch(name: header, kind: .exact, value: headerValue)])
                                result.append((host, IngressEntry(sortKey: (-value.count, typeRank, 0, name, ruleIndex * 1000 + pathIndex),
                                                                  entry: HTTPRouteEntry(origin: origin(ruleIndex, 1000 + pathIndex * 10 + offset),
                                                                                        match: headerMatch, filters: Self.ingressFilters(intent, pathValue: value),
                                                                                        action: .forward([backend])))))
                            }
                        }
                    }
                    filters = Self.ingressFilters(intent, pathValue: value)
                }
                result.append((host, IngressEntry(sortKey: (-value.count, typeRank, 1, name, ruleIndex * 1000 + pathIndex),
                                                  entry: HTTPRouteEntry(origin: origin(ruleIndex, pathIndex), match: match,
                                                                        filters: filters, action: action))))
            }
        }
        // HTTPS listeners carry only their TLS hosts' vhosts, never "*": the catch-all is cleartext only.
        if let backend = ingress.spec.defaultBackend, !secure {
            let forward = ingressBackend(backend, namespace: namespace, intent: intent, snapshot: snapshot, clusters: &clusters)
            result.append(("*", IngressEntry(sortKey: (Int.max, 3, 1, name, 0),
                                             entry: HTTPRouteEntry(origin: origin(-1, 0), match: HTTPMatch(path: .prefix("")),
                                                                   filters: [], action: .forward([forward])))))
        }
        if let unenforced = Self.unenforcedAccessControl(intent, ingress: name) {
            for index in result.indices {
                // Redirects (to HTTPS, app-root) run before access checks in ingress-nginx too.
                if case .redirect = result[index].1.entry.action { continue }
                result[index].1.entry.edge = [unenforced]
            }
        }
        return result
    }

    /// The rule that refuses an Ingress's requests while it asks for access control the side-by-side
    /// serving does not enforce; nil when it asks for none.
    static func unenforcedAccessControl(_ intent: IngressIntent, ingress: String) -> EdgeRule? {
        guard !intent.accessControl.isEmpty else { return nil }
        return .unenforceable(UnenforceableRule(
            policy: "Ingress \(ingress) annotations", kind: "IngressAccessControl",
            problem: intent.accessControl.joined(separator: ", ") + " not enforced when archway serves Ingresses; convert it with `archway migrate` (which turns them into archway.dev policies)"))
    }

    static func ingressPathMatch(_ value: String, type: Ingress.Path.PathType, intent: IngressIntent) -> HTTPMatch {
        if type == .Exact { return HTTPMatch(path: .exact(value)) }
        if intent.regexPaths { return HTTPMatch(path: .regularExpression("(?i)(?:" + value + ").*")) }
        if type == .Prefix {
            let trimmed = value.hasSuffix("/") ? String(value.dropLast()) : value
            return HTTPMatch(path: .prefix(trimmed))
        }
        return HTTPMatch(path: .regularExpression(Self.escapeRegex(value) + ".*"))
    }

    static func ingressFilters(_ intent: IngressIntent, pathValue: String) -> [HTTPFilter] {
        var filters: [HTTPFilter] = []
        if let prefix = intent.xForwardedPrefix {
            filters.append(.requestHeaders(HeaderEdits(set: [HeaderValue(name: "x-forwarded-prefix", value: prefix)], add: [], remove: [])))
        }
        let rewrite = intent.rewriteTarget.map { PathRewrite.regexReplace(pattern: "(?i)" + pathValue, template: $0) }
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
        let http2 = intent.backendProtocol == "GRPC"
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
