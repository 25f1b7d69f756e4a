import GatewayAPI
import Translator
import Yams

/// F5 NGINX Ingress Controller's access and limit annotations as archway policies, and what became
/// of every `nginx.org/*` annotation.
extension EdgeAnnotations {
    private func nginxInc(_ name: String) -> String? {
        ingress.annotation(NginxIncAnnotations.prefix + name)?.trimmingCharacters(in: .whitespaces)
    }

    /// `limit-req-rate: 10r/s` (or r/m) per client address, `limit-req-burst` as the burst.
    var nginxIncRateLimit: Made? {
        guard let rate = nginxInc("limit-req-rate"), let (requests, unit) = Self.requestRate(rate),
              (nginxInc("limit-req-key") ?? "${binary_remote_addr}") == "${binary_remote_addr}" else { return nil }
        let burst = nginxInc("limit-req-burst").flatMap { Int($0) } ?? 0
        return Self.rateLimitSpec(requests: requests, unit: unit, burst: max(requests, requests + burst))
    }

    /// "10r/s" → (10, Second); "600r/m" → (600, Minute).
    static func requestRate(_ text: String) -> (Int, String)? {
        let unit = text.hasSuffix("r/s") ? "Second" : text.hasSuffix("r/m") ? "Minute" : nil
        guard let unit, let number = Int(text.dropLast(3)), number > 0 else { return nil }
        return (number, unit)
    }

    var nginxIncBodySize: Made? {
        nginxInc("client-max-body-size").flatMap(Self.nginxSize).map { ("BodySize", [("maxRequestBody", Manifest.str($0))]) }
    }

    /// `basic-auth-secret`: a Secret of type nginx.org/htpasswd, its lines under the key `htpasswd`.
    var nginxIncBasicAuth: Made? {
        guard let secret = nginxInc("basic-auth-secret"), !secret.contains("/") else { return nil }
        return ("BasicAuth", [("secretRef", Manifest.map([("name", Manifest.str(secret)), ("key", Manifest.str("htpasswd"))])),
                              ("realm", nginxInc("basic-auth-realm").map(Manifest.str))])
    }

