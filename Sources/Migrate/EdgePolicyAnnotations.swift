import Foundation
import GatewayAPI
import Translator
import Yams

/// ingress-nginx's auth, rate-limit, allow-list and body-size annotations as archway edge policies
/// (`archway.dev/v1alpha1`), attached with targetRefs to the HTTPRoutes the Ingress became. Each
/// annotation's verdict says what differs from ingress-nginx, so nothing changes silently.
extension EdgeAnnotations {
    private var namespace: String { ingress.metadata.namespace ?? "default" }

    /// The policy documents; `routes` are the HTTPRoutes carrying the Ingress's backends.
    func policies(routes: [String], intent: IngressIntent) -> [Node] {
        guard !routes.isEmpty else { return [] }
        let made = controller == .nginxInc ? [nginxIncRateLimit, nginxIncBodySize, nginxIncBasicAuth]
            : controller == .kong ? kongPolicies(intent.kongPlugins).map(Optional.some)
            : controller == .traefik ? traefikPolicies(intent.traefikMiddlewares).map(Optional.some)
            : controller == .apisix ? apisixPolicies(intent.apisix)
            : controller == .cilium ? []
            : [rateLimit, ipAllowList, bodySize, basicAuth, forwardAuth]
        return made.compactMap { made in
            made.map { policy(kind: $0.kind, suffix: $0.kind.lowercased(), spec: $0.spec, routes: routes) }
        }
    }

    private func policy(kind: String, suffix: String, spec: [(String, Node?)], routes: [String]) -> Node {
        let targets = routes.map { route in
            Manifest.map([("group", Manifest.str(GatewayAPIGroup.name)), ("kind", Manifest.str("HTTPRoute")), ("name", Manifest.str(route))])
        }
        return Manifest.map([
            ("apiVersion", Manifest.str("archway.dev/v1alpha1")), ("kind", Manifest.str(kind)),
            ("metadata", Manifest.metadata(name: "\(ingress.metadata.name)-\(suffix)", namespace: namespace)),
            ("spec", Manifest.map([("targetRefs", Manifest.seq(targets))] + spec)),
        ])
    }

    typealias Made = (kind: String, spec: [(String, Node?)])

    private func rate(_ name: String) -> Int? { value(name).flatMap(Int.init).flatMap { $0 > 0 ? $0 : nil } }

    /// `limit-rps` (or `limit-rpm`) per client address; ingress-nginx's burst is the rate times
    /// `limit-burst-multiplier` (5 unless set).
    private var rateLimit: Made? {
        guard let (requests, unit) = rate("limit-rps").map({ ($0, "Second") }) ?? rate("limit-rpm").map({ ($0, "Minute") }) else { return nil }
        let multiplier = rate("limit-burst-multiplier") ?? 5
        return Self.rateLimitSpec(requests: requests, unit: unit, burst: requests * multiplier)
    }

    private var ipAllowList: Made? {
        let allow = list("whitelist-source-range") + list("allowlist-source-range")
        let deny = list("denylist-source-range")
        guard !allow.isEmpty || !deny.isEmpty else { return nil }
        return Self.ipAllowListSpec(allow: allow, deny: deny)
    }

    var bodySizeLimit: String? { value("proxy-body-size").flatMap(Self.nginxSize) }

    /// nginx sizes: bytes, or k/m/g (powers of 1024); 0 means no limit.
    static func nginxSize(_ text: String) -> String? {
        guard let last = text.last else { return nil }
        let units: [Character: String] = ["k": "Ki", "K": "Ki", "m": "Mi", "M": "Mi", "g": "Gi", "G": "Gi"]
        let (digits, unit) = units[last].map { (text.dropLast(), $0) } ?? (Substring(text), "")
        guard let number = Int(digits), number > 0 else { return nil }
        return "\(number)\(unit)"
    }

    private var bodySize: Made? {
        bodySizeLimit.map { ("BodySize", [("maxRequestBody", Manifest.str($0))]) }
    }

    /// The Secret `auth-secret` names, when it is in the Ingress's namespace (a policy reads its own namespace only).
    var basicAuthSecret: String? {
        guard value("auth-type")?.lowercased() == "basic", let secret = value("auth-secret"),
              (value("auth-secret-type") ?? "auth-file") == "auth-file" else { return nil }
        let parts = secret.split(separator: "/")
        if parts.count == 2 { return parts[0] == namespace ? String(parts[1]) : nil }
        return secret
    }

