import GatewayAPI
import Translator
import Yams

public struct MigrationOptions: Sendable {
    /// The GatewayClass the generated Gateways use.
    public var gatewayClass: String
    /// Where Gateways go; by default the Ingresses' namespace when they share one, else "default".
    public var gatewayNamespace: String?
    /// The controller the emitted GatewayClass names: archway serves only Gateways of such a class.
    public var controllerName: String

    public init(gatewayClass: String = "archway", gatewayNamespace: String? = nil, controllerName: String = Translator.defaultControllerName) {
        self.gatewayClass = gatewayClass
        self.gatewayNamespace = gatewayNamespace
        self.controllerName = controllerName
    }
}

public struct Migration {
    /// GatewayClass, Gateway, HTTPRoute, GRPCRoute, TLSRoute, BackendTLSPolicy, archway edge policy and ReferenceGrant
    /// manifests, in that order.
    public var documents: [Node] = []
    /// Lines about the output as a whole (stderr, `note:`), beside the per-annotation report.
    public var notes: [String] = []
    /// One outcome per annotation of each Ingress.
    public var report: [AnnotationOutcome] = []
    /// What the generated routes knowingly do differently from ingress-nginx (`--verify` labels it).
    public var accepted: [AcceptedDifference] = []
}

/// networking.k8s.io/v1 Ingress → Gateway API. One Gateway per IngressClass (listener `http` on 80,
/// one HTTPS listener per TLS host on 443), one HTTPRoute per Ingress and host named
/// `{ingress}-{host}` (dots as dashes, `*.` as `wildcard-`, no host as `all-hosts`), ReferenceGrants
/// where a Gateway needs a Secret from another namespace. A canary Ingress is folded into the route
/// of the Ingress it shadows.
public enum IngressConverter {
    public static func convert(_ snapshot: ResourceSnapshot, options: MigrationOptions = MigrationOptions()) -> Migration {
        var migration = Migration()
        let ingresses = snapshot.ingresses
        let namespaces = Set(ingresses.map { $0.metadata.namespace ?? "default" })
        let gatewayNamespace = options.gatewayNamespace ?? (namespaces.count == 1 ? namespaces.first! : "default")
        let canaries = ingresses.filter { IngressIntent($0).canary != nil }
        var classes: [String: [Ingress]] = [:]
        for ingress in ingresses { classes[ingress.className ?? "ingress", default: []].append(ingress) }

        var gateways: [Node] = [], routes: [Node] = [], policies: [Node] = [], grants: [Node] = []
        for className in classes.keys.sorted() {
            let members = classes[className]!
            var gateway = GatewayPlan(name: className, namespace: gatewayNamespace)
            var policyRoutes: [NamespacedName: [String]] = [:]
            for ingress in members where IngressIntent(ingress).canary == nil {
                var plan = RoutePlan(ingress: ingress, gateway: gateway.name, gatewayNamespace: gatewayNamespace, snapshot: snapshot,
                                     neighbours: members)
                plan.build(into: &gateway, canaries: canaries.filter { $0.metadata.namespace == ingress.metadata.namespace })
                routes += plan.documents
                // Ingresses sharing a Service make the same health-check policy for it (GCE BackendConfig): once is enough.
                policies += plan.policies.filter { !policies.contains($0) }
                migration.accepted += plan.accepted
                policyRoutes[ingress.metadata.namespacedName] = plan.backendRoutes
            }
            for ingress in members {
                migration.report += report(ingress, snapshot: snapshot, policyRoutes: policyRoutes[ingress.metadata.namespacedName] ?? [],
                                           accepted: migration.accepted.filter { $0.ingress == ingress.metadata.namespacedName && $0.isAboutRewrite })
            }
            gateways.append(gateway.document(options.gatewayClass, crossNamespace: namespaces != [gatewayNamespace]))
            grants += gateway.referenceGrants()
        }
        // Without a GatewayClass naming archway's controller the Gateways are nobody's and every route
        // attaches to nothing, so the class is part of the output.
        let gatewayClass = Manifest.map([
            ("apiVersion", Manifest.str("gateway.networking.k8s.io/v1")), ("kind", Manifest.str("GatewayClass")),
            ("metadata", Manifest.metadata(name: options.gatewayClass, namespace: nil)),
            ("spec", Manifest.map([("controllerName", Manifest.str(options.controllerName))])),
        ])
        migration.notes.append("GatewayClass \(options.gatewayClass) is emitted with controllerName \(options.controllerName): archway serves "
                               + "only Gateways of a class naming it (deploy/ installs the same one; applying it again changes nothing)")
        migration.documents = [gatewayClass] + gateways + routes + policies + grants
        return migration
    }

    /// "{ingress}-{host}" with the host made a DNS label.
    static func routeName(_ ingress: Ingress, host: String) -> String {
        let slug = host == "*" ? "all-hosts" : host.replacingOccurrences(of: "*.", with: "wildcard-").replacingOccurrences(of: ".", with: "-")
        return "\(ingress.metadata.name)-\(slug)".lowercased()
    }

    static func listenerName(_ prefix: String, host: String) -> String {
        host == "*" ? prefix : "\(prefix)-" + host.replacingOccurrences(of: "*.", with: "wildcard-").replacingOccurrences(of: ".", with: "-")
    }
}

