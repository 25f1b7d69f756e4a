import GatewayAPI
import RoutingTable

/// Collects attached routes per (socket, listener hostname) and assembles the sorted routing table.
/// Listeners of several Gateways on one socket and hostname merge; a Gateway's own address is a
/// socket of its own, so its listeners merge with nobody else's.
struct TableBuilder {
    struct ListenerKey: Hashable {
        var socket: SocketKey
        var hostname: String?
    }
    private struct ListenerBucket {
        var `protocol`: String
        var tls: ListenerTLS?
        var refs: [ListenerTable.Ref] = []
        var hosts: [String: [(key: PrecedenceKey, entry: HTTPRouteEntry)]] = [:]
        var streams: [(created: String, entry: StreamRouteEntry)] = []
    }
    private var buckets: [ListenerKey: ListenerBucket] = [:]
    private var clusterSources: [String: ClusterSource] = [:]
    /// Listeners whose routes are already in their own order (Ingress semantics), by port of the
    /// default address.
    private var prebuilt: [Int: (protocol: String, listeners: [ListenerTable])] = [:]

    /// Ports Gateway listeners use on the default address; Ingresses, served there, are not served
    /// on those.
    var gatewayPorts: Set<Int> { Set(buckets.keys.filter { $0.socket.address == nil }.map(\.socket.port)) }

    mutating func addPrebuilt(_ listener: ListenerTable, port: Int, protocol: String) {
        prebuilt[port, default: (`protocol`, [])].listeners.append(listener)
    }

    /// Registers a usable listener so its port is bound even before any route attaches.
    /// `addresses` are the Gateway's sockets (nil: the default address).
    mutating func addListener(_ listener: Gateway.Listener, of gateway: Gateway, on addresses: [String?], tls: ListenerTLS?) {
        let ref = ListenerTable.Ref(gatewayNamespace: gateway.metadata.namespace ?? "default",
                                    gatewayName: gateway.metadata.name, listenerName: listener.name)
        for key in Self.keys(listener, on: addresses) {
            // Listeners merged from several Gateways on one (socket, hostname): the first one's TLS wins.
            buckets[key, default: ListenerBucket(protocol: listener.protocol, tls: tls)].refs.append(ref)
        }
    }

    private static func keys(_ listener: Gateway.Listener, on addresses: [String?]) -> [ListenerKey] {
        addresses.map { ListenerKey(socket: SocketKey(address: $0, port: listener.port), hostname: listener.hostname) }
    }

    mutating func addClusters(_ sources: [String: ClusterSource]) {
        clusterSources.merge(sources) { first, _ in first }
    }

    /// ServiceLevelObjective names by the object they target ("HTTPRoute ns/name", "Gateway ns/name").
    var sloTargets: [String: [String]] = [:]
    var slos: [String: SLOSpec] = [:]
    /// Rollouts' rules by route ("HTTPRoute ns/name") and rule index, and what the table tracks of each.
    var rolloutRules: [String: [Int: String]] = [:]
    var rollouts: [String: RolloutTracking] = [:]
    /// What each route's status says about the Rollouts managing its rules, by route kind and name.
    var rolloutNotes: [String: [NamespacedName: [String]]] = [:]
    /// The edge policies by target, and (filled as routes attach) the listeners each route took.
    var attachments = RouteAttachments()
    /// Policies that cannot be enforced, by the route and Gateway whose requests they refuse.
    var unenforceable: [BlockedRoute: Set<String>] = [:]
    struct BlockedRoute: Hashable {
        var kind: String
        var route: NamespacedName
        var gateway: NamespacedName
    }

    /// One entry a route gives the table: the listener (socket and hostname) and virtual host it goes
    /// to, and how it ranks there.
    struct Entry {
        var listener: ListenerKey
        var hostname: String
        var precedence: PrecedenceKey
        var entry: HTTPRouteEntry
    }

