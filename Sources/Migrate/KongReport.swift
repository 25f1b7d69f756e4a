import GatewayAPI
import Translator

/// What became of every `konghq.com/*` annotation of a Kong Ingress Controller Ingress.
extension EdgeAnnotations {
    func kongVerdict(_ name: String, intent: IngressIntent, plugins: [KongPluginUse], routes: Int) -> AnnotationOutcome.Verdict {
        guard let kong = intent.kong else { return .notMapped("this Ingress is not for Kong Ingress Controller, which alone reads konghq.com annotations") }
        if name.hasPrefix("headers.") {
            return .mapped  // a header match per value on every path (a ~* value is a case-insensitive RegularExpression match)
        }
        switch name {
        case "methods":
            return .mapped  // a method match per listed method on every path
        case "strip-path":
            return .mapped  // URLRewrite ReplacePrefixMatch "/" (ReplaceFullPath for Exact paths) when "true"
        case "host-aliases":
            return .mapped  // the aliases are hostnames of every route of the Ingress
        case "protocols", "https-redirect-status-code":
            if kong.httpsOnly && kong.redirectCode == nil {
                return .partly("Kong answered cleartext requests with \(kong.httpsRedirectCode); no Gateway API rule answers with a fixed status, so the host gets no cleartext route (404); set https-redirect-status-code to 301, 302, 307 or 308 to convert it to a redirect")
            }
            return .mapped  // https only: a {route}-ssl-redirect route with the code; http only: no HTTPS listener
        case "preserve-host":
            guard !kong.preserveHost else { return .mapped }
            return .partly("URLRewrite sets Host to <service>.<namespace>.svc; Kong sent its upstream's name (<service>.<namespace>.<port>.svc under Kong Ingress Controller), so a backend that checks Host sees a different name")
        case "plugins":
            let lines = plugins.map { use -> String in
                let what = use.plugin.map { "\(use.name) (\($0))" } ?? use.name
                switch use.effect {
                case .cors: return "\(what): the HTTPRoute CORS filter"
                case .rateLimit(_, _, let dropped):
                    return "\(what): RateLimit \(ingress.metadata.name)-ratelimit per client address, answering 429 with Retry-After"
                        + (dropped.isEmpty ? "" : "; its \(dropped.joined(separator: ", ")) limits are not kept (one window per policy)")
                case .ipRestriction: return "\(what): IPAllowList \(ingress.metadata.name)-ipallowlist on the connection's address"
                case .keyAuth(let names):
                    return "\(what): APIKeyAuth \(ingress.metadata.name)-apikeyauth reading header \(names[0]); create Secret \(ingress.metadata.name)-api-keys with one key per consumer (name: key), which Kong kept in KongConsumer credentials"
                case .basicAuth:
                    return "\(what): BasicAuth \(ingress.metadata.name)-basicauth, refusing everyone until Secret \(ingress.metadata.name)-htpasswd (key auth) holds htpasswd lines for your KongConsumers (htpasswd -nbB user password)"
                case .unsupported(let why): return "\(what): not converted: \(why)"
                }
            }
            guard routes > 0 || plugins.allSatisfy({ if case .cors = $0.effect { true } else { false } }) else {
                return .notMapped("the Ingress became no HTTPRoute with backends for a policy to attach to")
            }
            let converted = plugins.filter { if case .unsupported = $0.effect { false } else { true } }.count
            if converted == 0 { return .notMapped(lines.joined(separator: "; ")) }
            return .partly(lines.joined(separator: "; "))
        case "regex-priority":
            return .notMapped("Gateway API orders rules by its own precedence (Exact, then RegularExpression, then the longest PathPrefix); Kong's regex priority has no field")
        case "path-handling":
            return .notMapped("Kong's path joining (v0/v1) has no Gateway API field; archway joins as ReplacePrefixMatch says")
        case "snis":
            return .partly("the HTTPS listeners take their hostnames from the Ingress tls section; SNI-only matching has no HTTPRoute field")
        case "request-buffering", "response-buffering":
            return .notMapped("archway streams bodies; buffering has no setting")
        case "connect-timeout", "read-timeout", "write-timeout", "retries":
            return .notMapped("set on the Service in Kong; Gateway API's HTTPRoute timeouts and retry bound the whole request, so set timeouts.request / retry once the totals are known")
        case "override":
            return .notMapped("KongIngress overrides are deprecated by Kong and not read")
        default:
            return .notMapped("no Gateway API equivalent known to archway")
        }
    }
}