    private var basicAuth: Made? {
        basicAuthSecret.map { secret in
            ("BasicAuth", [("secretRef", Manifest.map([("name", Manifest.str(secret)), ("key", Manifest.str("auth"))])),
                           ("realm", value("auth-realm").map(Manifest.str))])
        }
    }

    private var forwardAuth: Made? {
        guard let url = value("auth-url"), HTTPURLParts(url) != nil else { return nil }
        let copied = list("auth-response-headers")
        return ("ForwardAuth", [("url", Manifest.str(url)), ("responseHeaders", copied.isEmpty ? nil : Manifest.seq(copied.map(Manifest.str)))])
    }

    /// What became of one of these annotations; nil for annotations this type does not handle.
    func verdict(_ name: String, routes: Int, grpc: Bool, canary: Bool) -> AnnotationOutcome.Verdict? {
        let handled: Set = ["limit-rps", "limit-rpm", "limit-burst-multiplier", "whitelist-source-range", "allowlist-source-range",
                            "denylist-source-range", "proxy-body-size", "auth-type", "auth-secret", "auth-secret-type", "auth-realm",
                            "auth-url", "auth-response-headers"]
        guard handled.contains(name) else { return nil }
        if canary { return .notMapped("a canary Ingress is folded into its main Ingress's route, whose policies apply (ingress-nginx ignores these on a canary too)") }
        if grpc { return .notMapped("the Ingress became a GRPCRoute, and archway's policies attach to Gateways and HTTPRoutes only; attach the policy to the Gateway listener instead") }
        if routes == 0 { return .notMapped("the Ingress became no HTTPRoute with backends for a policy to attach to") }
        let policy = "\(ingress.metadata.name)-"
        switch name {
        case "limit-rps", "limit-rpm", "limit-burst-multiplier":
            guard rateLimit != nil else { return .notMapped("not a positive whole number") }
            if name == "limit-rpm", rate("limit-rps") != nil {
                return .notMapped("ingress-nginx applied both limits; RateLimit \(policy)ratelimit takes limit-rps only")
            }
            return .partly("RateLimit \(policy)ratelimit per client address (burst = rate × \(value("limit-burst-multiplier") ?? "5")); over the limit archway answers 429 with Retry-After, where ingress-nginx answered 503")
        case "whitelist-source-range", "allowlist-source-range", "denylist-source-range":
            return .partly("IPAllowList \(policy)ipallowlist on the connection's address; if clients reach archway through a load balancer that adds X-Forwarded-For, set trustedProxyDepth (ingress-nginx's use-forwarded-headers)")
        case "proxy-body-size":
            guard let limit = bodySizeLimit else { return .mapped }
            return .partly("BodySize \(policy)bodysize (413 above \(limit)); note that ingress-nginx's default was 1m, archway has no limit where no policy says so")
        case "auth-type", "auth-secret", "auth-secret-type", "auth-realm":
            if value("auth-type")?.lowercased() != "basic" { return .notMapped("only auth-type basic has an archway kind (BasicAuth)") }
            if value("auth-secret-type").map({ $0 != "auth-file" }) == true { return .notMapped("BasicAuth reads htpasswd lines (auth-file); turn the auth-map Secret into user:hash lines under the key auth") }
            guard basicAuthSecret != nil else { return .notMapped("auth-secret must be a Secret in the Ingress's namespace (a policy reads its own namespace)") }
            return .partly("BasicAuth \(policy)basicauth reads the same Secret's auth key; bcrypt, $apr1$, $1$, $5$, $6$, {SHA} and {SSHA} lines verify as in ingress-nginx, but plain-text, DES crypt and yescrypt lines do not (the policy's status names them): re-hash those with htpasswd -B")
        default:  // auth-url, auth-response-headers
            guard forwardAuth != nil else { return .notMapped("auth-url is not an http(s)://host[:port]/path URL") }
            return .partly("ForwardAuth \(policy)forwardauth; the auth service gets Authorization and Cookie (list more in requestHeaders) where ingress-nginx sent every request header, and a 401 is returned to the client as is")
        }
    }
}
