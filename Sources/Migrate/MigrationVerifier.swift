import GatewayAPI
import RoutingTable
import Translator

/// `archway migrate --verify`: the Ingresses read with Ingress semantics and the generated routes
/// read with Gateway API semantics are loaded into the same routing engine, probed with the same
/// requests (ProbeGenerator: from both sides' matches), and every probe whose outcome differs
/// (backend, what reaches it, redirect, status) is reported with the rule that decided it on each
/// side: as a defect, or under the accepted difference of the conversion that explains it.
public struct Verification: Sendable {
    public struct Difference: Sendable, CustomStringConvertible {
        public var probe: String
        public var ingress: String
        public var gateway: String
        /// The Ingress path and the generated rule that decided, on each side.
        public var ingressRule: String
        public var gatewayRule: String
        public var description: String {
            "\(probe)\n    Ingress:     \(ingress)  [\(ingressRule)]\n    Gateway API: \(gateway)  [\(gatewayRule)]"
        }
    }
    public struct Accepted: Sendable {
        public var difference: AcceptedDifference
        /// The probes it explains; none when no probe reached it.
        public var probes: [Difference] = []
    }
    public var probes = 0
    /// Probes routed differently that no accepted difference explains: conversion defects.
    public var differences: [Difference] = []
    /// Every difference the conversion accepted, with the probes it explains.
    public var accepted: [Accepted] = []
    /// TLS Secrets the Ingresses name that the input lacks or that cannot be used; routing was
    /// compared with a placeholder certificate in their place.
    public var substitutedSecrets: [String] = []
    /// The generated manifests failed to load: nothing could be compared.
    public var loadErrors: [String] = []
    /// Generated routes (or rules) archway does not accept as they are.
    public var routeProblems: [String] = []

    public var acceptedProbes: Int { accepted.reduce(0) { $0 + $1.probes.count } }

    /// Both compiled readings, for asking about one request after the fact.
    var tables: (ingress: CompiledTable, gateway: CompiledTable)?

    /// What each side does with one request ("https://host/path?query"), in the report's words; nil
    /// when nothing could be compared.
    public func outcomes(_ url: String, headers: [String: String] = [:]) -> (ingress: String, gateway: String)? {
        guard let tables, let schemeEnd = url.range(of: "://") else { return nil }
        let rest = url[schemeEnd.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        let (host, port) = authority.split(separator: ":").count == 2
            ? (String(authority.split(separator: ":")[0]), Int(authority.split(separator: ":")[1]) ?? 0)
            : (String(authority), url.hasPrefix("https") ? 443 : 80)
        let path = String(rest.dropFirst(authority.count))
        let probe = Probe(port: port, host: host, path: path.isEmpty ? "/" : path,
                          headers: Dictionary(headers.map { ($0.key.lowercased(), $0.value) }) { first, _ in first })
        return (Outcome(tables.ingress, probe).text, Outcome(tables.gateway, probe).text)
    }
}

public enum MigrationVerifier {
    public static func verify(input: ResourceSnapshot, generated: String, inputResources: [Resource],
                              accepted: [AcceptedDifference] = [],
                              certificateCheck: (@Sendable (String, String) -> String?)? = nil) -> Verification {
        var verification = Verification()
        verification.accepted = accepted.map { Verification.Accepted(difference: $0) }
        // Only what the routes point at comes from the input: Services, their endpoints and Secrets;
        // the IngressClasses, which say which controller's semantics the Ingress side reads, and GKE's
        // FrontendConfigs and BackendConfigs, which a GCE Ingress's reading needs.
        var shared = inputResources.filter {
            switch $0 { case .service, .endpointSlice, .secret, .namespace, .configMap, .ingressClass, .ingressExtension, .frontendConfig, .backendConfig: true; default: false }
        }
        // The generated manifests go through the same loader `serve` uses, as they are: their own
        // GatewayClass included, so output that `serve` would not attach is caught here too.
        let loaded = ManifestLoader().parse(text: generated, file: "migrate output")
        // A Service the input does not define is assumed to exist with the port the Ingress names, so
        // both readings resolve it and only routing is compared.
        let assumed = ManifestLoader().parse(text: assumedServices(input), file: "assumed Services").resources.map(\.resource)
        verification.loadErrors = loaded.errors.map(\.description)
        guard loaded.errors.isEmpty else { return verification }
        shared += assumed
        // A `kubectl get ingress -o yaml` export has no Secrets: without a certificate neither side has
        // an HTTPS listener and every HTTPS probe would agree on a 404. Compare as if it were there.
        let placeholders = PlaceholderCertificates(input, resources: shared, check: certificateCheck)
        verification.substitutedSecrets = placeholders.substituted
        shared = placeholders.resources
        let check = placeholders.check

        var ingressOptions = Translator.Options(certificateCheck: check)
        ingressOptions.ingress = IngressServing(httpPort: 80, httpsPort: 443, everyClass: true)
        let ingressSide = Translator(options: ingressOptions).translate(ResourceSnapshot(shared + input.ingresses.map(Resource.ingress)))
        let gatewaySide = Translator(options: .init(certificateCheck: check)).translate(ResourceSnapshot(shared + loaded.resources.map(\.resource)))
        verification.routeProblems = routeProblems(gatewaySide.statuses)
        guard let ingressTable = try? CompiledTable(ingressSide.table), let gatewayTable = try? CompiledTable(gatewaySide.table) else {
            verification.loadErrors = ["a regular expression in the Ingresses or the generated routes does not compile"]
            return verification
        }
        verification.tables = (ingressTable, gatewayTable)
        let describe = RuleNames(input.ingresses)
        for probe in ProbeGenerator.probes([ingressSide.table, gatewaySide.table]) {
            verification.probes += 1
            let a = Outcome(ingressTable, probe), b = Outcome(gatewayTable, probe)
            guard a.text != b.text else { continue }
            let difference = Verification.Difference(probe: probe.description, ingress: a.text, gateway: b.text,
                                                     ingressRule: describe.rule(a.origin), gatewayRule: describe.rule(b.origin))
            let source = describe.path(a.origin)
            if let index = verification.accepted.firstIndex(where: { explains($0.difference, source: source, probe: probe, a, b, gatewayTable) }) {
                verification.accepted[index].probes.append(difference)
            } else {
                verification.differences.append(difference)
            }
        }
        return verification
    }

