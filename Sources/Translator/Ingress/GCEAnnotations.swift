import Foundation
import GatewayAPI

/// What a GCE / GKE Ingress asks of the Google Cloud load balancer GKE builds for it, read once for
/// both readings (the side-by-side serving and `archway migrate`). GKE writes one URL map per Ingress:
/// - every path is a URL-map path rule: `/foo/*` matches `/foo/` and everything below it (not `/foo`),
///   a path without `*` only itself; pathType Prefix `/foo` is the pair `/foo` and `/foo/*` (whole
///   segments, as the Ingress spec says), Exact only itself; the longest rule that matches wins;
/// - `kubernetes.io/ingress.allow-http: "false"` leaves out the cleartext forwarding rule;
/// - `ingress.gcp.kubernetes.io/pre-shared-cert` and `networking.gke.io/managed-certificates` give the
///   HTTPS forwarding rule Google Cloud certificates (archway reads a Secret named after the first);
/// - `kubernetes.io/ingress.global-static-ip-name` / `regional-static-ip-name` reserve its address;
/// - the FrontendConfig named by `networking.gke.io/v1beta1.FrontendConfig` may redirect every
///   cleartext request to HTTPS with its code; never otherwise, TLS or not;
/// - each Service's BackendConfig (`cloud.google.com/backend-config`) sets its backend service's
///   timeout, health check and session affinity.
public struct GCEAnnotations: Sendable, Equatable {
    /// The class names GKE's controller answers to: external and internal Application Load Balancers.
    public static let classNames: Set = ["gce", "gce-internal"]
    public static let allowHTTPKey = "kubernetes.io/ingress.allow-http"
    public static let preSharedCertKey = "ingress.gcp.kubernetes.io/pre-shared-cert"
    public static let managedCertificatesKey = "networking.gke.io/managed-certificates"
    public static let staticIPKeys = ["kubernetes.io/ingress.global-static-ip-name", "kubernetes.io/ingress.regional-static-ip-name"]
    public static let frontendConfigKey = "networking.gke.io/v1beta1.FrontendConfig"

    /// One URL-map path rule: `literal` exactly, or (wildcard) every path starting with it.
    public struct PathRule: Sendable, Equatable {
        public var literal: String
        public var wildcard: Bool
    }

    /// The BackendConfig one Service port of the Ingress uses.
    public struct BackendConfigUse: Sendable, Equatable {
        public var service: String
        public var name: NamespacedName
        /// nil when the input does not have it.
        public var config: BackendConfig?
    }

    public var allowHTTP = true
    /// Google Cloud certificate names (pre-shared ones, then ManagedCertificates).
    public var certificates: [String] = []
    /// The static-IP annotation and the GCP address name it gives.
    public var staticAddress: (key: String, name: String)?
    public var frontendConfigName: NamespacedName?
    /// nil when not named or not in the input.
    public var frontendConfig: FrontendConfig?
    /// Ingress backend ("service:port") → its BackendConfig.
    public var backendConfigs: [String: BackendConfigUse] = [:]

    /// `snapshot`: where the FrontendConfig, the Services and their BackendConfigs are looked up.
    public init(_ ingress: Ingress, snapshot: ResourceSnapshot? = nil) {
        let namespace = ingress.metadata.namespace ?? "default"
        func value(_ key: String) -> String? { ingress.annotation(key)?.trimmingSpaces }
        allowHTTP = value(Self.allowHTTPKey)?.lowercased() != "false"
        certificates = Self.certificateNames(ingress)
        staticAddress = Self.staticIPKeys.lazy.compactMap { key in value(key).map { (key, $0) } }.first
        if let name = value(Self.frontendConfigKey), !name.isEmpty {
            frontendConfigName = NamespacedName(namespace, name)
            frontendConfig = snapshot?.frontendConfigs[NamespacedName(namespace, name)]
        }
        guard let snapshot else { return }
        let backends = ingress.hostRules.flatMap { $0.paths.map(\.backend) } + [ingress.spec.defaultBackend].compactMap { $0 }
        for backend in backends {
            guard let service = backend.service, let use = Self.backendConfig(service, namespace: namespace, snapshot: snapshot) else { continue }
            backendConfigs[backend.description] = use
        }
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.allowHTTP == b.allowHTTP && a.certificates == b.certificates && a.staticAddress?.key == b.staticAddress?.key
            && a.staticAddress?.name == b.staticAddress?.name && a.frontendConfigName == b.frontendConfigName
            && a.frontendConfig == b.frontendConfig && a.backendConfigs == b.backendConfigs
    }

