/// The routing table made ready for the hot path: hash lookups for hosts, regexes compiled,
/// weights turned into cumulative arrays. Built off the event loops, before the swap; immutable after.
/// It holds no live state: the data plane attaches that when it installs the table.
public final class CompiledTable: Sendable {
    public let source: RoutingTable
    let ports: [SocketKey: HostIndex<CompiledListener>]
    /// TCP, UDP and TLS listeners: listener hostname, then route hostname (SNI), to a stream route.
    let streams: [SocketKey: HostIndex<HostIndex<CompiledStreamRoute>>]
    public let clusters: [String: CompiledCluster]
    /// Every cluster, at the index its `slot` names (ordered by id).
    public let clustersBySlot: [CompiledCluster]
    /// Every HTTP route, at the index its `slot` names (with the routes gone since an earlier table
    /// whose slots this one kept: see `init(_:reusing:)`). The data plane keeps its live state for the
    /// table (health, SLO counters, edge guards) in arrays indexed the same way, so a request finds
    /// it without hashing a name.
    public let routesBySlot: [CompiledRoute]

    /// Each port's HTTP listeners compiled, in `httpListeners(of:)` order: what the next table reuses.
    let compiledListeners: [SocketKey: [CompiledListener]]
    /// Routes some virtual host reaches; the rest of `routesBySlot` are routes gone since the table
    /// they were compiled for, kept so that the slots after them stay where they are.
    let reachableRoutes: Int

    /// `earlier`, the table this one replaces: when both have the same clusters, a virtual host with
    /// the same entries as one of it keeps its compiled routes (and their slots); the others' routes
    /// are compiled into slots after those. At 10,000 routes a changed route then costs its own
    /// compilation, not everyone's. Once the unreachable routes left behind are a quarter of all,
    /// everything is compiled again, into slots without gaps.
    public init(_ table: RoutingTable, reusing earlier: CompiledTable? = nil) throws {
        source = table
        var clusters: [String: CompiledCluster] = [:]
        var clustersBySlot: [CompiledCluster] = []
        let reusable = earlier.flatMap { earlier in
            earlier.reachableRoutes * 4 >= earlier.routesBySlot.count * 3 && earlier.source.clusters == table.clusters ? earlier : nil
        }
        if let reusable {
            clusters = reusable.clusters
            clustersBySlot = reusable.clustersBySlot
        } else {
            for id in table.clusters.keys.sorted() {
                let cluster = table.clusters[id]!
                let compiled = CompiledCluster(id: id, slot: clustersBySlot.count, endpoints: cluster.endpoints,
                                               http2: [Cluster.h2cAppProtocol, "kubernetes.io/h2"].contains(cluster.appProtocol ?? ""),
                                               tls: cluster.tls, resilience: cluster.resilience, refusal: cluster.refusal)
                clusters[id] = compiled
                clustersBySlot.append(compiled)
            }
        }
        var routes = RouteSlots(routesBySlot: reusable?.routesBySlot ?? [])
        var ports: [SocketKey: HostIndex<CompiledListener>] = [:]
        var streams: [SocketKey: HostIndex<HostIndex<CompiledStreamRoute>>] = [:]
        var compiledListeners: [SocketKey: [CompiledListener]] = [:]
        for port in table.ports {
            let earlierSources = reusable.flatMap { $0.port(port.socket) }.map(Self.httpListeners(of:)) ?? []
            let earlierCompiled = reusable?.compiledListeners[port.socket] ?? []
            let listeners = try Self.httpListeners(of: port).enumerated().map { ordinal, listener in
                let before = earlierSources.firstIndex { $0.hostname == listener.hostname }.map { (earlierSources[$0], earlierCompiled[$0]) }
                return try CompiledListener(listener, ordinal: ordinal, clusters: clusters, routes: &routes, reusing: before)
            }
            compiledListeners[port.socket] = listeners
            ports[port.socket] = HostIndex(zip(Self.httpListeners(of: port), listeners).map { ($0.hostname, $1) })
            streams[port.socket] = HostIndex(port.listeners.compactMap { listener in
                listener.streamRoutes.map { routes in
                    let byName = routes.flatMap { route in
                        route.hostnames.map { (hostname: Optional($0), value: CompiledStreamRoute(route, clusters: clusters)) }
                    }
                    return (hostname: listener.hostname, value: HostIndex(byName))
                }
            })
        }
        self.ports = ports
        self.streams = streams
        self.clusters = clusters
        self.clustersBySlot = clustersBySlot
        self.routesBySlot = routes.routesBySlot
        self.compiledListeners = compiledListeners
        reachableRoutes = routes.reachable
    }

