import Foundation
import GatewayAPI
import RoutingTable
import Testing
import Translator
import Yams

/// Each fixture is a real multi-document manifest file plus one `kind: Expect` document that says,
/// in Gateway API terms, what a user must see: conditions (as "Status/Reason"), attached routes,
/// endpoints, and where given requests are routed. No sockets: the routing table is queried directly.
struct FixtureTests {
    static let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    static let names: [String] = (try? FileManager.default.contentsOfDirectory(atPath: directory.path))?
        .filter { $0.hasSuffix(".yaml") && !$0.hasSuffix(GoldenOutput.suffix) }.sorted() ?? []

    /// The fixtures' translator. Which addresses a host can serve on is the data plane's to say; the
    /// fixtures take every address as usable but those of TEST-NET-1 (192.0.2.0/24, RFC 5737), which
    /// stand for an address no interface of this host has. LoadBalancer Services of archway's default
    /// class get addresses from the pools.
    static let translator: Translator = {
        var options = Translator.Options()
        options.addressCheck = { $0.hasPrefix("192.0.2.") ? "no interface of this host has this address" : nil }
        options.loadBalancers = LoadBalancerServing()
        return Translator(options: options)
    }()

    @Test("fixtures are present")
    func fixturesExist() {
        #expect(Self.names.count >= 15)
    }

