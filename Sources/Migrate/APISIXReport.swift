import GatewayAPI
import Translator

/// What became of every `k8s.apisix.apache.org/*` annotation of an APISIX Ingress Controller Ingress.
extension EdgeAnnotations {
    func apisixVerdict(_ name: String, value: String, intent: IngressIntent, routes: Int, accepted: [AcceptedDifference]) -> AnnotationOutcome.Verdict {
        guard let apisix = intent.apisix else { return .notMapped("this Ingress is not for APISIX Ingress Controller, which alone reads k8s.apisix.apache.org annotations") }
        let policy = "\(ingress.metadata.name)-"
        switch name {
        case "http-to-https":
            return apisix.httpToHTTPS ? .mapped : .notMapped("only \"true\" turns it on")  // an {route}-ssl-redirect HTTPRoute answering every cleartext request with 301
        case "http-redirect", "http-redirect-code":
            if apisix.httpToHTTPS { return .notMapped("ignored: http-to-https is set, and APISIX then redirects to https only") }
            guard apisix.redirect != nil else { return .notMapped("has no effect without http-redirect") }
            return .mapped  // a RequestRedirect on every path with the code (301 unless 301 to 308)
        case "rewrite-target":
            return .mapped  // URLRewrite ReplaceFullPath on every path
        case "rewrite-target-regex", "rewrite-target-regex-template":
            if apisix.rewriteTarget != nil { return .notMapped("ignored: rewrite-target is set, and APISIX's proxy-rewrite takes it first") }
            guard apisix.regexRewrite != nil else { return .notMapped("rewrite-target-regex and rewrite-target-regex-template only work together") }
            let lost = accepted.filter { $0.kind == .pathNotRewritten }.map { "\($0.path): \($0.why)" }
            return lost.isEmpty ? .mapped : .partly(lost.joined(separator: "; "))
        case "use-regex":
            return apisix.useRegex
                ? .partly("ImplementationSpecific paths became RegularExpression matches (implementation-specific in Gateway API: archway and most implementations support them) that allow anything around the regex, since APISIX searches it in the path; Gateway API tries them before every PathPrefix, where APISIX tries the longer URIs first")
                : .mapped
        case "http-allow-methods", "http-block-methods":
            if name == "http-block-methods" && !apisix.allowMethods.isEmpty { return .notMapped("ignored: http-allow-methods is set, and APISIX then reads only the allow list") }
            let matched = (apisix.methods ?? []).joined(separator: ", ")
            return .partly("a method match per allowed method (\(matched)); APISIX answered the others with 405, archway (served side by side or through the routes) with 404 as no rule matches"
                           + (name == "http-block-methods" ? ", and a method outside Gateway API's nine is refused where APISIX let it through" : ""))
        case "enable-cors", "cors-allow-origin", "cors-allow-headers", "cors-allow-methods":
            guard apisix.cors != nil else { return .notMapped("has no effect without enable-cors: \"true\"") }
            return .mapped  // the HTTPRoute CORS filter with APISIX's defaults ("*", no credentials, max age 5 s)
        case "allowlist-source-range", "blocklist-source-range":
            guard routes > 0 else { return .notMapped("the Ingress became no HTTPRoute with backends for a policy to attach to") }
            return .partly("IPAllowList \(policy)ipallowlist on the connection's address (archway refuses with 403, as APISIX's ip-restriction does); if clients reach archway through a load balancer that adds X-Forwarded-For, set trustedProxyDepth")
        case "auth-type":
            switch value {
            case "basicAuth":
                return .notMapped("APISIX checks the credentials of ApisixConsumers (basicAuth), which archway does not read; attach a BasicAuth (archway.dev) to the routes with a Secret of htpasswd lines for those users (htpasswd -nbB user password)")
            case "keyAuth":
                return .notMapped("APISIX checks the keys of ApisixConsumers (keyAuth, header apikey), which archway does not read; attach an APIKeyAuth (archway.dev) reading header apikey, with a Secret holding one key per consumer")
            default:
                return .notMapped("APISIX supports keyAuth and basicAuth; \"\(value)\" has no archway equivalent")
            }
        case "enable-websocket":
            return .mapped  // archway passes Upgrade: websocket on every route
        case "auth-uri", "auth-ssl-verify", "auth-request-headers", "auth-upstream-headers", "auth-client-headers":
            return .notMapped("APISIX's forward-auth is not converted; attach a ForwardAuth (archway.dev) to the routes with the same URL and headers")
        case "upstream-connect-timeout", "upstream-read-timeout", "upstream-send-timeout", "upstream-retries":
            return .notMapped("APISIX's timeouts and retries bound each connect/read/send and try, Gateway API's the whole request; set HTTPRoute timeouts / retry once the totals are known")
        case "upstream-scheme":
            return .notMapped("speaking \(value) to the Service needs a BackendTLSPolicy (https, grpcs) or appProtocol kubernetes.io/h2c (grpc) on its port; not converted")
        case "plugin-config-name":
            return .notMapped("ApisixPluginConfig plugins are not read; recreate each as an HTTPRoute filter or an archway policy (served side by side, the Ingress is refused with 500 until then, as its plugins may decide access)")
        case "svc-namespace":
            return .notMapped("a backendRef to another namespace needs a ReferenceGrant there; the routes name the Service in the Ingress's namespace")
        default:
            return .notMapped("no Gateway API equivalent known to archway")
        }
    }
}