    /// Whether an accepted difference of the Ingress path that decided on the Ingress side accounts
    /// for this probe's difference, asked of the tables rather than assumed.
    private static func explains(_ accepted: AcceptedDifference, source: (NamespacedName, String, String)?, probe: Probe,
                                 _ ingress: Outcome, _ gateway: Outcome, _ gatewayTable: CompiledTable) -> Bool {
        let fromThisPath = source.map { $0.0 == accepted.ingress && $0.1 == accepted.host && $0.2 == accepted.path } ?? false
        switch accepted.kind {
        case .pathNotRewritten:
            // The same backend and everything else the same: only the path it receives differs.
            return fromThisPath && ingress.withoutPath == gateway.withoutPath
        case .caseSensitive(let prefix):
            // Spelled as the PathPrefix is, the probe gets what the Ingress gives it.
            let (bare, query) = PathRules.split(probe.path)
            guard fromThisPath, bare.lowercased().hasPrefix(prefix.lowercased()), !bare.hasPrefix(prefix) else { return false }
            var respelled = probe
            respelled.path = prefix + bare.dropFirst(prefix.count) + (query.map { "?" + $0 } ?? "")
            return Outcome(gatewayTable, respelled).text == ingress.text
        case .cleartextRefused:
            return fromThisPath && ingress.text == "426 from the gateway" && gateway.text == "404 (no route)"
        case .segmentPrefix(let prefix):
            // The probe continues the prefix inside a segment: only the string prefix takes it.
            let bare = PathRules.split(probe.path).path
            return fromThisPath && bare.hasPrefix(prefix) && bare != prefix && !bare.hasPrefix(prefix + "/")
        case .prefixWithoutSlash(let path):
            // ingress-nginx matched no location of this path (perhaps none at all): the probe is the path without its slash.
            return probe.host == ProbeGenerator.probeHost(accepted.host) && PathRules.split(probe.path).path == path
        }
    }

    private static func routeProblems(_ statuses: StatusSet) -> [String] {
        let routes = statuses.httpRoutes.map { ("HTTPRoute", $0.key, $0.value) } + statuses.grpcRoutes.map { ("GRPCRoute", $0.key, $0.value) }
        return routes.sorted { ($0.1.namespace, $0.1.name) < ($1.1.namespace, $1.1.name) }.flatMap { kind, name, status in
            Set(status.parents.flatMap(\.conditions).filter { $0.status == "False" }.map { "\(kind) \(name): \($0.reason): \($0.message)" }).sorted()
        }
    }

    private static func assumedServices(_ input: ResourceSnapshot) -> String {
        var text = ""
        var done = Set<NamespacedName>()
        for ingress in input.ingresses {
            let namespace = ingress.metadata.namespace ?? "default"
            let backends = ingress.hostRules.flatMap { $0.paths.map(\.backend) } + [ingress.spec.defaultBackend].compactMap { $0 }
            for backend in backends {
                guard let service = backend.service, let port = service.port.number else { continue }
                let key = NamespacedName(namespace, service.name)
                guard input.services[key] == nil, done.insert(key).inserted else { continue }
                text += "---\napiVersion: v1\nkind: Service\nmetadata: {name: \"\(service.name)\", namespace: \"\(namespace)\"}\nspec: {ports: [{port: \(port)}]}\n"
            }
        }
        return text
    }
}

/// What a request gets from one routing table, in words: the backends with their shares and what
/// reaches them, a redirect and its Location, or the gateway's own answer.
struct Outcome {
    var text: String
    /// The same without the path the backend receives.
    var withoutPath: String
    /// The entry that decided; nil when none did.
    var origin: RouteOrigin?

