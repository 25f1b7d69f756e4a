import Crypto
import Foundation
import GatewayAPI
import RoutingTable

/// Edge policies by what they attach to. A request gets at most one policy of each kind: the most
/// specific level wins (ExtensionRef filter on the rule, then a named rule, then the HTTPRoute, then
/// the listener, then the Gateway), and among policies on one target the oldest.
public struct EdgeAttachments: Sendable, Equatable {
    enum Target: Hashable {
        case gateway(NamespacedName)
        /// A Gateway's listener, by its served name: a ListenerSet's listeners are "NAMESPACE/SET/NAME".
        case listener(NamespacedName, String)
        /// Every listener of a ListenerSet.
        case listenerSet(NamespacedName)
        case route(NamespacedName)
        case rule(NamespacedName, String)
    }
    /// Where a policy is attached, least specific first: the order `rules` lets later levels override.
    public enum Level: String, Sendable, Codable, CaseIterable {
        case gateway = "Gateway", listenerSet = "ListenerSet", listener = "listener", route = "route", rule = "rule"
        case extensionRef = "ExtensionRef"
    }
    var byTarget: [Target: [EdgeRule]] = [:]

    /// The rules for one route rule reached through one listener, least specific level first, then the
    /// rule's own ExtensionRef filters; one per kind, in phase order.
    func rules(gateway: NamespacedName, listener: String, route: NamespacedName?, ruleName: String?, extensionRefs: [EdgeRule]) -> [EdgeRule] {
        Self.winners(levels(gateway: gateway, listener: listener, route: route, ruleName: ruleName, extensionRefs: extensionRefs))
            .sorted { $0.phase < $1.phase }
    }

    /// Every policy that reaches the rule, by level, least specific first (`archway describe` lists them all).
    func levels(gateway: NamespacedName, listener: String, route: NamespacedName?, ruleName: String?,
                extensionRefs: [EdgeRule]) -> [(level: Level, rules: [EdgeRule])] {
        // Gateway, then the ListenerSet that declared the listener (if one did), then the listener.
        let parts = listener.split(separator: "/")
        let listenerSet = parts.count == 3 ? byTarget[.listenerSet(NamespacedName(String(parts[0]), String(parts[1])))] ?? [] : []
        var levels: [(level: Level, rules: [EdgeRule])] = [
            (.gateway, byTarget[.gateway(gateway)] ?? []), (.listenerSet, listenerSet), (.listener, byTarget[.listener(gateway, listener)] ?? []),
        ]
        if let route {
            levels.append((.route, byTarget[.route(route)] ?? []))
            if let ruleName { levels.append((.rule, byTarget[.rule(route, ruleName)] ?? [])) }
        }
        levels.append((.extensionRef, extensionRefs))
        return levels
    }

    /// The one precedence rule: of each kind, the policy of the most specific level wins.
    static func winners(_ levels: [(level: Level, rules: [EdgeRule])]) -> [EdgeRule] {
        var byKind: [String: EdgeRule] = [:]
        for level in levels {
            for rule in level.rules { byKind[rule.kind] = rule }
        }
        return Array(byKind.values)
    }
}

