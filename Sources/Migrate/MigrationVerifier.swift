import GatewayAPI
import RoutingTable
import Translator

/// `archway migrate --verify`: the Ingresses read with Ingress semantics and the generated routes
/// read with Gateway API semantics are loaded into the same routing engine, probed with the same
/// requests, and every probe whose routing decision differs is reported.
public struct Verification: Sendable {
    public struct Difference: Sendable, CustomStringConvertible {
        public var probe: String
        public var ingress: String
        public var gateway: String
        public var description: String { "\(probe)\n    Ingress:     \(ingress)\n    Gateway API: \(gateway)" }
    }
    public var probes = 0
    public var differences: [Difference] = []
    /// The generated manifests failed to load: nothing could be compared.
    public var loadErrors: [String] = []
}

public enum MigrationVerifier {
    public static func verify(input: ResourceSnapshot, generated: String, inputResources: [Resource], gatewayClass: String,
                              certificateCheck: (@Sendable (String, String) -> String?)? = nil) -> Verification {
        var verification = Verification()
        // Only what the routes point at comes from the input: Services, their endpoints and Secrets.
        var shared = inputResources.filter {
            switch $0 { case .service, .endpointSlice, .secret, .namespace, .configMap: true; default: false }
        }
        // The generated manifests go through the same loader `serve` uses, with a GatewayClass of ours.
        let gatewayClassManifest = "\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\n"
            + "metadata: {name: \"\(gatewayClass)\"}\nspec: {controllerName: \"\(Translator.defaultControllerName)\"}\n"
        let loaded = ManifestLoader().parse(text: generated + gatewayClassManifest, file: "migrate output")
        // A Service the input does not define is assumed to exist with the port the Ingress names, so
        // both readings resolve it and only routing is compared.
        let assumed = ManifestLoader().parse(text: assumedServices(input), file: "assumed Services").resources.map(\.resource)
        verification.loadErrors = loaded.errors.map(\.description)
        guard loaded.errors.isEmpty else { return verification }
        shared += assumed

        var ingressOptions = Translator.Options(certificateCheck: certificateCheck)
        ingressOptions.ingress = IngressServing(httpPort: 80, httpsPort: 443, everyClass: true)
        let ingressSide = Translator(options: ingressOptions).translate(ResourceSnapshot(shared + input.ingresses.map(Resource.ingress)))
        let gatewaySide = Translator(options: .init(certificateCheck: certificateCheck))
            .translate(ResourceSnapshot(shared + loaded.resources.map(\.resource)))
        guard let ingressTable = try? CompiledTable(ingressSide.table), let gatewayTable = try? CompiledTable(gatewaySide.table) else {
            verification.loadErrors = ["a regular expression in the Ingresses or the generated routes does not compile"]
            return verification
        }
        for probe in Probe.all(for: input.ingresses) {
            verification.probes += 1
            let a = decision(ingressTable, probe), b = decision(gatewayTable, probe)
            if a != b { verification.differences.append(.init(probe: probe.description, ingress: a, gateway: b)) }
        }
        return verification
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

    /// What a request would get, in words: the backends with their shares and what reaches them, a
    /// redirect and its Location, or the gateway's own answer.
    static func decision(_ table: CompiledTable, _ probe: Probe) -> String {
        let (path, query) = PathRules.split(probe.path)
        let headers = probe.headers
        let view = RequestView(path: path, query: query, method: "GET", header: { headers[$0] })
        switch table.route(port: probe.port, host: probe.host, request: view) {
        case .noListener, .noRoute:
            return "404 (no route)"
        case .matched(let route):
            switch route.action {
            case .direct(let status, _):
                return "\(status) from the gateway"
            case .redirect(let redirect):
                let location = RedirectRules.location(redirect, requestScheme: probe.port == 443 ? "https" : "http", host: probe.host,
                                                      path: path, query: query, listenerPort: probe.port, matchedPrefix: route.matchedPrefix)
                return "redirect \(redirect.statusCode) to \(location)"
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
                var sent = "path \(route.rewrite?.path.map { PathRules.rewrite(path, with: $0, matchedPrefix: route.matchedPrefix) } ?? String(path))"
                if let host = route.rewrite?.hostname { sent += ", Host \(host)" }
                for header in route.requestHeaders?.set ?? [] { sent += ", \(header.name.lowercased()): \(header.value)" }
                return "forward to \(shares.sorted().joined(separator: " + ")) with \(sent)"
            }
        }
    }
}

/// One request both readings are asked about.
struct Probe: CustomStringConvertible {
    var port: Int
    var host: String
    var path: String
    var headers: [String: String] = [:]

    var description: String {
        let extra = headers.sorted { $0.key < $1.key }.map { " [\($0.key): \($0.value)]" }.joined()
        return "\(port == 443 ? "https" : "http")://\(host)\(path)\(extra)"
    }

    /// For every rule: each host over http (and https when it has TLS), each path as written, with
    /// and without a trailing slash, a sibling that shares its characters but not its segment
    /// (/foobar for /foo), a deeper path and "/"; canary headers with each value that matters.
    static func all(for ingresses: [Ingress]) -> [Probe] {
        var probes: [Probe] = []
        var seen = Set<String>()
        func add(_ probe: Probe) {
            if seen.insert(probe.description).inserted { probes.append(probe) }
        }
        for ingress in ingresses {
            let tls = Set(ingress.tlsHosts)
            var headerSets: [[String: String]] = [[:]]
            if let canary = IngressIntent(ingress).canary, let header = canary.header?.lowercased() {
                headerSets += (canary.headerValue.map { [$0] } ?? ["always", "never"]).map { [header: $0] }
            }
            for (host, paths) in ingress.hostRules {
                let probeHost = host == "*" ? "unlisted-host.example" : host.replacingOccurrences(of: "*.", with: "probe.")
                var ports = [80]
                if tls.contains(host) { ports.append(443) }
                var pathVariants = ["/"]
                for path in paths {
                    let literal = literalPrefix(path.path ?? "/")
                    let bare = literal.count > 1 && literal.hasSuffix("/") ? String(literal.dropLast()) : literal
                    pathVariants += [literal, bare, bare + "/", bare + "bar", bare + "/deeper/page", bare + "/deeper/page?q=1"]
                }
                for port in ports {
                    for path in pathVariants {
                        for headers in headerSets { add(Probe(port: port, host: probeHost, path: path.replacingOccurrences(of: "//", with: "/"), headers: headers)) }
                    }
                }
            }
        }
        return probes
    }

    /// The part of a path (possibly a regular expression) before its first metacharacter.
    static func literalPrefix(_ path: String) -> String {
        String(path.prefix { !"\\^$.|?*+()[]{}".contains($0) })
    }
}
