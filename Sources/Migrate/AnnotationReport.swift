import GatewayAPI
import Translator

/// What became of one annotation of one Ingress: the stderr line of `archway migrate`.
public struct AnnotationOutcome: Sendable, Equatable, CustomStringConvertible {
    public enum Verdict: Sendable, Equatable {
        case mapped
        case partly(String)
        case notMapped(String)
        /// Nothing to convert: kubectl's, Helm's or Argo CD's record of the object, not routing.
        case bookkeeping

        /// What the inventory says of an annotation, from the same verdicts `migrate` prints.
        var support: String {
            switch self {
            case .mapped: "convertible"
            case .partly: "partly"
            case .notMapped: "not convertible"
            case .bookkeeping: "nothing to convert"
            }
        }
        /// Worst first, for an annotation whose uses convert differently.
        var rank: Int {
            switch self {
            case .bookkeeping: 0
            case .mapped: 1
            case .partly: 2
            case .notMapped: 3
            }
        }
    }
    public var ingress: NamespacedName
    public var key: String
    public var verdict: Verdict

    public var description: String {
        let text = switch verdict {
        case .mapped: "mapped"
        case .partly(let lost): "partly mapped: \(lost)"
        case .notMapped(let why): "not mapped: \(why)"
        case .bookkeeping: "mapped: nothing to convert (bookkeeping by kubectl, Helm, Argo CD, Flux or the Ingress controller itself)"
        }
        return "Ingress \(ingress): \(key): \(text)"
    }
}

/// How each known annotation is treated, for the migration report and the inventory.
enum AnnotationCatalog {

    static let nginx = IngressIntent.nginx
    static let traefik = "traefik.ingress.kubernetes.io/"

    /// Annotations that record who applied the object (kubectl, Helm, Argo CD, Flux) rather than how
    /// to route it: there is nothing to convert, and nothing lost.
    static func isBookkeeping(_ key: String) -> Bool {
        key == "kubectl.kubernetes.io/last-applied-configuration" || key.hasPrefix("meta.helm.sh/")
            || key.hasPrefix("argocd.argoproj.io/") || key.hasPrefix("kustomize.toolkit.fluxcd.io/")
            || key == "deployment.kubernetes.io/revision"
    }
}

extension IngressConverter {
    /// Every annotation of an Ingress with what the conversion did with it.
    /// `policyRoutes`: the HTTPRoutes the Ingress's edge policies attach to.
    /// `accepted`: what the conversion of this Ingress's paths knowingly loses.
    /// `snapshot`: the input, for the IngressClasses, KongPlugins and a GCE Ingress's FrontendConfig and BackendConfigs.
    static func report(_ ingress: Ingress, snapshot: ResourceSnapshot, policyRoutes: [String], accepted: [AcceptedDifference] = []) -> [AnnotationOutcome] {
        let intent = IngressIntent.reading(ingress, in: snapshot)
        let name = ingress.metadata.namespacedName
        return (ingress.metadata.annotations ?? [:]).keys.sorted().map { key in
            AnnotationOutcome(ingress: name, key: key, verdict: verdict(key, value: ingress.annotation(key) ?? "", intent: intent, ingress: ingress,
                                                                        policyRoutes: policyRoutes, accepted: accepted))
        } + gceBackendConfigOutcomes(ingress, intent: intent)
    }