    /// What became of one `nginx.org/` annotation (`name` without the prefix).
    func nginxIncVerdict(_ name: String, intent: IngressIntent, routes: Int, accepted: [AcceptedDifference]) -> AnnotationOutcome.Verdict {
        guard let annotations = intent.nginxInc else { return .notMapped("this Ingress is not for NGINX Ingress Controller, which alone reads nginx.org annotations") }
        let policy = "\(ingress.metadata.name)-"
        // Hosts whose paths all go to gRPC Services became GRPCRoutes, which archway's policies cannot target.
        let grpcHosts = annotations.grpcServices.isEmpty ? [] : ingress.hostRules.filter { $0.paths.allSatisfy { intent.speaksGRPC($0.backend) } }.map(\.host)
        let grpcLoss = grpcHosts.isEmpty ? nil : "not on \(grpcHosts.joined(separator: ", ")), whose GRPCRoute no archway policy can target: attach the policy to the Gateway listener for it"
        switch name {
        case "path-regex":
            if let unknown = annotations.unknownPathRegex {
                return .notMapped("\"\(unknown)\" is not case_sensitive, case_insensitive or exact, so NGINX Ingress Controller keeps plain prefix locations, and so do the routes")
            }
            return annotations.pathRegex == .exact ? .mapped
                : .partly("RegularExpression path matches (implementation-specific in Gateway API: archway and most implementations support them); where a regex and a prefix path of one host both match, nginx takes the regex, archway too, but between two regexes archway tries the longer first where nginx tries them in the order written")
        case "rewrites":
            let lost = accepted.filter { $0.kind == .pathNotRewritten }.map { "\($0.path): \($0.why)" }
            return lost.isEmpty ? .mapped : .partly(lost.joined(separator: "; "))
        case "ssl-redirect":
            return .mapped  // an {route}-ssl-redirect HTTPRoute on the cleartext listener (301), as NGINX does for TLS hosts unless "false"
        case "redirect-to-https":
            return .mapped  // a rule matching X-Forwarded-Proto: http first on each path, redirecting with 301
        case "hsts", "hsts-max-age", "hsts-include-subdomains":
            guard annotations.hsts != nil else { return .notMapped("has no effect without hsts: \"true\"") }
            if ingress.tlsHosts.isEmpty { return .notMapped("NGINX sends HSTS on HTTPS only, and the Ingress has no tls section") }
            return .mapped  // a ResponseHeaderModifier on the routes of the HTTPS listeners (with ssl-redirect "false", a separate {route}-http serves cleartext without it)
        case "hsts-behind-proxy":
            return .notMapped("archway cannot send Strict-Transport-Security depending on X-Forwarded-Proto; the header goes on the HTTPS listener's responses")
        case "proxy-set-headers":
            return .mapped  // a RequestHeaderModifier sets the valued headers; names without a value are passed as the client sent them, as archway does
        case "proxy-hide-headers":
            return .mapped  // a ResponseHeaderModifier removes them
        case "proxy-pass-headers":
            return .mapped  // nginx hides Date, Server, X-Pad and X-Accel-* unless passed; archway passes every backend header
        case "grpc-services":
            if !annotations.grpcServices.isEmpty, routes > 0 {
                return .partly("hosts whose paths all go to gRPC Services became GRPCRoutes; a host that mixes gRPC and HTTP Services keeps one HTTPRoute, so give the gRPC Service's port appProtocol: kubernetes.io/h2c for archway to speak HTTP/2 to it")
            }
            return .mapped
        case "ssl-services":
            return .partly("a BackendTLSPolicy per Service trusting the system CAs with the Service's DNS name; NGINX did not verify the backend's certificate (proxy_ssl_verify off), Gateway API always does, so point caCertificateRefs at your CA ConfigMap if the backend's certificate is not publicly trusted")
        case "websocket-services":
            return .mapped  // archway passes Upgrade: websocket on every route
        case "listen-ports", "listen-ports-ssl":
            return .mapped  // listeners http-PORT / https-PORT-host on the Gateway, the routes attached to them instead of 80 / 443
        case "basic-auth-secret", "basic-auth-realm":
            guard nginxIncBasicAuth != nil, routes > 0 else { return .notMapped("basic-auth-secret must name a Secret in the Ingress's namespace, and the Ingress must become an HTTPRoute with backends") }
            if let grpcLoss { return .partly("BasicAuth \(policy)basicauth on the HTTPRoutes, " + grpcLoss) }
            return .mapped  // BasicAuth {ingress}-basicauth reading the Secret's htpasswd key (every htpasswd format nginx accepts)
        case "limit-req-rate", "limit-req-burst", "limit-req-key":
            guard nginxIncRateLimit != nil, routes > 0 else {
                return .notMapped("only a rate like 10r/s or 600r/m keyed by ${binary_remote_addr} (the client address) has an archway equivalent")
            }
            return .partly("RateLimit \(policy)ratelimit per client address (burst = rate + limit-req-burst); archway answers 429 with Retry-After"
                           + (grpcLoss.map { "; " + $0 } ?? ""))
        case "limit-req-zone-size", "limit-req-delay", "limit-req-no-delay", "limit-req-dry-run", "limit-req-log-level", "limit-req-reject-code", "limit-req-scale":
            return .notMapped("archway's RateLimit has no equivalent for this nginx limit_req setting")
        case "client-max-body-size":
            guard nginxIncBodySize != nil else { return .mapped }
            return .partly("BodySize \(policy)bodysize (413 above \(nginxInc(name) ?? "")); NGINX's default was 1m, archway has no limit where no policy says so")
        case "proxy-connect-timeout", "proxy-read-timeout", "proxy-send-timeout":
            return .notMapped("nginx's timeouts bound each connect/read/send, Gateway API's bound the whole request; set HTTPRoute timeouts.request / backendRequest once the total is known")
        case "server-snippets", "location-snippets":
            return .notMapped("snippets are raw nginx configuration; rewrite what it does as route filters by hand")
        case "mergeable-ingress-type":
            return .partly("master and minion Ingresses become routes of the same host; each minion's paths keep their own annotations, and annotations NGINX copies from the master to its minions are not copied")
        case "lb-method", "max-fails", "max-conns", "fail-timeout", "keepalive", "upstream-zone-size", "use-cluster-ip", "slow-start":
            return .notMapped("load-balancing and upstream settings have no Gateway API field; archway balances round-robin over the EndpointSlice endpoints and ejects failing ones on its own")
        case "proxy-buffering", "proxy-buffers", "proxy-buffer-size", "proxy-max-temp-file-size", "client-body-buffer-size", "server-tokens":
            return .notMapped("nginx buffering and server settings mean nothing to archway, which streams bodies")
        case "jwt-key", "jwt-realm", "jwt-token", "jwt-login-url", "policies":
            return .notMapped("NGINX Plus JWT and Policy resources are not converted; archway's JWT policy (archway.dev) can be attached to the route by hand")
        case "sticky-cookie-services", "health-checks", "health-checks-mandatory", "health-checks-mandatory-queue":
            return .notMapped("an NGINX Plus feature with no Gateway API equivalent read by this conversion")
        default:
            if name.hasPrefix("app-protect") { return .notMapped("NGINX App Protect (WAF/DoS) has no archway equivalent") }
            return .notMapped("no Gateway API equivalent known to archway")
        }
    }
}