    init(_ table: CompiledTable, _ probe: Probe) {
        let (path, query) = PathRules.split(probe.path)
        let headers = probe.headers
        let view = RequestView(path: path, query: query, method: "GET", header: { headers[$0] })
        switch table.route(socket: SocketKey(port: probe.port), host: probe.host, request: view) {
        case .noListener, .noRoute:
            text = "404 (no route)"
        case .misdirected:  // a probe names no server name, so no listener is chosen by one
            text = "421 (misdirected)"
        case .matched(let route):
            origin = route.origin
            switch route.action {
            case .direct(let status, _):
                text = "\(status) from the gateway"
            case .redirect(let redirect):
                let location = RedirectRules.location(redirect, requestScheme: probe.port == 443 ? "https" : "http", host: probe.host,
                                                      path: path, query: query, listenerPort: probe.port, matchedPrefix: route.matchedPrefix)
                text = "redirect \(redirect.statusCode) to \(location)"
            case .forward(let choice):
                var shares: [String] = []
                var previous = 0
                for (index, bound) in choice.cumulative.enumerated() {
                    let share = (bound - previous) * 100 / max(1, choice.total)
                    previous = bound
                    let target: String = switch choice.targets[index].target {
                    case .cluster(let cluster): cluster.id.replacingOccurrences(of: "/h2c", with: "")
                    case .invalid: "invalid backend \(choice.targets[index].name)"
                    }
                    shares.append(choice.targets.count > 1 ? "\(target) \(share)%" : target)
                }
                let sentPath = route.rewrite?.path.map { PathRules.rewrite(path, with: $0, matchedPrefix: route.matchedPrefix) } ?? String(path)
                var rest = ""
                if let host = route.rewrite?.hostname { rest += ", Host \(host)" }
                if let millis = route.backendTimeoutMillis, millis > 0 { rest += ", backend timeout \(millis)ms" }
                for header in route.requestHeaders?.set ?? [] { rest += ", \(header.name.lowercased()): \(header.value)" }
                // What the client gets back changed too (proxy-hide-headers, HSTS), in one order whatever the spelling.
                let responseSet = (route.responseHeaders?.set ?? []).map { "\($0.name.lowercased()): \($0.value)" }.sorted()
                let responseRemoved = (route.responseHeaders?.remove ?? []).map { $0.lowercased() }.sorted()
                if !responseSet.isEmpty { rest += "; response sets " + responseSet.joined(separator: ", ") }
                if !responseRemoved.isEmpty { rest += "; response drops " + responseRemoved.joined(separator: ", ") }
                let backends = "forward to \(shares.sorted().joined(separator: " + "))"
                text = "\(backends) with path \(sentPath)\(rest)"
                withoutPath = "\(backends) with\(rest)"
                return
            }
        }
        withoutPath = text
    }
}

/// Names for the entry that decided, in the words of its source: the Ingress path on the Ingress
/// side, the HTTPRoute rule on the Gateway API side.
struct RuleNames {
    private var ingresses: [NamespacedName: Ingress] = [:]

    init(_ ingresses: [Ingress]) {
        for ingress in ingresses { self.ingresses[ingress.metadata.namespacedName] = ingress }
    }

    /// The Ingress, host and path an Ingress-side entry came from.
    func path(_ origin: RouteOrigin?) -> (NamespacedName, String, String)? {
        guard let origin, origin.gatewayName == "ingress", origin.gatewayNamespace.isEmpty,
              let ingress = ingresses[NamespacedName(origin.namespace, origin.name)],
              let index = Translator.ingressPathIndex(of: origin), origin.rule < ingress.hostRules.count else { return nil }
        let (host, paths) = ingress.hostRules[origin.rule]
        guard index < paths.count else { return nil }
        return (ingress.metadata.namespacedName, host, paths[index].path ?? "/")
    }

    func rule(_ origin: RouteOrigin?) -> String {
        guard let origin else { return "no rule" }
        let name = "\(origin.namespace)/\(origin.name)"
        guard origin.gatewayName == "ingress", origin.gatewayNamespace.isEmpty else { return "route \(name) rule \(origin.rule)" }
        if let (_, host, path) = path(origin) {
            return "Ingress \(name) host \(host) path \(path)" + (origin.match % 100 >= 10 ? " (header case: canary, or X-Forwarded-Proto redirect)" : "")
        }
        switch origin.match {
        case -1: return "Ingress \(name) app-root"
        case -2: return "Ingress \(name) from-to-www-redirect"
        default: return origin.rule < 0 ? "Ingress \(name) defaultBackend" : "Ingress \(name)"
        }
    }
}