extension Translator {
    func resolveEdgePolicies(_ snapshot: ResourceSnapshot, gateways: [Gateway], into statuses: inout StatusSet) -> EdgeAttachments {
        var attachments = EdgeAttachments()
        var holders: [String: String] = [:]
        let policies = snapshot.edgePolicies.sorted {
            ($0.metadata.creationTimestamp ?? "", $0.kind.rawValue, $0.metadata.namespacedName) < ($1.metadata.creationTimestamp ?? "", $1.kind.rawValue, $1.metadata.namespacedName)
        }
        for policy in policies {
            let namespace = policy.metadata.namespace ?? "default"
            // A policy that cannot be enforced still takes its targets: what it covers is refused
            // (500) until it is fixed, rather than served as if the policy did not exist.
            let resolved = edgeRule(for: policy, snapshot: snapshot)
            let rule: EdgeRule = switch resolved {
            case .success(let rule): rule
            case .failure(let problem):
                .unenforceable(UnenforceableRule(policy: policy.label, kind: policy.kind.rawValue, problem: problem.message))
            }
            var attached: [String] = [], problems: [(reason: String, message: String)] = []
            for target in policy.targetRefs {
                switch locate(target, namespace: namespace, snapshot: snapshot) {
                case .failure(let problem): problems.append((problem.reason, problem.message))
                case .success(let (key, description)):
                    let slot = "\(policy.kind.rawValue) \(description)"
                    if let holder = holders[slot] {
                        problems.append(("Conflicted", "\(description) already has \(holder)"))
                        continue
                    }
                    holders[slot] = rule.policy
                    attachments.byTarget[key, default: []].append(rule)
                    attached.append(description)
                }
            }
            var condition: (reason: String, message: String)
            if case .failure(let problem) = resolved {
                let covered = attached.isEmpty ? "requests through HTTPRoute ExtensionRef filters naming it"
                    : "requests to " + attached.joined(separator: ", ")
                condition = ("Invalid", problem.message + "; \(covered) are refused with 500 until this is fixed")
            } else if let first = problems.first, attached.isEmpty && !policy.targetRefs.isEmpty {
                condition = (first.reason, problems.map(\.message).joined(separator: "; "))
            } else if attached.isEmpty {
                condition = ("Accepted", "Policy is accepted; it has no targetRefs and applies where an HTTPRoute ExtensionRef filter names it")
            } else {
                let skipped = problems.isEmpty ? "" : "; not attached: " + problems.map(\.message).joined(separator: "; ")
                condition = ("Accepted", "Policy is accepted and attached to " + attached.joined(separator: ", ") + skipped)
            }
            let generation = policy.metadata.generation ?? 1
            let accepted = Condition(type: "Accepted", status: condition.reason == "Accepted", reason: condition.reason,
                                     message: condition.message, observedGeneration: generation)
            statuses.edgePolicies[policy.kind, default: [:]][policy.metadata.namespacedName] = PolicyStatus(ancestors: gateways.map { gateway in
                PolicyStatus.Ancestor(ancestorRef: ParentReference(group: GatewayAPIGroup.name, kind: "Gateway",
                                                                   namespace: gateway.metadata.namespace ?? "default", name: gateway.metadata.name),
                                      controllerName: options.controllerName, conditions: [accepted])
            })
        }
        return attachments
    }

    struct EdgeProblem: Error {
        var reason: String
        var message: String
    }

    private func locate(_ target: BackendTLSPolicy.TargetRef, namespace: String,
                        snapshot: ResourceSnapshot) -> Swift.Result<(EdgeAttachments.Target, String), EdgeProblem> {
        let name = NamespacedName(namespace, target.name)
        guard target.group == GatewayAPIGroup.name else {
            return .failure(.init(reason: "InvalidKind", message: "targetRef \(target.kind) \(target.name) must have group \(GatewayAPIGroup.name)"))
        }
        switch target.kind {
        case "Gateway":
            guard let gateway = snapshot.gateways.first(where: { $0.metadata.namespacedName == name }) else {
                return .failure(.init(reason: "TargetNotFound", message: "Gateway \(name) not found"))
            }
            guard let section = target.sectionName else { return .success((.gateway(name), "Gateway \(name)")) }
            guard gateway.spec.listeners.contains(where: { $0.name == section }) else {
                return .failure(.init(reason: "TargetNotFound", message: "Gateway \(name) has no listener \(section)"))
            }
            return .success((.listener(name, section), "Gateway \(name) listener \(section)"))
        case "ListenerSet":
            guard let set = snapshot.listenerSets.first(where: { $0.metadata.namespacedName == name }), let gateway = set.parentGateway else {
                return .failure(.init(reason: "TargetNotFound", message: "ListenerSet \(name) not found"))
            }
            guard let section = target.sectionName else { return .success((.listenerSet(name), "ListenerSet \(name)")) }
            guard set.spec.listeners.contains(where: { $0.name == section }) else {
                return .failure(.init(reason: "TargetNotFound", message: "ListenerSet \(name) has no listener \(section)"))
            }
            return .success((.listener(gateway, "\(name.namespace)/\(name.name)/\(section)"), "ListenerSet \(name) listener \(section)"))
        case "HTTPRoute":
            guard let route = snapshot.httpRoutes.first(where: { $0.metadata.namespacedName == name }) else {
                return .failure(.init(reason: "TargetNotFound", message: "HTTPRoute \(name) not found"))
            }
            guard let section = target.sectionName else { return .success((.route(name), "HTTPRoute \(name)")) }
            guard (route.spec.rules ?? []).contains(where: { $0.name == section }) else {
                return .failure(.init(reason: "TargetNotFound", message: "HTTPRoute \(name) has no rule named \(section)"))
            }
            return .success((.rule(name, section), "HTTPRoute \(name) rule \(section)"))
        default:
            return .failure(.init(reason: "InvalidKind", message: "targetRef kind \(target.kind) is not Gateway, ListenerSet or HTTPRoute"))
        }
    }