    static func certificateNames(_ ingress: Ingress) -> [String] {
        [preSharedCertKey, managedCertificatesKey].flatMap { key in
            (ingress.annotation(key) ?? "").split(separator: ",").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
        }
    }

    /// The code the FrontendConfig redirects cleartext requests to HTTPS with; nil when it does not.
    public var redirectCode: Int? { frontendConfig?.redirectCode }

    /// The URL-map path rules one Ingress path becomes.
    public static func pathRules(_ path: Ingress.Path) -> [PathRule] {
        let value = path.path ?? "/"
        switch path.pathType {
        case .Exact:
            return [PathRule(literal: value, wildcard: false)]
        case .Prefix:
            // The Ingress spec's Prefix: "/foo" and "/foo/" both match /foo and what is below it.
            let trimmed = value.hasSuffix("/") ? String(value.dropLast()) : value
            return trimmed.isEmpty ? [PathRule(literal: "/", wildcard: true)]
                : [PathRule(literal: trimmed, wildcard: false), PathRule(literal: trimmed + "/", wildcard: true)]
        case .ImplementationSpecific:
            // GKE allows "*" only as the last character, after a "/"; anything else is a literal path.
            if value.hasSuffix("/*") { return [PathRule(literal: String(value.dropLast()), wildcard: true)] }
            return [PathRule(literal: value, wildcard: false)]
        }
    }

    /// The BackendConfig a Service names for a port: `ports` by number or name first, else `default`.
    static func backendConfig(_ backend: Ingress.Backend.ServiceBackend, namespace: String, snapshot: ResourceSnapshot) -> BackendConfigUse? {
        let key = NamespacedName(namespace, backend.name)
        guard let service = snapshot.services[key],
              let text = BackendConfig.serviceAnnotations.lazy.compactMap({ service.metadata.annotations?[$0] }).first,
              let json = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return nil }
        let port = (service.spec?.ports ?? []).first { $0.port == backend.port.number || ($0.name != nil && $0.name == backend.port.name) }
        let portKeys = [port.map { String($0.port) }, port?.name, backend.port.number.map(String.init), backend.port.name].compactMap { $0 }
        let byPort = json["ports"] as? [String: String] ?? [:]
        guard let name = portKeys.lazy.compactMap({ byPort[$0] }).first ?? json["default"] as? String else { return nil }
        let configName = NamespacedName(namespace, name)
        return BackendConfigUse(service: backend.name, name: configName, config: snapshot.backendConfigs[configName])
    }

    /// The cookie GCE's GENERATED_COOKIE affinity sets.
    public static let affinityCookie = "GCLB"

    /// For a backend whose BackendConfig asks for GENERATED_COOKIE affinity: the cookie's lifetime in
    /// seconds (nil: a session cookie); nil for any other backend.
    public func generatedCookie(_ backend: Ingress.Backend) -> Int?? {
        guard let affinity = backendConfigs[backend.description]?.config?.spec?.sessionAffinity,
              affinity.affinityType == "GENERATED_COOKIE" else { return nil }
        return .some(affinity.affinityCookieTtlSec.flatMap { $0 > 0 ? $0 : nil })
    }

    /// The backend service timeout of a path's backend, in seconds.
    public func timeoutSeconds(_ backend: Ingress.Backend) -> Int? {
        backendConfigs[backend.description]?.config?.spec?.timeoutSec
    }
}

extension Ingress {
    /// The Secret archway reads for a GCE Ingress's Google Cloud certificates (named after the first),
    /// which covers every host of its rules; nil for other Ingresses or without certificates.
    public var gceCertificateSecret: String? {
        guard IngressController.of(self) == .gce else { return nil }
        return GCEAnnotations.certificateNames(self).first
    }
}