    public static let empty: CompiledTable = try! CompiledTable(RoutingTable())

    /// A port's HTTP listeners, in the order whose indices `RouteLookupTrace` reports.
    public static func httpListeners(of port: PortTable) -> [ListenerTable] { port.listeners.filter { $0.streamRoutes == nil } }

    /// The port table a socket serves, if any.
    public func port(_ socket: SocketKey) -> PortTable? { source.ports.first { $0.socket == socket } }

    /// Listener isolation first (the most specific listener hostname owns the host), then the most
    /// specific virtual host inside it, then the first route in precedence order that matches. On a
    /// TLS connection, `serverName` (its SNI) chose a listener and its certificate; a Host that
    /// another listener of the port owns was meant for another connection (HTTP/2 coalescing, a
    /// stale one), and is misdirected (RFC 9110 §15.5.20).
    public func route(socket: SocketKey, host: String, serverName: String? = nil, request: RequestView) -> RouteLookup {
        var ignored = UntracedLookup()
        return route(socket: socket, host: host, serverName: serverName, request: request, trace: &ignored)
    }

    /// The same lookup, telling `trace` each step it takes: `archway explain` follows the data plane's
    /// own walk rather than a copy of it. Specialised for `UntracedLookup`, the steps cost nothing.
    public func route<Trace: RouteLookupTrace>(socket: SocketKey, host: String, serverName: String? = nil, request: RequestView,
                                               trace: inout Trace) -> RouteLookup {
        guard let listeners = ports[socket], let listener = listeners.lookup(host) else { return .noListener }
        trace.hostChose(listener: listener.ordinal)
        if let serverName, let chosen = listeners.lookup(serverName) {
            trace.serverNameChose(listener: chosen.ordinal)
            if chosen.ordinal != listener.ordinal { return .misdirected }
        }
        guard listener.fallsThrough else {
            guard let virtualHost = listener.virtualHosts.lookup(host) else { return .noRoute }
            return Self.firstMatch(in: virtualHost, request, &trace).map(RouteLookup.matched) ?? .noRoute
        }
        let matched = listener.virtualHosts.firstAnswer(host) { virtualHost in Self.firstMatch(in: virtualHost, request, &trace) }
        return matched.map(RouteLookup.matched) ?? .noRoute
    }

    /// The first route of the virtual host, in precedence order, whose match the request meets.
    private static func firstMatch<Trace: RouteLookupTrace>(in virtualHost: CompiledVirtualHost, _ request: RequestView,
                                                          _ trace: inout Trace) -> CompiledRoute? {
        trace.entered(virtualHost: virtualHost.hostname)
        for route in virtualHost.routes {
            let mismatch = route.matcher.mismatch(request)
            trace.tried(route, mismatch: mismatch)
            if mismatch == nil { return route }
        }
        return nil
    }

    /// The stream route for a connection on a TCP/UDP port (no server name) or a TLS port (its SNI):
    /// the most specific listener hostname first, then the most specific route hostname in it.
    public func streamRoute(socket: SocketKey, serverName: String?) -> CompiledStreamRoute? {
        let name = serverName?.lowercased() ?? ""
        return streams[socket]?.lookup(name)?.lookup(name)
    }

    /// Whether a TLS listener for `serverName` carries stream routes (TLSRoute) rather than HTTP.
    public func isStreamListener(socket: SocketKey, serverName: String?) -> Bool {
        let name = serverName?.lowercased() ?? ""
        return streams[socket]?.lookup(name) != nil && ports[socket]?.lookup(name) == nil
    }
}

public final class CompiledStreamRoute: Sendable {
    public let origin: RouteOrigin
    /// nil when no backend has a weight above 0.
    public let choice: CompiledRoute.WeightedChoice?

    init(_ entry: StreamRouteEntry, clusters: [String: CompiledCluster]) {
        origin = entry.origin
        choice = CompiledRoute.WeightedChoice(entry.backends, clusters: clusters)
    }
}