    /// What an ExtensionRef filter puts on its rule: the policy, or, when it cannot be resolved, a rule
    /// that refuses the requests with 500 (the spec: a filter that cannot be honoured is never skipped;
    /// the same rule as a broken targetRef policy) and the problem for the route's status.
    func extensionRefRule(_ ref: HTTPRoute.LocalObjectReference, namespace: String,
                          snapshot: ResourceSnapshot) -> (rule: EdgeRule, problem: EdgeProblem?) {
        switch edgeRule(extensionRef: ref, namespace: namespace, snapshot: snapshot) {
        case .success(let rule): return (rule, nil)
        case .failure(let problem):
            let kind = ref.group == BackendTrafficPolicy.group ? ref.kind : "\(ref.group)/\(ref.kind)"
            return (.unenforceable(UnenforceableRule(policy: "\(kind) \(namespace)/\(ref.name)", kind: kind, problem: problem.message)), problem)
        }
    }

    /// The rule an HTTPRoute `ExtensionRef` filter names, looked up in the route's namespace.
    func edgeRule(extensionRef ref: HTTPRoute.LocalObjectReference, namespace: String, snapshot: ResourceSnapshot) -> Swift.Result<EdgeRule, EdgeProblem> {
        guard ref.group == BackendTrafficPolicy.group, let kind = EdgePolicy.Kind(rawValue: ref.kind) else {
            let kinds = EdgePolicy.Kind.allCases.map(\.rawValue)
            let suggestion = KnownKinds.closest(to: ref.kind, among: kinds).map { "; did you mean \(BackendTrafficPolicy.group)/\($0)?" } ?? ""
            return .failure(.init(reason: "InvalidKind", message: "ExtensionRef \(ref.group)/\(ref.kind) \(ref.name) is not an archway.dev edge policy kind "
                                  + "(\(kinds.joined(separator: ", ")))\(suggestion); the rule's requests are refused with 500"))
        }
        let name = NamespacedName(namespace, ref.name)
        guard let policy = snapshot.edgePolicies.first(where: { $0.kind == kind && $0.metadata.namespacedName == name }) else {
            return .failure(.init(reason: "BackendNotFound", message: "ExtensionRef \(kind.rawValue) \(name) not found"))
        }
        return edgeRule(for: policy, snapshot: snapshot).mapError {
            EdgeProblem(reason: "BackendNotFound", message: "ExtensionRef \(kind.rawValue) \(name) is invalid: \($0.message)")
        }
    }

