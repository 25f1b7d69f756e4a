import GatewayAPI
import RoutingTable

/// An HTTPRoute's rules turned into matches, filters and an action, independent of which parent they
/// attach through. Rules the spec says to drop are listed with the reason; backend problems are
/// summarised as the route's single ResolvedRefs reason.
struct CompiledRoute {
    struct Rule {
        var index: Int
        var name: String?
        var matches: [HTTPMatch]
        var filters: [HTTPFilter]
        var action: RouteAction
        var timeouts: RouteTimeouts?
        var retry: RetryPolicy?
        /// Edge policies named by the rule's ExtensionRef filters.
        var edge: [EdgeRule] = []
        var session: StickySession?
    }
    var rules: [Rule] = []
    var dropped: [(rule: Int, message: String)] = []
    var refsProblem: (reason: String, message: String)?
    /// Clusters the rules forward to, for the table builder.
    var clusters: [String: ClusterSource] = [:]
}

/// Where a cluster's endpoints come from.
struct ClusterSource {
    var service: NamespacedName
    var port: Int
    var http2 = false
}

extension Translator {
    /// `routeKind` is the kind ReferenceGrants must name ("GRPCRoute" for a lowered GRPCRoute, whose
    /// backends are also spoken to over HTTP/2: `http2Backends`).
    func compile(_ route: HTTPRoute, kind routeKind: String = "HTTPRoute", http2Backends: Bool = false,
                 snapshot: ResourceSnapshot) -> CompiledRoute {
        var compiled = CompiledRoute()
        let rules = route.spec.rules ?? []
        for (index, rule) in (rules.isEmpty ? [HTTPRoute.Rule()] : rules).enumerated() {
            do {
                let fromBackend = try Self.ruleLevelFilters(fromBackendsOf: rule)
                let matches = try (rule.matches ?? []).isEmpty ? [HTTPMatch(path: .prefix(""))] : rule.matches!.map(compileMatch)
                var filters: [HTTPFilter] = []
                var redirect: Redirect?
                var edge: [EdgeRule] = []
                let routeNamespace = route.metadata.namespace ?? "default"
                for filter in (rule.filters ?? []) + fromBackend {
                    if filter.type == "ExtensionRef", let ref = filter.extensionRef {
                        // The spec: an ExtensionRef that cannot be resolved is never skipped; the requests
                        // it would have processed get an error. So the rule keeps its matches (nothing
                        // falls through to a less specific rule) and answers 500, whatever the kind.
                        let (rule, problem) = extensionRefRule(ref, namespace: routeNamespace, snapshot: snapshot)
                        edge.append(rule)
                        if let problem, compiled.refsProblem == nil { compiled.refsProblem = (problem.reason, problem.message) }
                        continue
                    }
                    if filter.type == "RequestMirror", let mirror = filter.requestMirror {
                        filters.append(.requestMirror(compileMirror(mirror, routeKind: routeKind, routeNamespace: routeNamespace,
                                                                    http2: http2Backends, snapshot: snapshot, into: &compiled)))
                        continue
                    }
                    switch try compileFilter(filter) {
                    case .filter(let f): filters.append(f)
                    case .redirect(let r): redirect = r
                    }
                }
                let action: RouteAction
                let forward = { resolveBackends(rule.backendRefs ?? [], routeKind: routeKind, routeNamespace: routeNamespace,
                                                http2: http2Backends, snapshot: snapshot, into: &compiled) }
                if let redirect, fromBackend.contains(where: { $0.type == "RequestRedirect" }) {
                    // The backendRef is still checked (ResolvedRefs), and one that cannot take requests
                    // (invalid: 500, weight 0) answers as it would without its filter.
                    let resolved = forward()
                    if case .forward(let backends) = resolved, case .cluster = backends[0].target { action = .redirect(redirect) } else { action = resolved }
                } else if let redirect {
                    action = .redirect(redirect)
                } else {
                    action = forward()
                }
                let timeouts = rule.timeouts.map {
                    RouteTimeouts(requestMillis: $0.request.flatMap(parseGatewayDuration), backendRequestMillis: $0.backendRequest.flatMap(parseGatewayDuration))
                }
                let retry = rule.retry.map {
                    RetryPolicy(codes: $0.codes ?? [], attempts: $0.attempts ?? 1,
                                backoffMillis: $0.backoff.flatMap(parseGatewayDuration) ?? RetryPolicy.defaultBackoffMillis)
                }
                let session = try rule.sessionPersistence.map {
                    try compileSession($0, matches: matches, defaultName: "\(routeKind)/\(routeNamespace)/\(route.metadata.name)/\(rule.name ?? String(index))")
                }
                compiled.rules.append(.init(index: index, name: rule.name, matches: matches, filters: filters, action: action,
                                            timeouts: timeouts, retry: retry, edge: edge, session: session))
            } catch let error as RuleError {
                compiled.dropped.append((index, error.message))
            } catch {
                compiled.dropped.append((index, "\(error)"))
            }
        }
        return compiled
    }

