import GatewayAPI
import Translator

/// What became of every `ingress.cilium.io/*` annotation of a Cilium Ingress.
extension EdgeAnnotations {
    func ciliumVerdict(_ name: String, value: String, intent: IngressIntent) -> AnnotationOutcome.Verdict {
        guard let cilium = intent.cilium else { return .notMapped("this Ingress is not for Cilium, which alone reads ingress.cilium.io annotations") }
        switch name {
        case "force-https":
            guard cilium.forceHTTPS != nil else {
                return .notMapped("\"\(value)\" is neither enabled/disabled nor a boolean, so Cilium's enforce-ingress-https setting decides; the routes assume it is on (the Helm chart's default) and redirect TLS hosts with 301")
            }
            if ingress.tlsHosts.isEmpty { return .notMapped("Cilium redirects only hosts with TLS, and the Ingress has no tls section") }
            // enabled: an {route}-ssl-redirect HTTPRoute (301) for each TLS host; disabled: both listeners serve the paths.
            return .mapped
        case "tls-passthrough":
            guard cilium.tlsPassthrough else { return .mapped }  // not enabled: the host is terminated as usual
            return .partly("a TLSRoute on a Passthrough listener to the backend of the host's first path (Cilium takes only \"/\" paths); archway's side-by-side serving cannot pass TLS through, so it serves nothing of this Ingress until the routes are applied")
        case "request-timeout":
            guard cilium.requestTimeoutMillis != nil else { return .notMapped("\"\(value)\" is not a positive Go duration (like 10s or 1m30s), so Cilium ignores it") }
            return .mapped  // timeouts.request on every rule (Envoy's route timeout; archway also counts the time the request body takes to arrive)
        case "loadbalancer-mode":
            return .notMapped("\(value == "dedicated" ? "a dedicated" : "the shared") Cilium load balancer: the generated Gateway is one listener set per IngressClass, served by archway's own Service; give the Gateway its own class or address if it needs a load balancer of its own")
        case "loadbalancer-class", "service-type", "service-external-traffic-policy", "insecure-node-port", "secure-node-port":
            return .notMapped("configures the Service Cilium puts in front of Envoy; archway's Service comes from its own deployment (deploy/), so set the type, class, node ports or traffic policy there")
        case "host-listener-port":
            return .notMapped("Cilium's host-network listener port; archway listens on the Gateway's listener ports (80 and 443 here)")
        default:
            return .notMapped("no Gateway API equivalent known to archway")
        }
    }
}