    /// The policy with its Secrets and ConfigMaps read and its values checked.
    func edgeRule(for policy: EdgePolicy, snapshot: ResourceSnapshot) -> Swift.Result<EdgeRule, EdgeProblem> {
        let namespace = policy.metadata.namespace ?? "default"
        let label = policy.label
        let invalid = { (message: String) in Swift.Result<EdgeRule, EdgeProblem>.failure(EdgeProblem(reason: "Invalid", message: message)) }
        let problems = policy.specProblems()
        if !problems.isEmpty { return invalid(problems.map { "\($0.field): \($0.message)" }.joined(separator: "; ")) }
        func secret(_ ref: KeyReference) -> Secret? { snapshot.secrets[NamespacedName(namespace, ref.name)] }

        switch policy.spec {
        case .unreadable(let problem):
            return invalid("the object could not be read: \(problem)")
        case .basicAuth(let spec):
            guard let secret = secret(spec.secretRef) else { return invalid("Secret \(namespace)/\(spec.secretRef.name) not found") }
            let key = spec.secretRef.key ?? (secret.value(forKey: "users") != nil ? "users" : "auth")
            guard let text = secret.value(forKey: key) else { return invalid("Secret \(namespace)/\(spec.secretRef.name) has no key \(key)") }
            var users: [String: String] = [:], unreadable: [String] = []
            for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") && !line.allSatisfy(\.isWhitespace) {
                guard let colon = line.firstIndex(of: ":") else { unreadable.append("a line without user:hash"); continue }
                let user = String(line[..<colon]), hash = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
                // A line archway cannot check is named here, not left to answer 401 to the right password.
                if case .failure(let why) = HtpasswdFormat.classify(hash) {
                    unreadable.append("user \(user): \(why)")
                    continue
                }
                users[user] = hash
            }
            if !unreadable.isEmpty { return invalid("Secret \(namespace)/\(spec.secretRef.name) key \(key): " + unreadable.joined(separator: "; ")) }
            guard !users.isEmpty else { return invalid("Secret \(namespace)/\(spec.secretRef.name) key \(key) lists no users") }
            return .success(.basicAuth(BasicAuthRule(policy: label, realm: spec.realm ?? policy.metadata.name, users: users,
                                                     stripAuthorization: spec.stripAuthorization ?? true)))
        case .apiKeyAuth(let spec):
            guard let secret = secret(spec.secretRef) else { return invalid("Secret \(namespace)/\(spec.secretRef.name) not found") }
            let clients = Set((secret.data ?? [:]).keys).union((secret.stringData ?? [:]).keys).sorted()
            var byDigest: [String: String] = [:]
            for client in clients {
                guard let key = secret.value(forKey: client)?.trimmingCharacters(in: .whitespacesAndNewlines), !key.isEmpty else { continue }
                byDigest[Self.sha256Hex(key)] = client
            }
            guard !byDigest.isEmpty else { return invalid("Secret \(namespace)/\(spec.secretRef.name) holds no API keys") }
            return .success(.apiKeyAuth(APIKeyAuthRule(policy: label, header: (spec.header ?? "x-api-key").lowercased(), queryParameter: spec.queryParameter,
                                                       clientHeader: spec.clientHeader ?? "x-api-client", clientsByKeyDigest: byDigest)))
        case .jwtAuth(let spec):
            var document: String?
            if let inline = spec.jwks.inline { document = inline }
            if let ref = spec.jwks.secretRef {
                guard let secret = secret(ref) else { return invalid("Secret \(namespace)/\(ref.name) not found") }
                guard let value = secret.value(forKey: ref.key ?? "jwks") else { return invalid("Secret \(namespace)/\(ref.name) has no key \(ref.key ?? "jwks")") }
                document = value
            }
            if let ref = spec.jwks.configMapRef {
                guard let map = snapshot.configMaps[NamespacedName(namespace, ref.name)] else { return invalid("ConfigMap \(namespace)/\(ref.name) not found") }
                guard let value = map.data?[ref.key ?? "jwks"] else { return invalid("ConfigMap \(namespace)/\(ref.name) has no key \(ref.key ?? "jwks")") }
                document = value
            }
            if let document {
                let keys = (try? JSONSerialization.jsonObject(with: Data(document.utf8)) as? [String: Any])?["keys"] as? [Any]
                guard let keys, !keys.isEmpty else { return invalid("the JWKS is not a JSON object with a non-empty \"keys\" array") }
                // Each key must carry what its type needs (RFC 7518 §6): a set whose keys cannot be read
                // would refuse every token at request time while the policy looked accepted.
                // Keys of other types (a symmetric "oct" key in a mixed set) are left to the verifier.
                let required = ["RSA": ["n", "e"], "EC": ["crv", "x", "y"], "OKP": ["crv", "x"]]
                var usable = 0
                for (index, entry) in keys.enumerated() {
                    guard let key = entry as? [String: Any], let type = key["kty"] as? String else {
                        return invalid("JWKS key \(index) is not an object with a kty")
                    }
                    guard let fields = required[type] else { continue }
                    if let missing = fields.first(where: { (key[$0] as? String)?.isEmpty ?? true }) {
                        return invalid("JWKS key \(index) (\(type)) has no \"\(missing)\"")
                    }
                    usable += 1
                }
                guard usable > 0 else { return invalid("the JWKS has no RSA, EC or OKP key (the key types JWTAuth verifies)") }
            }
            let refresh = spec.jwks.refreshInterval.flatMap(parseGatewayDuration).map { max(1, $0 / 1000) } ?? 300
            return .success(.jwtAuth(JWTAuthRule(policy: label, jwks: document, jwksURL: spec.jwks.url, refreshSeconds: refresh, issuer: spec.issuer,
                                                 audiences: spec.audiences ?? [],
                                                 claimsToHeaders: (spec.claimsToHeaders ?? []).map { .init(claim: $0.claim, header: $0.header.lowercased()) },
                                                 stripAuthorization: spec.stripAuthorization ?? false)))
        case .forwardAuth(let spec):
            return .success(.forwardAuth(ForwardAuthRule(policy: label, url: spec.url,
                                                         requestHeaders: (spec.requestHeaders ?? ["authorization", "cookie"]).map { $0.lowercased() },
                                                         responseHeaders: (spec.responseHeaders ?? []).map { $0.lowercased() },
                                                         timeoutMillis: spec.timeout.flatMap(parseGatewayDuration) ?? 5000,
                                                         failOpen: spec.failureMode == "Allow")))
        case .rateLimit(let spec):
            let period = switch spec.unit { case .Second: 1; case .Minute: 60; case .Hour: 3600 }
            let key: RateLimitRule.Key = switch spec.key?.type ?? .ClientIP {
            case .ClientIP: .clientIP(trustedProxyDepth: spec.trustedProxyDepth ?? 0)
            case .Header: .header((spec.key?.header ?? "").lowercased())
            case .Route: .route
            }
            return .success(.rateLimit(RateLimitRule(policy: label, requests: spec.requests, periodSeconds: period,
                                                     burst: spec.burst ?? spec.requests, key: key)))
        case .ipAllowList(let spec):
            var bad: [String] = []
            func parse(_ list: [String]?, _ field: String) -> [CIDR] {
                (list ?? []).enumerated().compactMap { index, text in
                    if let cidr = CIDR(text) { return cidr }
                    bad.append("spec.\(field)[\(index)]: \"\(text)\" is not an IP address or CIDR")
                    return nil
                }
            }
            let allow = parse(spec.allow, "allow"), deny = parse(spec.deny, "deny")
            if !bad.isEmpty { return invalid(bad.joined(separator: "; ")) }
            return .success(.ipAllowList(IPAllowListRule(policy: label, allow: allow, deny: deny, trustedProxyDepth: spec.trustedProxyDepth ?? 0)))
        case .bodySize(let spec):
            return .success(.bodySize(BodySizeRule(policy: label, maxBytes: parseByteQuantity(spec.maxRequestBody) ?? 0)))
        }
    }

    static func sha256Hex(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String($0, radix: 16).leftPadded() }.joined()
    }
}

