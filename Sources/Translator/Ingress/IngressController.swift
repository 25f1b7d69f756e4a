import GatewayAPI

/// The Ingress controller an Ingress was written for. Each reads the same Ingress fields with its own
/// defaults (how a Prefix path matches, which redirect code it answers) and its own annotations, so
/// both readings of an Ingress (IngressLowering and `archway migrate`) ask this first.
public enum IngressController: String, Sendable, Equatable, CaseIterable {
    /// kubernetes/ingress-nginx (`nginx.ingress.kubernetes.io/*`), the default guess.
    case ingressNginx = "ingress-nginx"
    /// F5 NGINX Ingress Controller (`nginx.org/*`).
    case nginxInc = "nginx-inc"
    case traefik
    /// Kong Ingress Controller (`konghq.com/*`).
    case kong
    /// GKE's Ingress controller (ingress-gce): a Google Cloud load balancer per Ingress.
    case gce
    /// Cilium's Ingress controller (`ingress.cilium.io/*`), Envoy underneath.
    case cilium
    /// Apache APISIX Ingress Controller (`k8s.apisix.apache.org/*`).
    case apisix

    /// The IngressClass `spec.controller` values each controller registers.
    static let classControllers: [String: IngressController] = [
        "k8s.io/ingress-nginx": .ingressNginx,
        "nginx.org/ingress-controller": .nginxInc,
        "traefik.io/ingress-controller": .traefik,
        "ingress-controllers.konghq.com/kong": .kong,
        "k8s.io/ingress-gce": .gce,
        "cilium.io/ingress-controller": .cilium,
        // APISIX Ingress Controller 1.x registers the first, 2.x the second.
        "apisix.apache.org/apisix-ingress-controller": .apisix,
        "apisix.apache.org/ingress-controller": .apisix,
    ]

    /// Annotation prefixes only one controller reads.
    public var annotationPrefix: String {
        switch self {
        case .ingressNginx: "nginx.ingress.kubernetes.io/"
        case .nginxInc: "nginx.org/"
        case .traefik: "traefik.ingress.kubernetes.io/"
        case .kong: "konghq.com/"
        case .gce: "ingress.gcp.kubernetes.io/"
        case .cilium: "ingress.cilium.io/"
        case .apisix: "k8s.apisix.apache.org/"
        }
    }

    /// What the inventory prints for it.
    public var displayName: String {
        switch self {
        case .ingressNginx: "ingress-nginx (k8s.io/ingress-nginx)"
        case .nginxInc: "F5 NGINX Ingress Controller (nginx.org/ingress-controller)"
        case .traefik: "Traefik (traefik.io/ingress-controller)"
        case .kong: "Kong Ingress Controller (ingress-controllers.konghq.com/kong)"
        case .gce: "GCE / GKE Ingress (k8s.io/ingress-gce)"
        case .cilium: "Cilium Ingress (cilium.io/ingress-controller)"
        case .apisix: "APISIX Ingress Controller (apisix.apache.org/apisix-ingress-controller)"
        }
    }

    /// The controller an Ingress belongs to: its IngressClass's `spec.controller` when the class is
    /// known (`classes` from the same snapshot), else the annotations it carries (a prefix only one
    /// controller reads), else its class name, else ingress-nginx. Both nginx controllers use class
    /// "nginx", so the annotations come before the name; GKE's class names ("gce", "gce-internal",
    /// usually in the `kubernetes.io/ingress.class` annotation) name no other controller, so they come first.
    public static func of(_ ingress: Ingress, classes: [IngressClass] = []) -> IngressController {
        let className = ingress.className ?? classes.first(where: \.isDefault)?.metadata.name
        if let className, let controller = classes.first(where: { $0.metadata.name == className })?.spec.controller,
           let known = classControllers[controller] {
            return known
        }
        if let className, GCEAnnotations.classNames.contains(className) { return .gce }
        let keys = ingress.metadata.annotations?.keys.map { $0 } ?? []
        let prefixed = allCases.filter { controller in keys.contains { $0.hasPrefix(controller.annotationPrefix) } }
        if prefixed.count == 1 { return prefixed[0] }
        if className == "traefik" { return .traefik }
        if className == "kong" { return .kong }
        if className == "cilium" { return .cilium }
        if className == "apisix" { return .apisix }
        return .ingressNginx
    }
}