/// What a route lookup tells an observer, step by step (see `CompiledTable.route(...trace:)`).
/// Listeners are named by their place among the port's listeners (`ListenerTable` order).
public protocol RouteLookupTrace {
    /// The most specific listener whose hostname covers the Host.
    mutating func hostChose(listener: Int)
    /// On TLS: the listener the connection's server name chose.
    mutating func serverNameChose(listener: Int)
    /// A virtual host of the chosen listener whose hostname covers the Host, most specific first.
    mutating func entered(virtualHost: String)
    /// A route of that virtual host, in precedence order: matched (nil) or why not.
    mutating func tried(_ route: CompiledRoute, mismatch: MatchMismatch?)
}

/// The data plane's lookup: nobody is told anything.
public struct UntracedLookup: RouteLookupTrace {
    @inlinable public init() {}
    @inlinable public mutating func hostChose(listener: Int) {}
    @inlinable public mutating func serverNameChose(listener: Int) {}
    @inlinable public mutating func entered(virtualHost: String) {}
    @inlinable public mutating func tried(_ route: CompiledRoute, mismatch: MatchMismatch?) {}
}

public enum RouteLookup {
    case noListener
    /// The Host belongs to another listener than the one the connection's SNI chose.
    case misdirected
    case noRoute
    case matched(CompiledRoute)
}

struct CompiledListener: Sendable {
    /// Its place among the port's listeners: which listener a host and a server name each chose.
    let ordinal: Int
    let virtualHosts: HostIndex<CompiledVirtualHost>
    /// See `ListenerTable.hostRulesAnswerAlone`.
    let fallsThrough: Bool

    /// The listener's virtual hosts compiled, in the listener's order.
    let hosts: [CompiledVirtualHost]

    /// Each route compiled takes the next slot of `routes`. `earlier`: the same listener in the table
    /// this one replaces (same clusters), whose virtual hosts with the same entries are kept.
    init(_ listener: ListenerTable, ordinal: Int, clusters: [String: CompiledCluster], routes: inout RouteSlots,
         reusing earlier: (source: ListenerTable, compiled: CompiledListener)?) throws {
        self.ordinal = ordinal
        fallsThrough = listener.hostRulesAnswerAlone != true
        // Both lists are in the same order (most specific first): walked side by side.
        let before = earlier?.source.virtualHosts ?? []
        var next = 0
        hosts = try listener.virtualHosts.map { vhost in
            while next < before.count, before[next].hostname != vhost.hostname,
                  Hostnames.specificity(before[next].hostname) < Hostnames.specificity(vhost.hostname) {
                next += 1
            }
            // Entries equal to the earlier host's (usually the very same array: the translator keeps
            // hosts no changed route reaches) compile to the same routes.
            if next < before.count, before[next].hostname == vhost.hostname, before[next].routes == vhost.routes, let earlier {
                let kept = earlier.compiled.hosts[next]
                next += 1
                routes.reached(kept.routes.count)
                return kept
            }
            return CompiledVirtualHost(hostname: vhost.hostname, routes: try vhost.routes.map { entry in
                try routes.add { slot in try CompiledRoute(entry, slot: slot, clusters: clusters) }
            })
        }
        virtualHosts = HostIndex(hosts.map { ($0.hostname, $0) })
    }
}

/// Slots of compiled routes: those kept from the table replaced first, then each route compiled.
struct RouteSlots {
    var routesBySlot: [CompiledRoute]
    /// Routes a virtual host of the new table reaches.
    var reachable = 0

    mutating func reached(_ count: Int) { reachable += count }

    mutating func add(_ compile: (_ slot: Int) throws -> CompiledRoute) rethrows -> CompiledRoute {
        let route = try compile(routesBySlot.count)
        routesBySlot.append(route)
        reachable += 1
        return route
    }
}

/// A virtual host's routes in precedence order, with the hostname they were attached under.
struct CompiledVirtualHost: Sendable {
    let hostname: String
    let routes: [CompiledRoute]
}

