import Yams

/// archway.dev/v1alpha1 edge policies: the checks Ingress users set with annotations (auth-url, basic
/// auth, limit-rps, whitelist-source-range, proxy-body-size) as kinds of their own. Each one is used
/// either from an HTTPRoute rule's `ExtensionRef` filter or attached with `targetRefs` to a Gateway, one
/// of its listeners (`sectionName`), an HTTPRoute or one named rule of it (`sectionName`).
public struct EdgePolicy: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable, Codable {
        case basicAuth = "BasicAuth"
        case forwardAuth = "ForwardAuth"
        case jwtAuth = "JWTAuth"
        case apiKeyAuth = "APIKeyAuth"
        case rateLimit = "RateLimit"
        case ipAllowList = "IPAllowList"
        case bodySize = "BodySize"
    }
    public enum Spec: Sendable, Equatable {
        case basicAuth(BasicAuthSpec)
        case forwardAuth(ForwardAuthSpec)
        case jwtAuth(JWTAuthSpec)
        case apiKeyAuth(APIKeyAuthSpec)
        case rateLimit(RateLimitSpec)
        case ipAllowList(IPAllowListSpec)
        case bodySize(BodySizeSpec)
        /// The document could not be decoded (the message says where). Kept rather than dropped so
        /// that what it targets is refused instead of served unprotected; see `unreadable(_:kind:problem:)`.
        case unreadable(String)
    }
    public var kind: Kind
    public var metadata: ObjectMeta
    /// Empty for a policy used only through ExtensionRef filters.
    public var targetRefs: [BackendTLSPolicy.TargetRef]
    public var spec: Spec

    public init(kind: Kind, metadata: ObjectMeta, targetRefs: [BackendTLSPolicy.TargetRef], spec: Spec) {
        self.kind = kind
        self.metadata = metadata
        self.targetRefs = targetRefs
        self.spec = spec
    }

    /// "BasicAuth team-a/admins": how answers, logs and status name the policy.
    public var label: String { "\(kind.rawValue) \(metadata.namespace ?? "default")/\(metadata.name)" }
}

/// A Secret or ConfigMap key in the policy's own namespace.
public struct KeyReference: Codable, Sendable, Equatable {
    public var name: String
    public var key: String?
}

public struct BasicAuthSpec: Codable, Sendable, Equatable {
    /// htpasswd lines (`user:hash`), under the key `users` (or `auth`, as ingress-nginx names it).
    public var secretRef: KeyReference
    public var realm: String?
    /// Keep the Authorization header from reaching the backend (default true).
    public var stripAuthorization: Bool?
}

public struct ForwardAuthSpec: Codable, Sendable, Equatable {
    /// `http://host:port/path` of the auth service.
    public var url: String
    /// Request headers sent to the auth service (Authorization and Cookie when not given).
    public var requestHeaders: [String]?
    /// Headers of the auth service's 2xx answer copied onto the request to the backend.
    public var responseHeaders: [String]?
    public var timeout: String?
    /// `Deny` (default): an unreachable or timed-out auth service refuses with 503. `Allow` lets the request through.
    public var failureMode: String?
}

public struct JWTAuthSpec: Codable, Sendable, Equatable {
    public struct JWKSSource: Codable, Sendable, Equatable {
        /// A JWKS document (JSON) written in the policy.
        public var inline: String?
        public var secretRef: KeyReference?
        public var configMapRef: KeyReference?
        /// Fetched at start and every `refreshInterval` (default 5m).
        public var url: String?
        public var refreshInterval: String?
    }
    public struct ClaimHeader: Codable, Sendable, Equatable {
        public var claim: String
        public var header: String
    }
    public var jwks: JWKSSource
    public var issuer: String?
    /// The token must name at least one of these in `aud`.
    public var audiences: [String]?
    public var claimsToHeaders: [ClaimHeader]?
    /// Keep the Authorization header from reaching the backend (default false: backends often want it).
    public var stripAuthorization: Bool?
}

public struct APIKeyAuthSpec: Codable, Sendable, Equatable {
    /// Every key of the Secret is a client name; its value is that client's API key.
    public var secretRef: KeyReference
    /// Where the key is looked for: this header (default `x-api-key`), then the query parameter if set.
    public var header: String?
    public var queryParameter: String?
    /// The header that tells the backend which client called (default `x-api-client`).
    public var clientHeader: String?
}

