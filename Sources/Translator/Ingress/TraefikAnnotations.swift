import GatewayAPI

/// What an Ingress's Traefik annotations (`traefik.ingress.kubernetes.io/*`) ask for, read once for
/// both readings. Traefik's Ingress provider makes a router per path:
/// - Exact is `Path`; Prefix and ImplementationSpecific are `PathPrefix`, which in Traefik is a
///   plain string prefix (`/v1` also matches `/v11`, traefik/traefik#11200); `router.pathmatcher`
///   picks `Path`, `PathPrefix` or `PathRegexp` for ImplementationSpecific paths;
/// - `router.entrypoints` limits the router to `web` (cleartext) or `websecure` (TLS);
/// - `router.tls: "true"` makes it a TLS router; without a tls section it is served with Traefik's
///   default certificate, which archway expects in Secret `traefik-default-cert` of the namespace;
/// - `router.middlewares` names Middleware objects (`NAMESPACE-NAME@kubernetescrd`), applied in order
///   (TraefikMiddlewares reads them).
public struct TraefikAnnotations: Sendable, Equatable {
    public static let prefix = IngressController.traefik.annotationPrefix
    /// Where archway looks for the certificate Traefik's default TLS store served.
    public static let defaultCertificateSecret = "traefik-default-cert"

    public var entrypoints: [String]?
    public var routerTLS = false
    public var middlewares: [String] = []
    /// `Path`, `PathPrefix` or `PathRegexp`, for ImplementationSpecific paths.
    public var pathMatcher = "PathPrefix"

    public init(_ ingress: Ingress) {
        func value(_ key: String) -> String? { ingress.annotation(Self.prefix + key)?.trimmingSpaces }
        func list(_ key: String) -> [String]? {
            value(key).map { $0.split(separator: ",").map { String($0).trimmingSpaces }.filter { !$0.isEmpty } }
        }
        entrypoints = list("router.entrypoints")
        routerTLS = value("router.tls")?.lowercased() == "true"
        middlewares = list("router.middlewares") ?? []
        pathMatcher = value("router.pathmatcher") ?? "PathPrefix"
    }

    /// Whether the router is on the cleartext (`web`) entry point.
    public var servesCleartext: Bool { entrypoints.map { $0.contains("web") } ?? true }
    /// Whether the router is on the TLS (`websecure`) entry point.
    public var servesTLS: Bool { entrypoints.map { $0.contains("websecure") } ?? true }
}

extension Ingress {
    /// The tls entries as its controller reads them: a GCE Ingress's Google Cloud certificates cover
    /// every rule host (from the Secret GCEAnnotations names), and a Traefik Ingress with
    /// `router.tls: "true"` and no tls section is served for every host with Traefik's default certificate.
    public var tlsEntries: [Ingress.TLS] {
        var entries = spec.tls ?? []
        if let gce = gceCertificateSecret { entries.append(Ingress.TLS(hosts: nil, secretName: gce)) }
        if entries.isEmpty, IngressController.of(self) == .traefik, annotation(TraefikAnnotations.prefix + "router.tls")?.lowercased() == "true" {
            return [Ingress.TLS(hosts: nil, secretName: TraefikAnnotations.defaultCertificateSecret)]
        }
        return entries
    }
}
