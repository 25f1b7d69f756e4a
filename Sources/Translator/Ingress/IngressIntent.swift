import GatewayAPI

/// What an Ingress's ingress-nginx annotations ask for, parsed once. Both readings of an Ingress use
/// it: the Ingress semantics archway serves side by side (IngressLowering) and the Gateway API
/// conversion (`archway migrate`); `migrate --verify` compares what the two make of it.
public struct IngressIntent: Sendable, Equatable {
    public static let nginx = "nginx.ingress.kubernetes.io/"

    public struct Canary: Sendable, Equatable {
        public var weight: Int?
        public var weightTotal: Int
        public var header: String?
        public var headerValue: String?
        /// A PCRE that the header's value is searched with (ignored when headerValue is set).
        public var headerPattern: String?
        public var cookie: String?

        /// The header cases in ingress-nginx's order: the exact value, else the pattern (a search,
        /// as Lua's ngx.re.match does, said as a whole-value match), else "always" and "never".
        /// `canary`: true when the case sends to the canary.
        public var headerCases: [(value: String, regex: Bool, canary: Bool)] {
            if let headerValue { return [(headerValue, false, true)] }
            if let headerPattern { return [(".*(?:" + headerPattern + ").*", true, true)] }
            return [("always", false, true), ("never", false, false)]
        }

        /// canary-by-cookie as a match on the Cookie header: the cookie (its name compared without
        /// case, as nginx's $cookie_ variables do) set to `value`, "always" or "never"; nil without one.
        public func cookieMatch(_ value: String) -> String? {
            cookie.map { "(?:.*;\\s*)?(?i:\(Translator.escapeRegex($0)))=\(Translator.escapeRegex(value))(?:;.*)?" }
        }
    }

    public struct FixedRedirect: Sendable, Equatable {
        public var url: String
        public var statusCode: Int
    }

    /// nil: not said (ingress-nginx then redirects hosts that have TLS).
    public var sslRedirect: Bool?
    public var forceSSLRedirect = false
    public var rewriteTarget: String?
    public var useRegex = false
    public var fixedRedirect: FixedRedirect?
    public var appRoot: String?
    public var upstreamVhost: String?
    public var xForwardedPrefix: String?
    public var fromToWWWRedirect = false
    public var canary: Canary?
    /// Upper-cased: HTTP, HTTPS, GRPC, GRPCS, AUTO_HTTP, FCGI.
    public var backendProtocol: String?
    public var sslPassthrough = false
    /// What on the Ingress (or the objects it names) decides access, as `reading(_:in:)` finds it
    /// (IngressAccessControl). Serving Ingresses side by side does not enforce it (`archway migrate`
    /// converts it to policies), so the Ingress's routes are refused with 500 rather than served
    /// without the check its owner asked for.
    public var accessControl: [String] = []
    public static let accessControlKeys = ["auth-type", "auth-secret", "auth-url", "auth-tls-secret", "auth-tls-verify-client",
                                           "whitelist-source-range", "allowlist-source-range", "denylist-source-range"]

    /// The controller the Ingress was written for; the other controllers' annotations mean nothing to it.
    public var controller: IngressController
    /// `nginx.org/*`, for an Ingress of F5 NGINX Ingress Controller.
    public var nginxInc: NginxIncAnnotations?
    /// `konghq.com/*`, for an Ingress of Kong Ingress Controller.
    public var kong: KongAnnotations?
    /// The KongPlugins it names, read (by `reading(_:in:)`, which has the snapshot).
    public var kongPlugins: [KongPluginUse] = []
    /// `traefik.ingress.kubernetes.io/*`, for an Ingress of Traefik.
    public var traefik: TraefikAnnotations?
    /// The Middlewares it names, read (by `reading(_:in:)`).
    public var traefikMiddlewares: [TraefikMiddlewareUse] = []
    /// The port a redirect to HTTPS names (Traefik's redirectScheme port); nil for the scheme's own.
    public var httpsRedirectPort: Int?
    /// Every request for a host redirected elsewhere with its path kept (Traefik's redirectRegex of a
    /// whole host): (that host, the redirect).
    public var hostRedirect: HostRedirect?

    public struct HostRedirect: Sendable, Equatable {
        public var host: String
        public var scheme: String
        public var hostname: String
        public var statusCode: Int
    }
    /// GKE's annotations and the FrontendConfig / BackendConfigs they name, for a GCE Ingress.
    public var gce: GCEAnnotations?
    /// `ingress.cilium.io/*`, for an Ingress of Cilium.
    public var cilium: CiliumAnnotations?
    /// `k8s.apisix.apache.org/*`, for an Ingress of APISIX Ingress Controller.
    public var apisix: APISIXAnnotations?