    private static func verdict(_ key: String, value: String, intent: IngressIntent, ingress: Ingress, policyRoutes: [String],
                                accepted: [AcceptedDifference]) -> AnnotationOutcome.Verdict {
        let nginx = AnnotationCatalog.nginx, traefik = AnnotationCatalog.traefik
        if AnnotationCatalog.isBookkeeping(key) { return .bookkeeping }
        if key == "kubernetes.io/ingress.class" { return .mapped }
        if key == "cert-manager.io/cluster-issuer" || key == "cert-manager.io/issuer" { return .mapped }
        if key.hasPrefix("cert-manager.io/") { return .partly("copied nowhere; set it on the Gateway if cert-manager needs it") }
        if key.hasPrefix(traefik) {
            return EdgeAnnotations(ingress: ingress, controller: intent.controller)
                .traefikVerdict(String(key.dropFirst(traefik.count)), value: value, intent: intent, routes: policyRoutes.count)
        }
        if let outcome = gceVerdict(key, value: value, intent: intent, ingress: ingress) { return outcome }
        if key.hasPrefix(KongAnnotations.prefix) {
            return EdgeAnnotations(ingress: ingress, controller: intent.controller)
                .kongVerdict(String(key.dropFirst(KongAnnotations.prefix.count)), intent: intent, plugins: intent.kongPlugins, routes: policyRoutes.count)
        }
        if key.hasPrefix("nginx.com/") || key.hasPrefix("appprotect.f5.com/") || key.hasPrefix("appprotectdos.f5.com/") {
            return .notMapped("NGINX Plus JWT, Policy resources and App Protect are not converted; archway's JWTAuth policy can be attached to the route by hand (served side by side, the Ingress is refused until then)")
        }
        if key.hasPrefix(NginxIncAnnotations.prefix) {
            return EdgeAnnotations(ingress: ingress, controller: intent.controller)
                .nginxIncVerdict(String(key.dropFirst(NginxIncAnnotations.prefix.count)), intent: intent, routes: policyRoutes.count, accepted: accepted)
        }
        if key.hasPrefix(CiliumAnnotations.prefix) {
            return EdgeAnnotations(ingress: ingress, controller: intent.controller).ciliumVerdict(String(key.dropFirst(CiliumAnnotations.prefix.count)), value: value, intent: intent)
        }
        if key.hasPrefix(APISIXAnnotations.prefix) {
            return EdgeAnnotations(ingress: ingress, controller: intent.controller)
                .apisixVerdict(String(key.dropFirst(APISIXAnnotations.prefix.count)), value: value, intent: intent, routes: policyRoutes.count, accepted: accepted)
        }
        guard key.hasPrefix(nginx) else { return .notMapped("unknown annotation, not read by archway") }
        if intent.controller != .ingressNginx {
            return .notMapped("ignored: this Ingress is for \(intent.controller.displayName), which does not read ingress-nginx annotations")
        }
        let name = String(key.dropFirst(nginx.count))
        if name.hasSuffix("snippet") {
            return .notMapped("snippets are raw nginx configuration; rewrite what it does as route filters by hand")
        }
        let grpc = intent.backendProtocol == "GRPC" || intent.backendProtocol == "GRPCS"
        if let outcome = EdgeAnnotations(ingress: ingress, controller: intent.controller).verdict(name, routes: policyRoutes.count, grpc: grpc, canary: intent.canary != nil) {
            return outcome
        }
        switch name {
        case "ssl-redirect", "force-ssl-redirect":
            return .mapped  // an {route}-ssl-redirect HTTPRoute on the http listener (308)
        case "permanent-redirect" where ingress.annotation(nginx + "temporal-redirect") != nil,
             "permanent-redirect-code" where ingress.annotation(nginx + "temporal-redirect") != nil:
            return .notMapped("ignored: temporal-redirect is set too, and ingress-nginx reads it first")
        case "from-to-www-redirect", "permanent-redirect", "permanent-redirect-code", "temporal-redirect", "app-root",
             "use-regex", "upstream-vhost", "x-forwarded-prefix",
             "canary", "canary-weight", "canary-weight-total", "canary-by-header", "canary-by-header-value", "temporal-redirect-code":
            return .mapped
        case "canary-by-header-pattern":
            if ingress.annotation(nginx + "canary-by-header-value") != nil { return .notMapped("ignored: canary-by-header-value is set, and ingress-nginx then ignores the pattern") }
            if ingress.annotation(nginx + "canary-by-header") == nil { return .notMapped("has no effect without canary-by-header") }
            return .mapped  // a RegularExpression header match (".*(?:PATTERN).*": nginx searches the value), and "always"/"never" no longer mean anything
        case "canary-by-cookie":
            return .mapped  // a RegularExpression match on the Cookie header, for "always" and "never"
        case "ssl-passthrough":
            return .partly("a TLSRoute on a Passthrough listener; plain HTTP on port 80 still reaches the backend through an HTTPRoute named {route}-http, as ingress-nginx does — delete it if that was never wanted")
        case "rewrite-target":
            let lost = accepted.map { "\($0.path): \($0.why)" }
            if lost.isEmpty {
                return .mapped  // case-insensitive RegularExpression matches in nginx's order, with ReplaceFullPath or ReplacePrefixMatch
            }
            return .partly(lost.joined(separator: "; "))
        case "backend-protocol":
            switch intent.backendProtocol ?? "" {
            case "GRPC": return .mapped
            case "GRPCS", "HTTPS": return .partly("BackendTLSPolicy trusts the system CAs; point caCertificateRefs at your CA ConfigMap")
            case "HTTP": return .mapped
            default: return .notMapped("backend protocol \(value) has no Gateway API equivalent")
            }
        case "proxy-ssl-name":
            return .mapped
        case "proxy-ssl-secret", "proxy-ssl-verify":
            return .partly("the BackendTLSPolicy verifies against system CAs; a CA bundle must be a ConfigMap (caCertificateRefs), client certificates are not supported")
        case "proxy-connect-timeout", "proxy-read-timeout", "proxy-send-timeout":
            return .notMapped("nginx's timeouts bound each connect/read/send, Gateway API's bound the whole request; set HTTPRoute timeouts.request / backendRequest once the total is known")
        case "enable-cors", "cors-allow-origin", "cors-allow-methods", "cors-allow-headers", "cors-allow-credentials",
             "cors-expose-headers", "cors-max-age":
            // archway answers the preflight itself; ingress-nginx did too, so nothing the browser sees changes.
            return EdgeAnnotations(ingress: ingress, controller: intent.controller).corsFilter != nil ? .mapped : .notMapped("has no effect without enable-cors: \"true\"")
        case "affinity", "session-cookie-name", "session-cookie-max-age", "session-cookie-expires":
            return EdgeAnnotations(ingress: ingress, controller: intent.controller).sessionPersistence != nil
                ? .partly("a Cookie sessionPersistence on each rule; the cookie keeps its name, but ingress-nginx's values mean nothing to archway, so each client is balanced once more on its first request and sticks from then on")
                : .notMapped("has no effect without affinity: cookie")
        case "affinity-mode", "session-cookie-path", "session-cookie-samesite", "session-cookie-secure", "session-cookie-change-on-failure":
            return .notMapped("sessionPersistence has no equivalent for this cookie setting; archway's cookie is HttpOnly and SameSite=Lax, Secure on HTTPS, its Path the rule's path, and a session moves only when its endpoint goes or a retry lands elsewhere")
        default:
            return .notMapped("no Gateway API equivalent known to archway")
        }
    }
}