    @Test(arguments: names)
    func fixture(_ name: String) throws {
        let path = Self.directory.appendingPathComponent(name).path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let loaded = ManifestLoader().parse(text: text, file: name)
        let expect = try Self.expectations(in: text)
        let snapshot = Self.snapshot(loaded)
        let result = Self.translator.translate(snapshot)

        checkManifestErrors(loaded.errors, expect.manifestErrors)
        for (className, conditions) in expect.gatewayClasses ?? [:] {
            check(result.statuses.gatewayClasses[className]?.conditions, conditions, "GatewayClass \(className)")
        }
        for (key, gatewayExpect) in expect.gateways ?? [:] {
            let status = result.statuses.gateways[Self.namespacedName(key)]
            if gatewayExpect.absent == true {
                #expect(status == nil, "Gateway \(key) must get no status from archway")
                continue
            }
            guard let status else {
                Issue.record("Gateway \(key) has no status")
                continue
            }
            check(status.conditions, gatewayExpect.conditions ?? [:], "Gateway \(key)")
            if let addresses = gatewayExpect.addresses {
                #expect(status.addresses.map(\.value) == addresses, "Gateway \(key) status.addresses")
            }
            if let attached = gatewayExpect.attachedListenerSets {
                #expect((status.attachedListenerSets ?? 0) == attached, "Gateway \(key) attachedListenerSets")
            }
            checkListeners(status.listeners, gatewayExpect.listeners ?? [:], "Gateway \(key)")
        }
        for (key, setExpect) in expect.listenerSets ?? [:] {
            let status = result.statuses.listenerSets[Self.namespacedName(key)]
            if setExpect.absent == true {
                #expect(status == nil, "ListenerSet \(key) must get no status from archway")
                continue
            }
            guard let status else {
                Issue.record("ListenerSet \(key) has no status")
                continue
            }
            check(status.conditions, setExpect.conditions ?? [:], "ListenerSet \(key)")
            checkListeners(status.listeners, setExpect.listeners ?? [:], "ListenerSet \(key)")
        }
        for (key, parents) in expect.routes ?? [:] {
            // "ns/name" is an HTTPRoute; "GRPCRoute ns/name" (TCPRoute, UDPRoute, TLSRoute) names another kind.
            let parts = key.split(separator: " ").map(String.init)
            let name = Self.namespacedName(parts.last!)
            let status = parts.count == 1 ? result.statuses.httpRoutes[name]
                : parts[0] == "GRPCRoute" ? result.statuses.grpcRoutes[name]
                : result.statuses.streamRoutes[StreamRoute.Kind(rawValue: parts[0])!]?[name]
            #expect((status?.parents.count ?? 0) == parents.count, "HTTPRoute \(key): number of parent statuses")
            for parentExpect in parents {
                let match = status?.parents.first { parent in
                    let ref = parent.parentRef
                    return (ref.kind ?? "Gateway") == (parentExpect.kind ?? "Gateway") && "\(ref.namespace ?? "")/\(ref.name)\(ref.sectionName.map { "/" + $0 } ?? "")\(ref.port.map { ":\($0)" } ?? "")" == parentExpect.parent
                }
                guard let match else {
                    Issue.record("HTTPRoute \(key) has no status for parent \(parentExpect.parent)")
                    continue
                }
                #expect(match.controllerName == Translator.defaultControllerName)
                #expect(match.parentRef.group == GatewayAPIGroup.name && match.parentRef.kind == (parentExpect.kind ?? "Gateway"),
                        "HTTPRoute \(key) parent \(parentExpect.parent): kind \(match.parentRef.kind ?? "")")
                check(match.conditions, parentExpect.conditions, "HTTPRoute \(key) parent \(parentExpect.parent)")
                if let fragment = parentExpect.messageContains {
                    #expect(match.conditions.contains { $0.message.contains(fragment) }, "HTTPRoute \(key): a condition message mentions \"\(fragment)\"")
                }
            }
        }
        for (id, endpoints) in expect.clusters ?? [:] {
            let actual = result.table.clusters[id]?.endpoints.map { "\($0.host):\($0.port)" }
            #expect(actual == endpoints, "cluster \(id) endpoints")
        }
        for (key, conditions) in expect.policies ?? [:] {
            let name = Self.namespacedName(key)
            let status = result.statuses.backendTrafficPolicies[name] ?? result.statuses.backendTLSPolicies[name]
            #expect(status != nil && !(status?.ancestors.isEmpty ?? true), "policy \(key) has ancestors")
            for ancestor in status?.ancestors ?? [] { check(ancestor.conditions, conditions, "policy \(key)") }
        }
        for (key, conditions) in expect.edgePolicies ?? [:] {
            let parts = key.split(separator: " ", maxSplits: 1).map(String.init)
            let status = EdgePolicy.Kind(rawValue: parts[0]).flatMap { result.statuses.edgePolicies[$0]?[Self.namespacedName(parts[1])] }
            #expect(status != nil && !(status?.ancestors.isEmpty ?? true), "edge policy \(key) has ancestors")
            for ancestor in status?.ancestors ?? [] { check(ancestor.conditions, conditions, "edge policy \(key)") }
        }
        for (key, fragment) in expect.edgeMessages ?? [:] {
            let parts = key.split(separator: " ", maxSplits: 1).map(String.init)
            let status = EdgePolicy.Kind(rawValue: parts[0]).flatMap { result.statuses.edgePolicies[$0]?[Self.namespacedName(parts[1])] }
            let messages = status?.ancestors.flatMap(\.conditions).map(\.message) ?? []
            #expect(messages.contains { $0.contains(fragment) }, "edge policy \(key): \(messages)")
        }
        for (key, conditions) in expect.rollouts ?? [:] {
            check(result.statuses.rollouts[Self.namespacedName(key)]?.conditions, conditions, "Rollout \(key)")
        }
        for (key, conditions) in expect.slos ?? [:] {
            check(result.statuses.serviceLevelObjectives[Self.namespacedName(key)], conditions, "ServiceLevelObjective \(key)")
        }
        for (key, ips) in expect.loadBalancers ?? [:] {
            let status = result.statuses.loadBalancers[Self.namespacedName(key)]
            #expect((status?.loadBalancer.ingress ?? []).compactMap(\.ip) == ips, "Service \(key) status.loadBalancer.ingress")
        }
        for (key, conditions) in expect.loadBalancerConditions ?? [:] {
            check(result.statuses.loadBalancers[Self.namespacedName(key)]?.conditions, conditions, "Service \(key)")
        }
        for (name, conditions) in expect.addressPools ?? [:] {
            check(result.statuses.addressPools[name]?.conditions, conditions, "AddressPool \(name)")
        }
        for (key, fragment) in expect.sloMessages ?? [:] {
            let messages = result.statuses.serviceLevelObjectives[Self.namespacedName(key)]?.map(\.message) ?? []
            #expect(messages.contains { $0.contains(fragment) }, "ServiceLevelObjective \(key): \(messages)")
        }
        for (route, names) in expect.sloRoutes ?? [:] {
            let entries = Array(result.table.httpRouteEntries)
                .filter { "\($0.origin.namespace)/\($0.origin.name)" == route }
            #expect(!entries.isEmpty && entries.allSatisfy { Set($0.slos) == Set(names) }, "route \(route) SLOs: \(entries.map(\.slos))")
        }
        for (id, policy) in expect.clusterTLS ?? [:] {
            #expect((result.table.clusters[id]?.tls?.policy ?? "none") == policy, "cluster \(id) BackendTLSPolicy")
        }
        for (id, secret) in expect.clusterClientCertificates ?? [:] {
            #expect((result.table.clusters[id]?.tls?.clientCertificate?.source ?? "none") == secret, "cluster \(id) client certificate")
        }
        for (key, described) in expect.clientValidation ?? [:] {
            let listener = result.table.ports.flatMap { port in port.listeners.map { ("\(port.port)/\($0.hostname ?? "*")", $0) } }
                .first { $0.0 == key }?.1
            let actual = listener?.tls?.clientValidation.map { "\($0.mode.rawValue) " + $0.sources.joined(separator: ", ") } ?? "none"
            #expect(actual == described, "listener \(key) client certificate validation")
        }
        for (id, policy) in expect.clusterPolicies ?? [:] {
            #expect((result.table.clusters[id]?.resilience?.policy ?? "none") == policy, "cluster \(id) policy")
        }
        if let ports = expect.ports {
            #expect(result.table.ports.map(\.port) == ports, "bound listener ports")
        }
        if let sockets = expect.sockets {
            #expect(result.table.ports.map(\.socket.description) == sockets, "bound listener sockets")
        }
        let table = try CompiledTable(result.table)
        for request in expect.requests ?? [] {
            checkRequest(request, table: table)
        }
    }

    private func checkRequest(_ request: RequestExpect, table: CompiledTable) {
        let (path, query) = PathRules.split(request.path)
        let headers = Dictionary(uniqueKeysWithValues: (request.headers ?? [:]).map { ($0.key.lowercased(), $0.value) })
        let view = RequestView(path: path, query: query, method: request.method ?? "GET", header: { headers[$0] })
        let port = request.port ?? 80
        let socket = SocketKey(address: request.address, port: port)
        let what = "\(request.method ?? "GET") \(request.host)\(request.path) on \(socket)"
        switch table.route(socket: socket, host: routingHost(request.host), serverName: request.sni, request: view) {
        case .misdirected:
            #expect(request.status == 421 && request.route == nil, "\(what) with SNI \(request.sni ?? "none"): expected \(request.route ?? "status \(request.status ?? 0)"), got 421")
        case .noListener, .noRoute:
            #expect(request.status == 404 && request.route == nil, "\(what): expected \(request.route ?? "status \(request.status ?? 0)"), got 404")
        case .matched(let route):
            let origin = "\(route.origin.namespace)/\(route.origin.name)"
            if let edge = request.edge {
                #expect(route.edgePolicies == edge, "\(what): edge policies")
            }
            if let session = request.session {
                #expect((route.session?.summary ?? "none") == session, "\(what): session persistence")
            }
            if let path = request.sessionCookiePath {
                #expect(route.session?.cookiePath == path, "\(what): session cookie path")
            }
            if let expected = request.route {
                let parts = expected.split(separator: "#")
                #expect(origin == String(parts[0]), "\(what): routed to \(origin)#\(route.origin.rule)")
                if parts.count > 1 { #expect(route.origin.rule == Int(parts[1]), "\(what): rule \(route.origin.rule)") }
            }
            if let blocker = route.blockedBy {
                #expect(request.status == 500, "\(what): refused (500) because \(blocker) cannot be enforced")
                return
            }
            switch route.action {
            case .direct(let status, _):
                #expect(request.status == status, "\(what): answered \(status) by the gateway")
            case .redirect(let redirect):
                #expect(request.status == redirect.statusCode, "\(what): redirect status")
                // A request with an SNI came over TLS: its scheme is the one a redirect keeps.
                let location = RedirectRules.location(redirect, requestScheme: request.sni == nil ? "http" : "https", host: routingHost(request.host),
                                                      path: path, query: query, listenerPort: port, matchedPrefix: route.matchedPrefix)
                #expect(request.location == location, "\(what): Location")
            case .forward(let choice):
                let allInvalid = choice.targets.allSatisfy { if case .invalid = $0.target { true } else { false } }
                // A rule whose every backend is invalid is answered 500 by the gateway.
                let effective = allInvalid ? 500 : 200
                #expect((request.status ?? 200) == effective || (request.status == nil && request.backends != nil),
                        "\(what): forwarded (effective status \(effective)), expected \(request.status ?? 200)")
                if let backends = request.backends {
                    var actual: [String: Int] = [:]
                    var previous = 0
                    for (index, bound) in choice.cumulative.enumerated() {
                        let target = choice.targets[index]
                        let name: String
                        switch target.target {
                        case .cluster(let cluster): name = cluster.id
                        case .invalid: name = "invalid:" + target.name
                        }
                        actual[name] = bound - previous
                        previous = bound
                    }
                    #expect(actual == backends, "\(what): weighted backends")
                }
                if let rewrite = request.rewrittenPath {
                    let newPath = route.rewrite?.path.map { PathRules.rewrite(path, with: $0, matchedPrefix: route.matchedPrefix) } ?? String(path)
                    #expect(newPath == rewrite, "\(what): rewritten path")
                }
            }
        }
    }

    /// Listener statuses of a Gateway or a ListenerSet, which have the same shape.
    private func checkListeners(_ listeners: [ListenerStatus], _ expected: [String: ListenerExpect], _ what: String) {
        for (listenerName, listenerExpect) in expected {
            guard let listener = listeners.first(where: { $0.name == listenerName }) else {
                Issue.record("\(what) has no listener status \(listenerName)")
                continue
            }
            check(listener.conditions, listenerExpect.conditions ?? [:], "\(what) listener \(listenerName)")
            if let attached = listenerExpect.attachedRoutes {
                #expect(listener.attachedRoutes == attached, "\(what) listener \(listenerName) attachedRoutes")
            }
            if let kinds = listenerExpect.supportedKinds {
                #expect(listener.supportedKinds.map(\.kind) == kinds, "\(what) listener \(listenerName) supportedKinds")
            }
        }
    }

    private func check(_ conditions: [Condition]?, _ expected: [String: String], _ what: String) {
        for (type, value) in expected {
            let condition = conditions?.first { $0.type == type }
            if value == "absent" {
                #expect(condition == nil, "\(what): \(type) must be absent")
            } else {
                let actual = condition.map { "\($0.status)/\($0.reason)" } ?? "missing"
                #expect(actual == value, "\(what): \(type) is \(actual): \(condition?.message ?? "")")
            }
        }
    }

    private func checkManifestErrors(_ errors: [ManifestError], _ expected: [String]?) {
        let descriptions = errors.map(\.description)
        guard let expected else {
            #expect(descriptions.isEmpty, "unexpected manifest errors: \(descriptions)")
            return
        }
        #expect(descriptions.count == expected.count, "manifest errors: \(descriptions)")
        for fragment in expected {
            #expect(descriptions.contains { $0.contains(fragment) }, "no manifest error contains \"\(fragment)\" in \(descriptions)")
        }
    }

    /// The fixture's resources as the translator gets them. A Rollout annotated
    /// `test.archway.dev/step: "N"` stands at step N (0-based, Progressing), as the runtime would say.
    static func snapshot(_ loaded: ManifestLoader.Result) -> ResourceSnapshot {
        var snapshot = ResourceSnapshot(loaded.resources.map(\.resource))
        for rollout in snapshot.rollouts {
            guard let step = rollout.metadata.annotations?["test.archway.dev/step"].flatMap(Int.init) else { continue }
            snapshot.rolloutProgress[rollout.metadata.namespacedName] = RolloutProgress(
                phase: .Progressing, step: step, stepStartedAt: "1970-01-01T00:00:00Z", fingerprint: rollout.fingerprint)
        }
        return snapshot
    }

    static func namespacedName(_ key: String) -> NamespacedName {
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        return NamespacedName(parts[0], parts[1])
    }

    static func expectations(in text: String) throws -> Expectations {
        for node in try Yams.compose_all(yaml: text) where node["kind"]?.string == "Expect" {
            return try YAMLDecoder().decode(Expectations.self, from: node)
        }
        throw FixtureError.noExpectations
    }
}