extension String {
    fileprivate func leftPadded() -> String { count == 1 ? "0" + self : self }
}

extension Translator {
    /// The condition type a route's parent status gets while a policy that applies to it cannot be
    /// enforced. Only written then, so that a healthy route's status is exactly the spec's.
    static let policiesEnforcedCondition = "archway.dev/PoliciesEnforced"

    /// Says on each route which of its requests are refused because a policy cannot be enforced, on
    /// the parent (Gateway) they arrive through: the route's owner sees why it answers 500.
    func markUnenforceable(_ blocked: [TableBuilder.BlockedRoute: Set<String>], in statuses: inout StatusSet) {
        for (key, policies) in blocked {
            func mark(_ status: inout RouteStatus?) {
                guard var updated = status else { return }
                for index in updated.parents.indices {
                    let parent = updated.parents[index].parentRef
                    guard parent.name == key.gateway.name, parent.namespace == key.gateway.namespace else { continue }
                    let generation = updated.parents[index].conditions.first?.observedGeneration
                    updated.parents[index].conditions.append(Condition(
                        type: Self.policiesEnforcedCondition, status: false, reason: "PolicyInvalid",
                        message: policies.sorted().joined(separator: "; ") + "; the requests it covers are refused with 500",
                        observedGeneration: generation))
                }
                status = updated
            }
            if key.kind == "GRPCRoute" { mark(&statuses.grpcRoutes[key.route]) } else { mark(&statuses.httpRoutes[key.route]) }
        }
    }
}