/// The Gateway one IngressClass becomes, filled in as its Ingresses are converted.
struct GatewayPlan {
    var name: String
    var namespace: String
    var annotations: [String: String] = [:]
    /// HTTPS (Terminate) listeners by host and port, with the Secret's namespace and name.
    var httpsListeners: [(host: String, port: Int, secret: NamespacedName)] = []
    var passthroughHosts: [String] = []
    /// Cleartext listeners besides `http` on 80 (NGINX Ingress Controller's listen-ports).
    var httpPorts: [Int] = []

    /// The cleartext listener on a port: `http` on 80, `http-PORT` elsewhere.
    mutating func addHTTP(port: Int) -> String {
        guard port != 80 else { return "http" }
        if !httpPorts.contains(port) { httpPorts.append(port) }
        return "http-\(port)"
    }

    mutating func addHTTPS(host: String, secret: NamespacedName, port: Int = 443) -> String {
        if !httpsListeners.contains(where: { $0.host == host && $0.port == port }) { httpsListeners.append((host, port, secret)) }
        return IngressConverter.listenerName(port == 443 ? "https" : "https-\(port)", host: host)
    }

    mutating func addPassthrough(host: String) -> String {
        if !passthroughHosts.contains(host) { passthroughHosts.append(host) }
        return IngressConverter.listenerName("tls-passthrough", host: host)
    }

    func document(_ gatewayClass: String, crossNamespace: Bool) -> Node {
        let allowed = crossNamespace ? Manifest.map([("namespaces", Manifest.map([("from", Manifest.str("All"))]))]) : nil
        var listeners = [Manifest.map([("name", Manifest.str("http")), ("protocol", Manifest.str("HTTP")), ("port", Manifest.int(80)),
                                       ("allowedRoutes", allowed)])]
        for port in httpPorts {
            listeners.append(Manifest.map([("name", Manifest.str("http-\(port)")), ("protocol", Manifest.str("HTTP")), ("port", Manifest.int(port)),
                                           ("allowedRoutes", allowed)]))
        }
        for (host, port, secret) in httpsListeners {
            let ref = Manifest.map([("kind", Manifest.str("Secret")), ("name", Manifest.str(secret.name)),
                                    ("namespace", secret.namespace == namespace ? nil : Manifest.str(secret.namespace))])
            listeners.append(Manifest.map([
                ("name", Manifest.str(IngressConverter.listenerName(port == 443 ? "https" : "https-\(port)", host: host))), ("protocol", Manifest.str("HTTPS")),
                ("port", Manifest.int(port)), ("hostname", host == "*" ? nil : Manifest.str(host)),
                ("tls", Manifest.map([("mode", Manifest.str("Terminate")), ("certificateRefs", Manifest.seq([ref]))])),
                ("allowedRoutes", allowed),
            ]))
        }
        for host in passthroughHosts {
            listeners.append(Manifest.map([
                ("name", Manifest.str(IngressConverter.listenerName("tls-passthrough", host: host))), ("protocol", Manifest.str("TLS")),
                ("port", Manifest.int(443)), ("hostname", host == "*" ? nil : Manifest.str(host)),
                ("tls", Manifest.map([("mode", Manifest.str("Passthrough"))])),
                ("allowedRoutes", Manifest.map([("namespaces", Manifest.map([("from", Manifest.str(crossNamespace ? "All" : "Same"))])),
                                                ("kinds", Manifest.seq([Manifest.map([("kind", Manifest.str("TLSRoute"))])]))])),
            ]))
        }
        return Manifest.map([
            ("apiVersion", Manifest.str("gateway.networking.k8s.io/v1")), ("kind", Manifest.str("Gateway")),
            ("metadata", Manifest.metadata(name: name, namespace: namespace, annotations: annotations)),
            ("spec", Manifest.map([("gatewayClassName", Manifest.str(gatewayClass)), ("listeners", Manifest.seq(listeners))])),
        ])
    }

    /// A Secret in another namespace needs a ReferenceGrant there naming this Gateway's namespace.
    func referenceGrants() -> [Node] {
        let foreign = Dictionary(grouping: httpsListeners.map(\.secret).filter { $0.namespace != namespace }, by: \.namespace)
        return foreign.keys.sorted().map { secretNamespace in
            let names = Set(foreign[secretNamespace]!.map(\.name)).sorted()
            return Manifest.map([
                ("apiVersion", Manifest.str("gateway.networking.k8s.io/v1beta1")), ("kind", Manifest.str("ReferenceGrant")),
                ("metadata", Manifest.metadata(name: "\(name)-\(namespace)-certificates", namespace: secretNamespace)),
                ("spec", Manifest.map([
                    ("from", Manifest.seq([Manifest.map([("group", Manifest.str("gateway.networking.k8s.io")), ("kind", Manifest.str("Gateway")),
                                                         ("namespace", Manifest.str(namespace))])])),
                    ("to", Manifest.seq(names.map { Manifest.map([("group", Manifest.str("")), ("kind", Manifest.str("Secret")), ("name", Manifest.str($0))]) })),
                ])),
            ])
        }
    }
}