/// Per-cluster identity and configuration only. Its live state (circuit breaker, outlier ejection,
/// health-check verdicts) is the data plane's, found by `slot`; round-robin positions live per event loop.
public final class CompiledCluster: Sendable {
    public let id: String
    /// This cluster's index in `CompiledTable.clustersBySlot`.
    public let slot: Int
    public let endpoints: [Endpoint]
    /// Requests go to it as HTTP/2 streams (h2c with prior knowledge).
    public let http2: Bool
    public let tls: UpstreamTLS?
    /// Set when nothing may be sent to it (see `Cluster.refusal`): its backendRefs are invalid.
    public let refusal: String?
    /// Circuit breaker, outlier detection and health checks, when a BackendTrafficPolicy targets the Service.
    public let resilience: BackendResilience?
    /// Each endpoint's name in session tokens, index for index.
    public let endpointKeys: [UInt64]
    init(id: String, slot: Int, endpoints: [Endpoint], http2: Bool, tls: UpstreamTLS?, resilience: BackendResilience?, refusal: String? = nil) {
        self.refusal = refusal
        self.id = id
        self.slot = slot
        self.endpoints = endpoints
        endpointKeys = endpoints.map { SessionToken.endpointKey(cluster: id, endpoint: $0) }
        self.http2 = http2
        self.tls = tls
        self.resilience = resilience
    }
}

public final class CompiledRoute: Sendable {
    public enum Action: Sendable {
        case forward(WeightedChoice)
        case redirect(Redirect)
        case direct(status: Int, reason: String)
    }
    public enum Target: Sendable {
        case cluster(CompiledCluster)
        case invalid(reason: String)

        init(_ target: WeightedBackend.Target, clusters: [String: CompiledCluster]) {
            switch target {
            case .cluster(let id):
                guard let cluster = clusters[id] else { self = .invalid(reason: "cluster \(id) missing"); return }
                self = cluster.refusal.map { .invalid(reason: $0) } ?? .cluster(cluster)
            case .invalid(let reason): self = .invalid(reason: reason)
            }
        }
    }
    public struct Choice: Sendable {
        public let name: String
        public let target: Target
        /// The backendRef's own header filters.
        public let requestHeaders: HeaderEdits?
        public let responseHeaders: HeaderEdits?
    }
    public struct WeightedChoice: Sendable {
        /// Cumulative weights, so a choice is one random number and a short scan.
        public let cumulative: [Int]
        public let targets: [Choice]
        public var total: Int { cumulative.last ?? 0 }
        /// Each target's own weight (what `cumulative` sums).
        public var weights: [Int] { cumulative.indices.map { cumulative[$0] - ($0 == 0 ? 0 : cumulative[$0 - 1]) } }

        /// nil when no backend has a weight above 0.
        init?(_ backends: [WeightedBackend], clusters: [String: CompiledCluster]) {
            var cumulative: [Int] = []
            var targets: [Choice] = []
            var sum = 0
            for backend in backends where backend.weight > 0 {
                sum += backend.weight
                cumulative.append(sum)
                targets.append(Choice(name: backend.name, target: Target(backend.target, clusters: clusters),
                                      requestHeaders: backend.requestHeaders, responseHeaders: backend.responseHeaders))
            }
            guard sum > 0 else { return nil }
            self.cumulative = cumulative
            self.targets = targets
        }

        /// The index of the chosen target.
        public func pick(_ random: Int) -> Int {
            let point = random % total
            for (index, bound) in cumulative.enumerated() where point < bound {
                return index
            }
            return targets.count - 1
        }

        /// The target and endpoint a session token names, while that endpoint is still in the table
        /// (whether it is usable right now is the data plane's to say).
        public func locate(endpointKey: UInt64) -> (target: Int, cluster: CompiledCluster, endpoint: Endpoint)? {
            for (index, choice) in targets.enumerated() {
                guard case .cluster(let cluster) = choice.target, let at = cluster.endpointKeys.firstIndex(of: endpointKey) else { continue }
                return (index, cluster, cluster.endpoints[at])
            }
            return nil
        }
    }