public struct RateLimitSpec: Codable, Sendable, Equatable {
    public enum Unit: String, Codable, Sendable { case Second, Minute, Hour }
    public struct Key: Codable, Sendable, Equatable {
        public enum KeyType: String, Codable, Sendable { case ClientIP, Header, Route }
        public var type: KeyType
        public var header: String?
    }
    public var requests: Int
    public var unit: Unit
    /// Requests allowed at once above the steady rate (default: `requests`).
    public var burst: Int?
    /// What counts as one client (default ClientIP).
    public var key: Key?
    /// X-Forwarded-For entries added by trusted proxies in front of archway, for ClientIP keys.
    public var trustedProxyDepth: Int?
}

public struct IPAllowListSpec: Codable, Sendable, Equatable {
    /// CIDRs (or single addresses) allowed; empty allows everyone not denied.
    public var allow: [String]?
    /// CIDRs refused even when inside an allowed range.
    public var deny: [String]?
    /// How many X-Forwarded-For entries, counted from the right, were added by proxies archway trusts.
    /// 0 (default) uses the connection's own address.
    public var trustedProxyDepth: Int?
}

public struct BodySizeSpec: Codable, Sendable, Equatable {
    /// A byte count or a Kubernetes quantity such as `8Mi`.
    public var maxRequestBody: String
}

/// `8Mi`, `512Ki`, `1G` or a plain byte count.
public func parseByteQuantity(_ text: String) -> Int? {
    let suffixes: [(String, Int)] = [("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("k", 1000), ("K", 1000), ("M", 1_000_000), ("G", 1_000_000_000)]
    for (suffix, factor) in suffixes where text.hasSuffix(suffix) {
        return Int(text.dropLast(suffix.count)).flatMap { $0 >= 0 ? $0 * factor : nil }
    }
    return Int(text).flatMap { $0 >= 0 ? $0 : nil }
}

extension EdgePolicy {
    /// What is wrong with the spec, reported in the policy's status (Accepted False, reason Invalid)
    /// rather than refusing the file: the rest of the configuration keeps serving. CIDRs are checked
    /// by the translator, which owns the address parser.
    public func specProblems() -> [FieldProblem] {
        var problems = Problems()
        for (i, target) in targetRefs.enumerated() {
            let field = "spec.targetRefs[\(i)]"
            problems.require(target.group == GatewayAPIGroup.name, field + ".group", "must be \(GatewayAPIGroup.name)")
            problems.require(["Gateway", "ListenerSet", "HTTPRoute"].contains(target.kind), field + ".kind", "must be Gateway, ListenerSet or HTTPRoute")
        }
        switch spec {
        case .basicAuth(let spec):
            problems.require(!spec.secretRef.name.isEmpty, "spec.secretRef.name", "must name a Secret")
        case .forwardAuth(let spec):
            problems.require(HTTPURLParts(spec.url) != nil, "spec.url", "\"\(spec.url)\" is not an http:// URL with a host")
            if let timeout = spec.timeout {
                problems.require((parseGatewayDuration(timeout) ?? 0) > 0, "spec.timeout", "\"\(timeout)\" is not a duration above 0")
            }
            problems.require(["Deny", "Allow"].contains(spec.failureMode ?? "Deny"), "spec.failureMode", "must be Deny or Allow")
        case .jwtAuth(let spec):
            let sources = [spec.jwks.inline != nil, spec.jwks.secretRef != nil, spec.jwks.configMapRef != nil, spec.jwks.url != nil]
            problems.require(sources.filter { $0 }.count == 1, "spec.jwks", "must give exactly one of inline, secretRef, configMapRef, url")
            if let url = spec.jwks.url { problems.require(HTTPURLParts(url) != nil, "spec.jwks.url", "\"\(url)\" is not an http(s):// URL") }
        case .apiKeyAuth(let spec):
            problems.require(!spec.secretRef.name.isEmpty, "spec.secretRef.name", "must name a Secret")
        case .rateLimit(let spec):
            problems.require(spec.requests >= 1, "spec.requests", "must be at least 1")
            if let burst = spec.burst { problems.require(burst >= 1, "spec.burst", "must be at least 1") }
            if spec.key?.type == .Header { problems.require(!(spec.key?.header ?? "").isEmpty, "spec.key.header", "is required when type is Header") }
        case .ipAllowList(let spec):
            problems.require((spec.trustedProxyDepth ?? 0) >= 0, "spec.trustedProxyDepth", "must not be negative")
        case .unreadable:
            break  // the translator reports it; the loader has already named the field
        case .bodySize(let spec):
            problems.require(parseByteQuantity(spec.maxRequestBody) != nil, "spec.maxRequestBody", "\"\(spec.maxRequestBody)\" is not a byte count (e.g. 1048576 or 8Mi)")
        }
        return problems.items
    }
}

/// The parts of an `http://` or `https://` URL a sub-request needs.
public struct HTTPURLParts: Sendable, Equatable {
    public var tls: Bool
    public var host: String
    public var port: Int
    /// Path and query, at least "/".
    public var target: String

    public init?(_ text: String) {
        let rest: Substring
        if text.hasPrefix("http://") { tls = false; rest = text.dropFirst(7) }
        else if text.hasPrefix("https://") { tls = true; rest = text.dropFirst(8) }
        else { return nil }
        let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<slash]
        target = slash == rest.endIndex ? "/" : (rest[slash] == "?" ? "/" + rest[slash...] : String(rest[slash...]))
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            guard let port = Int(authority[authority.index(after: colon)...]), (1...65535).contains(port) else { return nil }
            self.port = port
            host = String(authority[..<colon])
        } else {
            port = tls ? 443 : 80
            host = String(authority)
        }
        host = host.trimmingCharacters(in: ["[", "]"])
        guard !host.isEmpty else { return nil }
    }
}

