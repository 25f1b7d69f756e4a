import GatewayAPI
import Translator

/// What became of every GKE annotation of an Ingress (`kubernetes.io/ingress.*`,
/// `ingress.gcp.kubernetes.io/*`, `networking.gke.io/*`, `cloud.google.com/*`, and the
/// `ingress.kubernetes.io/*` status GKE writes back), and of each field of the BackendConfigs its
/// Services name. Nothing GKE reads is left without a line.
extension IngressConverter {
    static let gcePrefixes = ["kubernetes.io/ingress.", "ingress.gcp.kubernetes.io/", "networking.gke.io/", "cloud.google.com/"]

    /// nil for annotations GKE does not read.
    static func gceVerdict(_ key: String, value: String, intent: IngressIntent, ingress: Ingress) -> AnnotationOutcome.Verdict? {
        // GKE records the load balancer it built under ingress.kubernetes.io/ (backends, url-map, forwarding-rule...).
        let status = key.hasPrefix("ingress.kubernetes.io/") && intent.gce != nil
        guard status || gcePrefixes.contains(where: key.hasPrefix) else { return nil }
        guard let gce = intent.gce else {
            return .notMapped("ignored: this Ingress is for \(intent.controller.displayName); only GKE's Ingress controller reads it")
        }
        if status { return .bookkeeping }
        let namespace = ingress.metadata.namespace ?? "default"
        switch key {
        case GCEAnnotations.allowHTTPKey:
            return .mapped  // "false": no route of the Ingress on the http listener (GKE makes no cleartext forwarding rule)
        case _ where GCEAnnotations.staticIPKeys.contains(key):
            let scope = key.contains("regional") ? "--region=REGION" : "--global"
            return .partly("the Gateway carries \(key): \(value) as an annotation, not as a NamedAddress (archway binds IP addresses and does not accept a Gateway with one); "
                           + "resolve it with `gcloud compute addresses describe \(value) \(scope) --format='value(address)'` and set the Gateway's spec.addresses to "
                           + "[{type: IPAddress, value: <that IP>}], or give it to the LoadBalancer Service in front of archway (loadBalancerIP)")
        case GCEAnnotations.preSharedCertKey, GCEAnnotations.managedCertificatesKey:
            let hosts = (ingress.spec.rules ?? []).compactMap(\.host)
            guard let secret = gce.certificates.first, !hosts.isEmpty else {
                return .notMapped("the Ingress's rules name no host, so there is no HTTPS listener hostname for the certificate; add hosts and convert again")
            }
            let source = key == GCEAnnotations.preSharedCertKey ? "the pre-shared certificate's own certificate and key"
                : "a certificate cert-manager issues in place of the ManagedCertificate (annotate the Gateway with cert-manager.io/cluster-issuer)"
            let more = gce.certificates.count > 1 ? "; only the first certificate (\(secret)) names a Secret, list the others in certificateRefs by hand if hosts need different ones" : ""
            return .partly("HTTPS listeners on 443 for \(hosts.joined(separator: ", ")) name Secret \(namespace)/\(secret) in certificateRefs, which you must fill: "
                           + "archway cannot use a Google Cloud certificate, so create that kubernetes.io/tls Secret from \(source)\(more)")
        case GCEAnnotations.frontendConfigKey:
            return frontendConfigVerdict(gce)
        case "cloud.google.com/backend-config", "beta.cloud.google.com/backend-config":
            return .notMapped("GKE reads BackendConfigs from Service annotations only; on an Ingress it has no effect")
        case "cloud.google.com/neg", "cloud.google.com/app-protocols":
            return .notMapped("a Service annotation for the Google Cloud backend service; archway sends to the EndpointSlice endpoints directly, as container-native load balancing does")
        case "networking.gke.io/internal-load-balancer-allow-global-access", "networking.gke.io/suppress-firewall-xpn-error":
            return .notMapped("a Google Cloud network setting; who reaches archway is decided by the Service in front of it")
        default:
            return .notMapped("a Google Cloud load-balancer setting with no Gateway API equivalent")
        }
    }