    /// `controller`: nil to tell it from the Ingress alone (IngressController.of without classes).
    /// `snapshot`: where a GCE Ingress's FrontendConfig and BackendConfigs are looked up.
    public init(_ ingress: Ingress, controller: IngressController? = nil, snapshot: ResourceSnapshot? = nil) {
        self.controller = controller ?? IngressController.of(ingress)
        if self.controller == .gce {
            let gce = GCEAnnotations(ingress, snapshot: snapshot)
            self.gce = gce
            // GCE never redirects to HTTPS on its own, TLS or not; a FrontendConfig redirects every cleartext request.
            sslRedirect = false
            forceSSLRedirect = gce.redirectCode != nil
            return
        }
        if self.controller == .nginxInc {
            let nginxInc = NginxIncAnnotations(ingress)
            self.nginxInc = nginxInc
            sslRedirect = nginxInc.sslRedirect
            // NGINX redirects to its first TLS port: `return 301 https://$host:PORT$request_uri`.
            httpsRedirectPort = nginxInc.listenPortsSSL?.first.flatMap { $0 == 443 ? nil : $0 }
            return
        }
        if self.controller == .traefik {
            traefik = TraefikAnnotations(ingress)
            // Traefik never redirects on its own; a redirectScheme middleware does (see reading(_:in:)).
            sslRedirect = false
            return
        }
        if self.controller == .kong {
            let kong = KongAnnotations(ingress)
            self.kong = kong
            // Kong never redirects on its own; `protocols: https` with a redirect code does.
            sslRedirect = false
            forceSSLRedirect = kong.httpsOnly && kong.redirectCode != nil
            return
        }
        if self.controller == .cilium {
            let cilium = CiliumAnnotations(ingress)
            self.cilium = cilium
            // Unset, Cilium's enforce-ingress-https (on in its Helm chart) redirects TLS hosts.
            sslRedirect = cilium.forceHTTPS
            sslPassthrough = cilium.tlsPassthrough
            return
        }
        if self.controller == .apisix {
            let apisix = APISIXAnnotations(ingress)
            self.apisix = apisix
            // APISIX redirects only when told, and then every cleartext request, TLS host or not.
            sslRedirect = false
            forceSSLRedirect = apisix.httpToHTTPS
            fixedRedirect = apisix.redirect
            return
        }
        func value(_ key: String) -> String? { ingress.annotation(Self.nginx + key)?.trimmingSpaces }
        func flag(_ key: String) -> Bool? { value(key).map { $0.lowercased() == "true" } }
        sslRedirect = flag("ssl-redirect")
        forceSSLRedirect = flag("force-ssl-redirect") ?? false
        rewriteTarget = value("rewrite-target")
        useRegex = flag("use-regex") ?? false
        // ingress-nginx reads temporal-redirect first: with both set, the temporal one wins.
        if let url = value("temporal-redirect") {
            fixedRedirect = FixedRedirect(url: url, statusCode: value("temporal-redirect-code").flatMap { Int($0) } ?? 302)
        } else if let url = value("permanent-redirect") {
            fixedRedirect = FixedRedirect(url: url, statusCode: value("permanent-redirect-code").flatMap { Int($0) } ?? 301)
        }
        appRoot = value("app-root")
        upstreamVhost = value("upstream-vhost")
        xForwardedPrefix = value("x-forwarded-prefix")
        fromToWWWRedirect = flag("from-to-www-redirect") ?? false
        if flag("canary") == true {
            canary = Canary(weight: value("canary-weight").flatMap { Int($0) },
                            weightTotal: value("canary-weight-total").flatMap { Int($0) } ?? 100,
                            header: value("canary-by-header"), headerValue: value("canary-by-header-value"),
                            headerPattern: value("canary-by-header-pattern"),
                            cookie: value("canary-by-cookie"))
        }
        backendProtocol = value("backend-protocol")?.uppercased()
        sslPassthrough = flag("ssl-passthrough") ?? false
    }

    /// backend-protocol values the side-by-side serving cannot speak: TLS to a backend needs a CA to
    /// verify it against (a BackendTLSPolicy after `archway migrate`), and FastCGI is not HTTP.
    public var unservedBackendProtocol: String? {
        if let services = nginxInc?.sslServices, !services.isEmpty { return "HTTPS (nginx.org/ssl-services: \(services.sorted().joined(separator: ", ")))" }
        guard let value = backendProtocol, ["HTTPS", "GRPCS", "FCGI"].contains(value) else { return nil }
        return value
    }