    private func compileMatch(_ match: HTTPRoute.Match) throws -> HTTPMatch {
        let path: PathMatch
        let value = match.path?.value ?? "/"
        switch match.path?.type ?? .PathPrefix {
        case .Exact: path = .exact(value)
        case .PathPrefix: path = .prefix(value.hasSuffix("/") ? String(value.dropLast()) : value)
        case .RegularExpression:
            try checkRegex(value, field: "path")
            path = .regularExpression(value)
        }
        func values(_ list: [HTTPRoute.ValueMatch]?, lowercaseNames: Bool, field: String) throws -> [ValueMatch] {
            var seen = Set<String>()
            var result: [ValueMatch] = []
            for item in list ?? [] {
                let name = lowercaseNames ? item.name.lowercased() : item.name
                // The spec: when a name repeats, only the first entry counts.
                guard seen.insert(name).inserted else { continue }
                let kind: ValueMatch.Kind = item.type == .RegularExpression ? .regularExpression : .exact
                if kind == .regularExpression { try checkRegex(item.value, field: "\(field) \(item.name)") }
                result.append(ValueMatch(name: name, kind: kind, value: item.value))
            }
            return result
        }
        return HTTPMatch(path: path,
                         headers: try values(match.headers, lowercaseNames: true, field: "header"),
                         queryParams: try values(match.queryParams, lowercaseNames: false, field: "query parameter"),
                         method: match.method?.rawValue)
    }

    private func checkRegex(_ pattern: String, field: String) throws {
        do {
            _ = try Regex(pattern)
        } catch {
            throw RuleError(message: "invalid regular expression for \(field): \"\(pattern)\"")
        }
    }

    private enum CompiledFilter {
        case filter(HTTPFilter)
        case redirect(Redirect)
    }

    static func headerEdits(_ modifier: HeaderModifier?) -> HeaderEdits {
        HeaderEdits(set: (modifier?.set ?? []).map { HeaderValue(name: $0.name, value: $0.value) },
                    add: (modifier?.add ?? []).map { HeaderValue(name: $0.name, value: $0.value) },
                    remove: modifier?.remove ?? [])
    }

    private func compileFilter(_ filter: HTTPRoute.Filter) throws -> CompiledFilter {
        let edits = Self.headerEdits
        func pathRewrite(_ modifier: HTTPRoute.PathModifier?) -> PathRewrite? {
            guard let modifier else { return nil }
            switch modifier.type {
            case .ReplaceFullPath: return .replaceFullPath(modifier.replaceFullPath ?? "/")
            case .ReplacePrefixMatch: return .replacePrefixMatch(modifier.replacePrefixMatch ?? "/")
            }
        }
        switch filter.type {
        case "RequestHeaderModifier": return .filter(.requestHeaders(edits(filter.requestHeaderModifier)))
        case "ResponseHeaderModifier": return .filter(.responseHeaders(edits(filter.responseHeaderModifier)))
        case "URLRewrite":
            return .filter(.urlRewrite(hostname: filter.urlRewrite?.hostname, path: pathRewrite(filter.urlRewrite?.path)))
        case "RequestRedirect":
            let redirect = filter.requestRedirect
            return .redirect(Redirect(scheme: redirect?.scheme?.rawValue, hostname: redirect?.hostname, port: redirect?.port,
                                      path: pathRewrite(redirect?.path), statusCode: redirect?.statusCode ?? 302))
        case "CORS":
            let cors = filter.cors
            return .filter(.cors(CORSPolicy(allowOrigins: cors?.allowOrigins ?? [], allowCredentials: cors?.allowCredentials ?? false,
                                            allowMethods: cors?.allowMethods ?? [], allowHeaders: cors?.allowHeaders ?? [],
                                            exposeHeaders: cors?.exposeHeaders ?? [], maxAge: cors?.maxAge ?? 5)))
        case "ExtensionRef":
            throw RuleError(message: "an ExtensionRef filter needs extensionRef (group, kind and name)")
        default:
            throw RuleError(message: "filter type \(filter.type) is not supported")
        }
    }