    private static func frontendConfigVerdict(_ gce: GCEAnnotations) -> AnnotationOutcome.Verdict {
        guard let name = gce.frontendConfigName, let config = gce.frontendConfig else {
            return .notMapped("FrontendConfig \(gce.frontendConfigName.map { "\($0)" } ?? "") is not in the input, so its HTTPS redirect is lost; "
                              + "add it (kubectl get frontendconfig -o yaml) and convert again")
        }
        var lost: [String] = []
        if let code = config.redirectCode, !gce.allowHTTP {
            lost.append("redirectToHttps (\(code)) redirects nothing: allow-http \"false\" leaves no cleartext listener")
        }
        if let policy = config.spec?.sslPolicy {
            lost.append("spec.sslPolicy \(policy) is not mapped: a Google Cloud SSL policy (minimum TLS version, cipher profile) has no Gateway API field, archway's own TLS settings apply")
        }
        // A redirect becomes an {route}-ssl-redirect HTTPRoute on the http listener sending every path to https with its code.
        return lost.isEmpty ? .mapped : .partly("FrontendConfig \(name): " + lost.joined(separator: "; "))
    }

    /// One line per field of each BackendConfig the Ingress's Services name (or one saying it is missing).
    static func gceBackendConfigOutcomes(_ ingress: Ingress, intent: IngressIntent) -> [AnnotationOutcome] {
        guard let gce = intent.gce else { return [] }
        var outcomes: [AnnotationOutcome] = []
        var seen = Set<String>()
        for use in gce.backendConfigs.values.sorted(by: { ("\($0.name)", $0.service) < ("\($1.name)", $1.service) }) {
            let key = "BackendConfig \(use.name) (Service \(use.service))"
            guard seen.insert(key).inserted else { continue }
            guard let config = use.config else {
                outcomes.append(AnnotationOutcome(ingress: ingress.metadata.namespacedName, key: key, verdict: .notMapped(
                    "named by the Service's cloud.google.com/backend-config but not in the input, so its timeout and health check are lost; add it and convert again")))
                continue
            }
            for field in config.spec?.fields ?? [] {
                outcomes.append(AnnotationOutcome(ingress: ingress.metadata.namespacedName, key: "\(key) spec.\(field)",
                                                  verdict: backendConfigVerdict(field, config: config, service: use.service)))
            }
        }
        return outcomes
    }

    private static func backendConfigVerdict(_ field: String, config: BackendConfig, service: String) -> AnnotationOutcome.Verdict {
        switch field {
        case "timeoutSec":
            return .partly("timeouts.backendRequest \(config.spec?.timeoutSec ?? 0)s on every rule to \(service) (and when archway serves the Ingress side by side); "
                           + "GCE's timeout runs until the whole response has arrived, archway's until the response starts")
        case "healthCheck":
            let check = config.spec?.healthCheck
            let ignored = [check?.type.map { "type \($0)" }, check?.port.map { "port \($0)" }].compactMap { $0 }
            return .partly("BackendTrafficPolicy \(service)-health-check checks each endpoint of \(service); fields not given take archway's defaults "
                           + "(path /, every 5s, 1s timeout, 3 failures / 2 successes) rather than GKE's"
                           + (ignored.isEmpty ? "" : "; \(ignored.joined(separator: " and ")) not converted: archway checks the port and protocol it sends traffic with")
                           + "; archway serving the Ingress side by side does not check")
        case "sessionAffinity":
            let affinity = config.spec?.sessionAffinity?.affinityType ?? "NONE"
            if affinity == "GENERATED_COOKIE" {
                return .partly("a Cookie sessionPersistence named GCLB on every rule to \(service) (and when archway serves the Ingress side by side); "
                               + "GCE's cookie values mean nothing to archway, so each client is balanced once more on its first request, then sticks")
            }
            if affinity == "NONE" { return .mapped }
            return .notMapped("\(affinity) affinity has no Gateway API form archway reads (sessionPersistence is a cookie or a header archway sets); use GENERATED_COOKIE's Cookie sessionPersistence by hand if clients must stick")
        case "cdn":
            return .notMapped("Cloud CDN caching has no Gateway API equivalent; archway does not cache")
        case "iap":
            return .notMapped("Identity-Aware Proxy is a Google Cloud service; attach archway's ForwardAuth or JWT policy (archway.dev) to the route instead")
        case "securityPolicy":
            return .notMapped("a Cloud Armor policy; archway's IPAllowList and RateLimit policies cover its address and rate rules, written by hand")
        case "connectionDraining":
            return .notMapped("archway lets in-flight requests to a removed endpoint finish on its own; the drain timeout has no field")
        case "logging":
            return .notMapped("archway writes its own access log; Cloud Logging's sampling has no equivalent")
        case "customRequestHeaders", "customResponseHeaders":
            return .notMapped("add a RequestHeaderModifier / ResponseHeaderModifier filter by hand (GCE's {client_region}-style variables have no equivalent)")
        default:
            return .notMapped("a Google Cloud backend-service setting with no Gateway API equivalent")
        }
    }
}