    /// The entries of a compiled route attached through one listener under `hostnames`, with its
    /// policies, objectives and Rollouts; and, into `blocked`, the edge policies among them that cannot
    /// be enforced. `criteria` ranks a match of rule `rule`, match `match` (HTTPRoute's by its compiled match).
    func entries(for compiled: CompiledRoute, of route: HTTPRoute, kind: String, through gateway: GatewayState,
                 listener: Gateway.Listener, hostnames: [String], criteria: MatchRanking,
                 into entries: inout [Entry], blocking blocked: inout [BlockedRoute: Set<String>]) {
        let routeKey = "\(kind) \(route.metadata.namespacedName)"
        let slos = (sloTargets[routeKey] ?? []) + (sloTargets["Gateway \(gateway.gateway.metadata.namespacedName)"] ?? [])
        let keys = Self.keys(listener, on: gateway.addressing.sockets)
        let labels = route.metadata.labels ?? [:], gatewayLabels = gateway.gateway.metadata.labels ?? [:]
        let environment = labels["environment"] ?? gatewayLabels["environment"], tenant = labels["tenant"] ?? gatewayLabels["tenant"]
        let rollouts = rolloutRules[routeKey]
        for rule in compiled.rules {
            for (matchIndex, match) in rule.matches.enumerated() {
                let origin = RouteOrigin(namespace: route.metadata.namespace ?? "default", name: route.metadata.name,
                                         rule: rule.index, match: matchIndex,
                                         gatewayNamespace: gateway.gateway.metadata.namespace ?? "default",
                                         gatewayName: gateway.gateway.metadata.name)
                var entry = HTTPRouteEntry(origin: origin, match: match, filters: rule.filters, action: rule.action,
                                           timeouts: rule.timeouts, retry: rule.retry, environment: environment, tenant: tenant)
                entry.slos = slos
                entry.session = rule.session
                entry.rollout = rollouts?[rule.index]
                entry.edge = attachments.edge.rules(gateway: gateway.gateway.metadata.namespacedName, listener: listener.name,
                                        route: kind == "HTTPRoute" ? route.metadata.namespacedName : nil,
                                        ruleName: rule.name, extensionRefs: rule.edge)
                for case .unenforceable(let broken) in entry.edge {
                    let key = BlockedRoute(kind: kind, route: route.metadata.namespacedName, gateway: gateway.gateway.metadata.namespacedName)
                    blocked[key, default: []].insert("\(broken.policy) cannot be enforced (\(broken.problem))")
                }
                let precedence = PrecedenceKey(criteria: criteria(rule.index, matchIndex, match), origin: origin,
                                               creationTimestamp: route.metadata.creationTimestamp)
                for key in keys {
                    for hostname in hostnames {
                        entries.append(Entry(listener: key, hostname: hostname, precedence: precedence, entry: entry))
                    }
                }
            }
        }
    }

    /// A virtual host of a listener.
    struct HostKey: Hashable {
        var listener: ListenerKey
        var hostname: String
    }

    /// The last translation's virtual hosts, by listener, and the hosts whose entries changed since:
    /// set by `reuse`, and then every other host is taken from there as it was.
    private var earlier: (listeners: [ListenerKey: ListenerTable], changed: [ListenerKey: Set<String>])?

    /// Builds only the virtual hosts in `changed` and takes every other one from `table`, the last
    /// translation's, made from the same listeners with the same routes for those hosts. Call it
    /// before any entry is added; it does nothing unless `table` has every listener registered.
    mutating func reuse(_ table: RoutingTable, changed: Set<HostKey>) {
        var listeners: [ListenerKey: ListenerTable] = [:]
        for port in table.ports {
            for listener in port.listeners { listeners[ListenerKey(socket: port.socket, hostname: listener.hostname)] = listener }
        }
        guard buckets.keys.allSatisfy({ listeners[$0] != nil }) else { return }
        earlier = (listeners, Dictionary(grouping: changed, by: \.listener).mapValues { Set($0.map(\.hostname)) })
    }

    /// Adds a route's entries (`entries(for:...)`) and the policies it could not enforce. With an
    /// earlier table to reuse, only entries of changed hosts are kept: the others are in it already.
    mutating func add(_ entries: [Entry], blocked: [BlockedRoute: Set<String>]) {
        for each in entries {
            if let earlier, earlier.changed[each.listener]?.contains(each.hostname) != true { continue }
            buckets[each.listener]?.hosts[each.hostname, default: []].append((each.precedence, each.entry))
        }
        for (route, problems) in blocked { unenforceable[route, default: []].formUnion(problems) }
    }

    /// An ACME HTTP-01 answer (`Translator.addChallengeAnswers`): a fixed 200 with the key
    /// authorization, no filters and no edge policies (the CA is not a user to authenticate).
    mutating func addChallengeAnswer(_ answer: ACMEChallengeAnswer, through gateway: GatewayState, listener: Gateway.Listener) {
        // The token in the name: two orders for one host at once keep one entry each.
        let origin = RouteOrigin(namespace: answer.gateway.namespace, name: "acme-http01:\(answer.name):\(answer.token)", rule: 0, match: 0,
                                 gatewayNamespace: answer.gateway.namespace, gatewayName: answer.gateway.name)
        let match = HTTPMatch(path: .exact(ACMEChallengeAnswer.pathPrefix + answer.token))
        let entry = HTTPRouteEntry(origin: origin, match: match, filters: [], action: .direct(status: 200, reason: answer.keyAuthorization))
        // Older than any object can be: it wins a tie with any route.
        let precedence = PrecedenceKey(match: match, origin: origin, creationTimestamp: "0000-00-00T00:00:00Z")
        for key in Self.keys(listener, on: gateway.addressing.sockets) {
            buckets[key]?.hosts[answer.name, default: []].append((precedence, entry))
        }
    }