    /// Each backendRef becomes a weighted target; an unresolvable one keeps its weight but answers 500.
    /// Service backendRefs of any route kind, checked as the spec says (kind, ReferenceGrant from the
    /// route's kind, Service and port exist); unresolvable ones keep their weight and answer 500.
    func resolveBackends(_ refs: [BackendReference], routeKind: String, routeNamespace: String, http2: Bool = false,
                         snapshot: ResourceSnapshot, into compiled: inout CompiledRoute) -> RouteAction {
        guard !refs.isEmpty else {
            return .direct(status: 500, reason: "route rule has no backendRefs")
        }
        var backends: [WeightedBackend] = []
        for ref in refs {
            let weight = ref.weight ?? 1
            let namespace = ref.namespace ?? routeNamespace
            switch resolve(ref, routeKind: routeKind, namespace: namespace, routeNamespace: routeNamespace, snapshot: snapshot) {
            case .success(var source):
                // A Service port reached over HTTP/2 for gRPC is its own cluster: other routes may use
                // the same port over HTTP/1.1.
                source.http2 = http2
                let id = "\(source.service.namespace)/\(source.service.name):\(source.port)" + (http2 ? "/h2c" : "")
                compiled.clusters[id] = source
                var backend = WeightedBackend(name: ref.name, weight: weight, target: .cluster(id))
                for filter in ref.filters ?? [] {
                    switch filter.type {
                    case "RequestHeaderModifier": backend.requestHeaders = Self.headerEdits(filter.requestHeaderModifier)
                    case "ResponseHeaderModifier": backend.responseHeaders = Self.headerEdits(filter.responseHeaderModifier)
                    default: break
                    }
                }
                backends.append(backend)
            case .failure(let problem):
                if compiled.refsProblem == nil { compiled.refsProblem = (problem.reason, problem.message) }
                backends.append(WeightedBackend(name: ref.name, weight: weight, target: .invalid(reason: problem.message)))
            }
        }
        if backends.allSatisfy({ $0.weight == 0 }) {
            return .direct(status: 500, reason: "every backendRef of the rule has weight 0")
        }
        return .forward(backends)
    }

    /// A mirror's backendRef is checked like any other (a bad one makes ResolvedRefs false); an
    /// unresolvable mirror is skipped by the data plane, never failing the primary request.
    private func compileMirror(_ mirror: HTTPRoute.RequestMirror, routeKind: String, routeNamespace: String, http2: Bool,
                               snapshot: ResourceSnapshot, into compiled: inout CompiledRoute) -> RequestMirror {
        var ref = mirror.backendRef
        ref.weight = 1
        let fraction = mirror.fraction.map { Double($0.numerator) / Double($0.denominator ?? 100) } ?? Double(mirror.percent ?? 100) / 100
        let target: WeightedBackend.Target
        if case .forward(let backends) = resolveBackends([ref], routeKind: routeKind, routeNamespace: routeNamespace, http2: http2,
                                                         snapshot: snapshot, into: &compiled), let first = backends.first {
            target = first.target
        } else {
            target = .invalid(reason: "mirror backendRef \(ref.name) could not be resolved")
        }
        return RequestMirror(name: ref.name, target: target, fraction: fraction)
    }

    private struct BackendProblem: Error {
        var reason: String
        var message: String
    }

    private func resolve(_ ref: BackendReference, routeKind: String, namespace: String, routeNamespace: String,
                         snapshot: ResourceSnapshot) -> Swift.Result<ClusterSource, BackendProblem> {
        let group = ref.group ?? ""
        let kind = ref.kind ?? "Service"
        guard group.isEmpty && kind == "Service" else {
            return .failure(.init(reason: "InvalidKind", message: "backendRef \(ref.name) has unsupported kind \(group.isEmpty ? "" : group + "/")\(kind)"))
        }
        guard snapshot.referenceAllowed(fromGroup: GatewayAPIGroup.name, fromKind: routeKind, fromNamespace: routeNamespace,
                                        toGroup: "", toKind: "Service", toNamespace: namespace, toName: ref.name) else {
            return .failure(.init(reason: "RefNotPermitted",
                                  message: "backendRef to Service \(namespace)/\(ref.name) is not permitted by any ReferenceGrant in namespace \(namespace)"))
        }
        let name = NamespacedName(namespace, ref.name)
        guard let service = snapshot.services[name] else {
            return .failure(.init(reason: "BackendNotFound", message: "Service \(name) not found"))
        }
        guard let port = ref.port, (service.spec?.ports ?? []).contains(where: { $0.port == port }) else {
            return .failure(.init(reason: "BackendNotFound", message: "Service \(name) has no port \(ref.port.map(String.init) ?? "(none given)")"
                                  + "; its ports: \(Self.describePorts(service))"))
        }
        return .success(ClusterSource(service: name, port: port))
    }
}

extension Translator {
    /// "80 (http), 443 (https)", or "none": what a user needs beside "has no port 8080" to fix the ref.
    static func describePorts(_ service: Service) -> String {
        let ports = (service.spec?.ports ?? []).map { port in "\(port.port)" + (port.name.map { " (\($0))" } ?? "") }
        return ports.isEmpty ? "none" : ports.joined(separator: ", ")
    }
}

struct RuleError: Error {
    var message: String
}