    public let origin: RouteOrigin
    /// This route's index in `CompiledTable.routesBySlot`.
    public let slot: Int
    let matcher: RequestMatcher
    /// The match the matcher was compiled from, for explanations.
    public let match: HTTPMatch
    public let requestHeaders: HeaderEdits?
    public let responseHeaders: HeaderEdits?
    public let cors: CORSPolicy?
    /// Copies of the request sent fire-and-forget; `fraction` of requests (0...1) are mirrored.
    public let mirrors: [(name: String, target: Target, fraction: Double)]
    /// Whole request, and each try to a backend; nil when unlimited.
    public let requestTimeoutMillis: Int?
    public let backendTimeoutMillis: Int?
    public let retry: RetryPolicy?
    public let environment: String?
    public let tenant: String?
    /// Names of the ServiceLevelObjectives this route's requests count towards.
    public let sloNames: [String]
    /// The Rollout whose analysis counts this route's requests.
    public let rolloutName: String?
    public let rewrite: (hostname: String?, path: PathRewrite?)?
    public let action: Action
    /// The prefix the PathPrefix match consumed, for ReplacePrefixMatch.
    public let matchedPrefix: String?
    /// The entry's edge policies, in phase order; the data plane runs one live guard per distinct rule.
    public let edgeRules: [EdgeRule]
    /// The policies those guards enforce ("RateLimit team-a/api"), enforced or not.
    public let edgePolicies: [String]
    /// The first policy that applies but cannot be enforced: every request here is refused (500).
    public let blockedBy: String?
    public let session: StickySession?
    /// URLRewrite's hostname as the header edit it is (the Host field replaced), applied after every
    /// other request filter on both paths.
    public let hostRewrite: HeaderEdits?
    /// A route that answers itself (redirect, fixed status) or forwards and mirrors to HTTP/1 backends
    /// only, whatever its filters and policies: the HTTP/1 fast lane may carry it as bytes. What decides
    /// whether it does is this and `FastLaneHandler.admit` before its first edge policy, nothing else.
    public let fastLaneCarries: Bool

    init(_ entry: HTTPRouteEntry, slot: Int, clusters: [String: CompiledCluster]) throws {
        origin = entry.origin
        self.slot = slot
        edgeRules = entry.edge
        edgePolicies = entry.edge.map(\.policy)
        blockedBy = entry.edge.first { !$0.isEnforceable }?.policy
        session = entry.session
        matcher = try RequestMatcher(entry.match)
        match = entry.match
        if case .prefix(let prefix) = entry.match.path { matchedPrefix = prefix } else { matchedPrefix = nil }
        var requestHeaders: HeaderEdits?
        var responseHeaders: HeaderEdits?
        var rewrite: (String?, PathRewrite?)?
        var cors: CORSPolicy?
        var mirrors: [(name: String, target: Target, fraction: Double)] = []
        for filter in entry.filters {
            switch filter {
            case .requestHeaders(let edits): requestHeaders = edits
            case .responseHeaders(let edits): responseHeaders = edits
            case .urlRewrite(let hostname, let path): rewrite = (hostname, path)
            case .cors(let policy): cors = policy
            case .requestMirror(let mirror):
                mirrors.append((mirror.name, Target(mirror.target, clusters: clusters), mirror.fraction))
            }
        }
        self.mirrors = mirrors
        requestTimeoutMillis = entry.timeouts?.requestMillis.flatMap { $0 > 0 ? $0 : nil }
        backendTimeoutMillis = entry.timeouts?.backendRequestMillis.flatMap { $0 > 0 ? $0 : nil }
        retry = entry.retry.flatMap { $0.attempts > 0 ? $0 : nil }
        environment = entry.environment
        tenant = entry.tenant
        sloNames = entry.slos
        rolloutName = entry.rollout
        self.cors = cors
        self.requestHeaders = requestHeaders
        self.responseHeaders = responseHeaders
        self.rewrite = rewrite
        switch entry.action {
        case .redirect(let redirect): action = .redirect(redirect)
        case .direct(let status, let reason): action = .direct(status: status, reason: reason)
        case .forward(let backends):
            action = WeightedChoice(backends, clusters: clusters).map(Action.forward)
                ?? .direct(status: 500, reason: "no backend has a weight above 0")
        }
        hostRewrite = rewrite?.0.map { HeaderEdits(set: [HeaderValue(name: "host", value: $0)], add: [], remove: []) }
        // Decided here, before any edge policy runs, so the lane never hands a request it has already
        // asked a policy about (a rate-limit token spent) to the general path.
        func overHTTP1(_ target: Target) -> Bool { if case .cluster(let cluster) = target { !cluster.http2 } else { true } }
        var forwardsOverHTTP1 = mirrors.allSatisfy { overHTTP1($0.target) }
        if case .forward(let choice) = action { forwardsOverHTTP1 = forwardsOverHTTP1 && choice.targets.allSatisfy { overHTTP1($0.target) } }
        fastLaneCarries = forwardsOverHTTP1
    }
}