    /// TLS-ALPN-01 certificates by the socket whose ClientHellos may ask for them.
    private var tlsChallenges: [SocketKey: [ACMEChallengeCertificate]] = [:]

    /// A TLS-ALPN-01 answer (`Translator.addTLSChallenges`) on the listener's sockets. The socket is
    /// bound for it even when the listener itself cannot serve yet (its Secret is the certificate
    /// being ordered): there is nothing else the CA could connect to.
    mutating func addTLSChallenge(_ challenge: ACMETLSChallenge, through gateway: GatewayState, listener: Gateway.Listener) {
        let certificate = ACMEChallengeCertificate(
            name: challenge.name,
            certificate: CertificatePair(source: "acme-tls-alpn-01:\(challenge.name)", chainPEM: challenge.certificatePEM, keyPEM: challenge.keyPEM))
        for key in Self.keys(listener, on: gateway.addressing.sockets) where !(tlsChallenges[key.socket] ?? []).contains(certificate) {
            tlsChallenges[key.socket, default: []].append(certificate)
        }
    }

    /// Stream routes keep the spec's tie-break for conflicting routes: the oldest, then by namespace/name.
    mutating func add(_ entry: StreamRouteEntry, created: String?, listener: Gateway.Listener, on addresses: [String?]) {
        for key in Self.keys(listener, on: addresses) {
            buckets[key]?.streams.append((created ?? "", entry))
        }
    }

    /// The clusters the routes added so far forward to, with what their TLS and resilience come from.
    func sources(backendTLS: BackendTLSIndex, backendTraffic: [NamespacedName: BackendResilience]) -> ClusterSources {
        ClusterSources(byID: clusterSources, backendTLS: backendTLS, backendTraffic: backendTraffic)
    }

    func build(snapshot: ResourceSnapshot, clusters: ClusterSources) -> RoutingTable {
        var ports: [SocketKey: PortTable] = [:]
        for (key, bucket) in buckets {
            let virtualHosts: [VirtualHost]
            if let earlier, let previous = earlier.listeners[key] {
                let changed = earlier.changed[key] ?? []
                let kept = changed.isEmpty ? previous.virtualHosts : previous.virtualHosts.filter { !changed.contains($0.hostname) }
                let remade = changed.compactMap { hostname in bucket.hosts[hostname].map { Self.virtualHost(hostname, $0) } }
                virtualHosts = Self.inserting(remade, into: kept)
            } else {
                virtualHosts = Self.bySpecificity(bucket.hosts.map { Self.virtualHost($0.key, $0.value) })
            }
            let listener = ListenerTable(refs: bucket.refs.sorted { ($0.gatewayNamespace, $0.gatewayName, $0.listenerName) < ($1.gatewayNamespace, $1.gatewayName, $1.listenerName) },
                                         hostname: key.hostname, virtualHosts: virtualHosts, tls: bucket.tls,
                                         streamRoutes: Self.streamProtocols.contains(bucket.protocol) ? Self.ordered(bucket.streams) : nil)
            ports[key.socket, default: PortTable(port: key.socket.port, address: key.socket.address,
                                                 protocol: PortTable.family(of: bucket.protocol), listeners: [])].listeners.append(listener)
        }
        for (port, entry) in prebuilt where ports[SocketKey(port: port)] == nil {
            ports[SocketKey(port: port)] = PortTable(port: port, protocol: PortTable.family(of: entry.protocol), listeners: entry.listeners)
        }
        for port in ports.keys {
            ports[port]!.listeners.sort { Hostnames.specificityOrder($0.hostname, $1.hostname) }
        }
        for (socket, challenges) in tlsChallenges {
            let port = ports[socket, default: PortTable(port: socket.port, address: socket.address, protocol: "TLS", listeners: [])]
            // A port that speaks something else there (a conflict reported on its listeners) gets none.
            guard port.protocol == "TLS" else { continue }
            ports[socket] = port
            ports[socket]!.acmeChallenges = challenges.sorted { ($0.name, $0.certificate.chainPEM) < ($1.name, $1.certificate.chainPEM) }
        }
        return RoutingTable(ports: ports.values.sorted { $0.socket < $1.socket }, clusters: clusters.clusters(snapshot), slos: slos,
                            rollouts: rollouts.isEmpty ? nil : rollouts)
    }

