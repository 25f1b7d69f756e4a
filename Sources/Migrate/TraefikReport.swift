import GatewayAPI
import Translator

/// What became of every `traefik.ingress.kubernetes.io/*` annotation of a Traefik Ingress.
extension EdgeAnnotations {
    func traefikVerdict(_ name: String, value: String, intent: IngressIntent, routes: Int) -> AnnotationOutcome.Verdict {
        guard intent.traefik != nil else { return .notMapped("this Ingress is not for Traefik, which alone reads these annotations") }
        let namespace = ingress.metadata.namespace ?? "default"
        switch name {
        case "router.entrypoints":
            return .partly("entry points \"\(value)\" became the http (web) and https (websecure) listeners; other entry points have no listener")
        case "router.tls":
            if (ingress.spec.tls ?? []).isEmpty {
                return .partly("Traefik served these hosts with its default certificate; the HTTPS listeners name Secret \(namespace)/\(TraefikAnnotations.defaultCertificateSecret): create it with that certificate (kubectl -n \(namespace) create secret tls \(TraefikAnnotations.defaultCertificateSecret) --cert=… --key=…), until then the listeners report ResolvedRefs=False")
            }
            return .partly("the HTTPS listeners take their certificates from the Ingress tls section")
        case "router.pathmatcher":
            return .mapped  // Path → Exact, PathPrefix → PathPrefix, PathRegexp → RegularExpression for ImplementationSpecific paths
        case "router.middlewares":
            let lines = intent.traefikMiddlewares.map { use -> String in
                let what = use.type.map { "\(use.reference) (\($0))" } ?? use.reference
                let policy = "\(ingress.metadata.name)-"
                switch use.effect {
                case .stripPrefix: return "\(what): URLRewrite ReplacePrefixMatch / where the prefix is the path's (else the path is left, an accepted difference), and X-Forwarded-Prefix"
                case .addPrefix: return "\(what): URLRewrite ReplacePrefixMatch"
                case .replacePath: return "\(what): URLRewrite ReplaceFullPath (the backend no longer gets X-Replaced-Path)"
                case .replacePathRegex: return "\(what): not converted: Gateway API cannot rewrite by a regular expression (an accepted difference)"
                case .headers(_, _, let cors): return "\(what): RequestHeaderModifier / ResponseHeaderModifier" + (cors == nil ? "" : " and the CORS filter")
                case .redirectScheme(_, _, let permanent): return "\(what): {route}-ssl-redirect with \(permanent ? 301 : 302) on the cleartext listener"
                case .redirectHost(let from, let scheme, let host, let permanent):
                    return "\(what): the rules of \(from) redirect to \(scheme)://\(host) keeping the path (\(permanent ? 301 : 302))"
                case .basicAuth(let secret, _): return "\(what): BasicAuth \(policy)basicauth reading Secret \(secret) key users (htpasswd lines; a kubernetes.io/basic-auth Secret must be turned into them)"
                case .forwardAuth: return "\(what): ForwardAuth \(policy)forwardauth (the auth service gets Authorization and Cookie, where Traefik sent every header)"
                case .rateLimit: return "\(what): RateLimit \(policy)ratelimit per client address, 429 with Retry-After"
                case .ipAllowList(_, let depth): return "\(what): IPAllowList \(policy)ipallowlist" + (depth > 0 ? " with trustedProxyDepth \(depth)" : " on the connection's address")
                case .retry: return "\(what): the rule's retry (attempts − 1 retries, on connection errors)"
                case .unsupported(let why): return "\(what): not converted: \(why)"
                }
            }
            let converted = intent.traefikMiddlewares.filter { if case .unsupported = $0.effect { false } else { true } }
            if converted.isEmpty { return .notMapped(lines.joined(separator: "; ")) }
            return .partly(lines.joined(separator: "; "))
        case "router.priority":
            return .notMapped("Gateway API orders rules by its own precedence (Exact, then the longest PathPrefix); Traefik's priority has no field")
        default:
            return .notMapped("no Gateway API equivalent for this Traefik setting")
        }
    }
}