extension EdgePolicy {
    private struct Document<Spec: Decodable>: Decodable {
        var metadata: ObjectMeta
        var spec: Spec
    }
    private struct Targets: Decodable {
        var targetRefs: [BackendTLSPolicy.TargetRef]?
    }

    static func decode(_ node: Yams.Node, kind: Kind, with decoder: ManifestDecoder) throws -> EdgePolicy {
        func read<S: Decodable>(_: S.Type) throws -> (ObjectMeta, S) {
            let document = try decoder.decode(Document<S>.self, from: node)
            return (document.metadata, document.spec)
        }
        let metadata: ObjectMeta, spec: Spec
        switch kind {
        case .basicAuth: let (m, s) = try read(BasicAuthSpec.self); (metadata, spec) = (m, .basicAuth(s))
        case .forwardAuth: let (m, s) = try read(ForwardAuthSpec.self); (metadata, spec) = (m, .forwardAuth(s))
        case .jwtAuth: let (m, s) = try read(JWTAuthSpec.self); (metadata, spec) = (m, .jwtAuth(s))
        case .apiKeyAuth: let (m, s) = try read(APIKeyAuthSpec.self); (metadata, spec) = (m, .apiKeyAuth(s))
        case .rateLimit: let (m, s) = try read(RateLimitSpec.self); (metadata, spec) = (m, .rateLimit(s))
        case .ipAllowList: let (m, s) = try read(IPAllowListSpec.self); (metadata, spec) = (m, .ipAllowList(s))
        case .bodySize: let (m, s) = try read(BodySizeSpec.self); (metadata, spec) = (m, .bodySize(s))
        }
        let targets = try decoder.decode(Document<Targets>.self, from: node).spec.targetRefs ?? []
        return EdgePolicy(kind: kind, metadata: metadata, targetRefs: targets, spec: spec)
    }

    /// What stands for a policy document that could not be decoded, when at least its name can be
    /// read: its targets are read field by field, leniently, so that a typo elsewhere in the spec
    /// still leaves the routes it was meant to protect refused rather than open.
    static func unreadable(_ node: Yams.Node, kind: Kind, problem: String) -> EdgePolicy? {
        guard let name = node.field("metadata")?.field("name")?.string, !name.isEmpty else { return nil }
        var metadata = ObjectMeta(name: name)
        metadata.namespace = node.field("metadata")?.field("namespace")?.string
        metadata.creationTimestamp = node.field("metadata")?.field("creationTimestamp")?.string
        let targets = (node.field("spec")?.field("targetRefs")?.array() ?? []).compactMap { ref -> BackendTLSPolicy.TargetRef? in
            guard let kind = ref.field("kind")?.string, let name = ref.field("name")?.string else { return nil }
            return BackendTLSPolicy.TargetRef(group: ref.field("group")?.string, kind: kind, name: name, sectionName: ref.field("sectionName")?.string)
        }
        return EdgePolicy(kind: kind, metadata: metadata, targetRefs: targets, spec: .unreadable(problem))
    }
}