    static let streamProtocols: Set<String> = ["TCP", "UDP", "TLS"]

    /// A host's entries in precedence order. The same route can reach one vhost through two listeners
    /// of one port; it is kept once. (A host's rules fall through to those of the hostnames covering
    /// it at match time: `ListenerTable.hostRulesAnswerAlone`.)
    private static func virtualHost(_ hostname: String, _ entries: [(key: PrecedenceKey, entry: HTTPRouteEntry)]) -> VirtualHost {
        guard entries.count > 1 else { return VirtualHost(hostname: hostname, routes: entries.map(\.entry)) }
        var seen = Set<RouteOrigin>()
        return VirtualHost(hostname: hostname, routes: entries.sorted { $0.key < $1.key }.map(\.entry).filter { seen.insert($0.origin).inserted })
    }

    /// Most specific hostname first (every hostname of a listener is distinct, so the order is total).
    private static func bySpecificity(_ hosts: [VirtualHost]) -> [VirtualHost] {
        hosts.map { (rank: Hostnames.specificity($0.hostname), host: $0) }.sorted { $0.rank < $1.rank }.map(\.host)
    }

    /// `hosts` put into `sorted` (in that order already) where `bySpecificity` would put them.
    private static func inserting(_ hosts: [VirtualHost], into sorted: [VirtualHost]) -> [VirtualHost] {
        var result = sorted
        for host in hosts {
            let rank = Hostnames.specificity(host.hostname)
            var low = 0, high = result.count
            while low < high {
                let middle = (low + high) / 2
                if Hostnames.specificity(result[middle].hostname) < rank { low = middle + 1 } else { high = middle }
            }
            result.insert(host, at: low)
        }
        return result
    }

    private static func ordered(_ streams: [(created: String, entry: StreamRouteEntry)]) -> [StreamRouteEntry] {
        var seen = Set<RouteOrigin>()
        return streams.sorted {
            ($0.created, $0.entry.origin.namespace, $0.entry.origin.name) < ($1.created, $1.entry.origin.namespace, $1.entry.origin.name)
        }.map(\.entry).filter { seen.insert($0.origin).inserted }
    }

    /// Service port → endpoint port as kube-proxy does it: the EndpointSlice port with the Service
    /// port's name, else a numeric targetPort, else the Service port itself. Ready endpoints only.
    /// TLS from the BackendTLSPolicy for the Service (or this port of it), if any; resilience from its
    /// BackendTrafficPolicy. What EndpointSlices a cluster reads is the only thing here that the
    /// statuses do not depend on (`ClusterSources.refreshing` relies on it).
    static func cluster(id: String, source: ClusterSource, snapshot: ResourceSnapshot, backendTLS: BackendTLSIndex,
                        backendTraffic: [NamespacedName: BackendResilience]) -> Cluster {
        let resilience = backendTraffic[source.service]
        guard let service = snapshot.services[source.service],
              let servicePort = service.spec?.ports?.first(where: { $0.port == source.port }) else {
            return Cluster(name: id, endpoints: [], resilience: resilience)
        }
        var endpoints: [Endpoint] = []
        var appProtocol = servicePort.appProtocol
        for slice in snapshot.endpointSlices[source.service] ?? [] {
            let slicePort = slice.ports?.first { ($0.name ?? "") == (servicePort.name ?? "") }
            // A slice that lists ports but not this one does not serve it. A slice that lists none
            // (hand-written file-mode manifests often omit them) falls back to the targetPort.
            if slicePort == nil && !(slice.ports ?? []).isEmpty { continue }
            if appProtocol == nil { appProtocol = slicePort?.appProtocol }
            let target: Int?
            switch servicePort.targetPort {
            case .none: target = slicePort?.port ?? servicePort.port
            case .int(let value): target = slicePort?.port ?? value
            case .string: target = slicePort?.port
            }
            guard let target else { continue }
            for endpoint in slice.endpoints ?? [] where endpoint.isReady {
                for address in endpoint.addresses {
                    let candidate = Endpoint(host: address, port: target)
                    if !endpoints.contains(candidate) { endpoints.append(candidate) }
                }
            }
        }
        return Cluster(name: id, endpoints: endpoints, appProtocol: source.http2 ? Cluster.h2cAppProtocol : appProtocol,
                       tls: backendTLS.tls(service: source.service, portName: servicePort.name), resilience: resilience,
                       refusal: backendTLS.refusal(service: source.service, portName: servicePort.name))
    }
}