enum FixtureError: Error { case noExpectations }

struct Expectations: Decodable {
    var manifestErrors: [String]?
    var gatewayClasses: [String: [String: String]]?
    var gateways: [String: GatewayExpect]?
    /// ListenerSet "ns/name" → its conditions and listeners, as for a Gateway.
    var listenerSets: [String: GatewayExpect]?
    var routes: [String: [ParentExpect]]?
    var clusters: [String: [String]]?
    var ports: [Int]?
    /// Every socket bound, as `SocketKey` spells it ("port 80", "127.0.0.2:80"), in table order.
    var sockets: [String]?
    var requests: [RequestExpect]?
    /// BackendTLSPolicy or BackendTrafficPolicy "ns/name" → conditions on every ancestor.
    var policies: [String: [String: String]]?
    /// Cluster id → the policy (ns/name) whose resilience settings it carries, or "none".
    var clusterPolicies: [String: String]?
    /// Cluster id → the BackendTLSPolicy (ns/name) whose TLS settings it uses, or "none".
    var clusterTLS: [String: String]?
    /// Cluster id → the Secret (ns/name) of the client certificate it presents to backends, or "none".
    var clusterClientCertificates: [String: String]?
    /// "port/hostname" ("port/*" without one) of a listener → its client certificate validation
    /// ("allowValidOnly Kind ns/name, ..." or "allowInsecureFallback ..."), or "none".
    var clientValidation: [String: String]?
    /// ServiceLevelObjective "ns/name" → conditions; `sloRoutes`: route key → the SLOs its entries count towards.
    var slos: [String: [String: String]]?
    /// Rollout "ns/name" → conditions.
    var rollouts: [String: [String: String]]?
    var sloMessages: [String: String]?
    /// AddressPool name → conditions.
    var addressPools: [String: [String: String]]?
    /// LoadBalancer Service "ns/name" → the IPs archway writes in its status.loadBalancer.ingress.
    var loadBalancers: [String: [String]]?
    var loadBalancerConditions: [String: [String: String]]?
    var sloRoutes: [String: [String]]?
    /// Edge policy "Kind ns/name" → conditions on every ancestor; `edgeMessages`: a fragment of its message.
    var edgePolicies: [String: [String: String]]?
    var edgeMessages: [String: String]?
}

struct GatewayExpect: Decodable {
    var absent: Bool?
    var attachedListenerSets: Int?
    var conditions: [String: String]?
    var listeners: [String: ListenerExpect]?
    /// The values of `status.addresses`, in order.
    var addresses: [String]?
}

struct ListenerExpect: Decodable {
    var attachedRoutes: Int?
    var conditions: [String: String]?
    var supportedKinds: [String]?
}

struct ParentExpect: Decodable {
    /// "ListenerSet" for a ListenerSet parent; Gateway when absent.
    var kind: String?
    var parent: String
    var conditions: [String: String]
    var messageContains: String?
}

struct RequestExpect: Decodable {
    var port: Int?
    /// The Gateway address the connection was made to; absent: the default address.
    var address: String?
    /// The server name a TLS client sent, which chose the connection's listener.
    var sni: String?
    var host: String
    var path: String
    var method: String?
    var headers: [String: String]?
    var route: String?
    var status: Int?
    var location: String?
    var backends: [String: Int]?
    var rewrittenPath: String?
    /// The edge policies the matched route enforces, in phase order.
    var edge: [String]?
    /// The matched rule's session persistence as `archway status` shows it, or "none".
    var session: String?
    var sessionCookiePath: String?
}