    /// The status code that sends a cleartext request of a TLS host to https: ingress-nginx answers
    /// 308; NGINX Ingress Controller, Cilium (Envoy's https_redirect) and APISIX (http_to_https) 301;
    /// Kong, Traefik and GCE the code they are told.
    public var httpsRedirectCode: Int {
        gce?.redirectCode ?? kong?.redirectCode ?? traefikRedirect?.code ?? ([.nginxInc, .cilium, .apisix].contains(controller) ? 301 : 308)
    }

    /// Traefik's redirectScheme middleware to https, if the Ingress has one: 301 when permanent, else 302.
    var traefikRedirect: (code: Int, port: Int?)? {
        for use in traefikMiddlewares {
            if case .redirectScheme(let scheme, let port, let permanent) = use.effect, scheme == "https" { return (permanent ? 301 : 302, port) }
        }
        return nil
    }

    /// The intent as the Ingress's controller reads it, with what only the snapshot knows: the
    /// IngressClass that names the controller, which KongPlugins decide access, and a GCE
    /// Ingress's FrontendConfig and BackendConfigs.
    public static func reading(_ ingress: Ingress, in snapshot: ResourceSnapshot) -> IngressIntent {
        var intent = IngressIntent(ingress, controller: IngressController.of(ingress, classes: snapshot.ingressClasses), snapshot: snapshot)
        if let traefik = intent.traefik {
            intent.traefikMiddlewares = TraefikMiddlewareUse.uses(ingress, annotations: traefik, snapshot: snapshot)
            for use in intent.traefikMiddlewares {
                if case .redirectHost(let from, let scheme, let host, let permanent) = use.effect {
                    intent.hostRedirect = HostRedirect(host: from, scheme: scheme, hostname: host, statusCode: permanent ? 301 : 302)
                }
            }
            if let redirect = intent.traefikRedirect {
                intent.forceSSLRedirect = true
                intent.httpsRedirectPort = redirect.port
            }
        }
        if let kong = intent.kong {
            intent.kongPlugins = KongPluginUse.uses(ingress, annotations: kong, snapshot: snapshot)
        }
        intent.accessControl = unenforcedAccess(ingress, intent: intent, snapshot: snapshot)
        return intent
    }

    /// Whether a path's backend is spoken to with gRPC (HTTP/2 with prior knowledge).
    public func speaksGRPC(_ backend: Ingress.Backend) -> Bool {
        if let services = nginxInc?.grpcServices { return backend.service.map { services.contains($0.name) } ?? false }
        return backendProtocol == "GRPC"
    }

}

extension Ingress {
    /// Hosts this Ingress terminates TLS for (a tls entry with no hosts covers every rule host, and so
    /// do a GCE Ingress's Google Cloud certificates).
    public var tlsHosts: [String] {
        var hosts: [String] = []
        for entry in tlsEntries {
            for host in entry.hosts ?? (spec.rules ?? []).compactMap(\.host) where !hosts.contains(host) {
                hosts.append(host)
            }
        }
        if gceCertificateSecret != nil {
            for host in (spec.rules ?? []).compactMap(\.host) where !hosts.contains(host) { hosts.append(host) }
        }
        return hosts
    }

    /// The tls entry's Secret for a host, if any.
    public func tlsSecret(for host: String) -> String? {
        for entry in tlsEntries where (entry.hosts ?? (spec.rules ?? []).compactMap(\.host)).contains(host) {
            if let secret = entry.secretName { return secret }
        }
        return nil
    }

    /// Rules with their host ("*" when none), keeping only those with HTTP paths.
    public var hostRules: [(host: String, paths: [Path])] {
        var result: [(String, [Path])] = []
        for rule in spec.rules ?? [] {
            let host = rule.host ?? "*"
            let paths = rule.http?.paths ?? []
            if let index = result.firstIndex(where: { $0.0 == host }) {
                result[index].1 += paths
            } else {
                result.append((host, paths))
            }
        }
        return result
    }
}

extension String {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\n" }.reversed().drop { $0 == " " || $0 == "\n" }.reversed())
    }
}

/// Parses "https://host:port/path" (a fixed redirect target) into its parts.
public struct RedirectURL: Sendable, Equatable {
    public var scheme: String?
    public var host: String?
    public var port: Int?
    public var path: String

    public init(_ url: String) {
        var rest = Substring(url)
        if let range = rest.range(of: "://") {
            scheme = String(rest[..<range.lowerBound]).lowercased()
            rest = rest[range.upperBound...]
            let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
            let authority = rest[..<authorityEnd]
            rest = rest[authorityEnd...]
            if let colon = authority.lastIndex(of: ":"), let number = Int(authority[authority.index(after: colon)...]) {
                host = String(authority[..<colon])
                port = number
            } else {
                host = String(authority)
            }
        }
        path = rest.isEmpty ? "/" : String(rest)
    }
}
