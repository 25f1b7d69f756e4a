import GatewayAPI
import Translator
import Yams

/// A GCE Ingress's paths, addresses and BackendConfigs as Gateway API and archway resources (what
/// the Google Cloud load balancer does with them is in GCEAnnotations).
extension PathConversion {
    /// One path of a GCE Ingress. `exactPaths`: the paths of the same Ingress and host that become
    /// Exact matches (GKE builds one URL map per Ingress, so no other Ingress shares its rules).
    static func gce(_ path: Ingress.Path, exactPaths: Set<String>) -> PathConversion {
        let value = path.path ?? "/"
        switch path.pathType {
        case .Exact:
            return PathConversion(matches: [.exact(value)])
        case .Prefix:
            // GKE's pair "/foo" + "/foo/*" is exactly what PathPrefix means.
            return PathConversion(matches: [.prefix(value)])
        case .ImplementationSpecific:
            guard let rule = GCEAnnotations.pathRules(path).first, rule.wildcard else { return PathConversion(matches: [.exact(value)]) }
            if rule.literal == "/" { return PathConversion(matches: [.prefix("/")]) }
            let prefix = String(rule.literal.dropLast())
            // An Exact rule for the bare path outranks the PathPrefix, so it keeps /foo where GCE sends it.
            if exactPaths.contains(prefix) { return PathConversion(matches: [.prefix(prefix)]) }
            return PathConversion(matches: [.prefix(prefix)], accepted: [(
                .prefixWithoutSlash(prefix),
                "GCE's \(value) matches \(rule.literal) and everything below it but not \(prefix) itself, which the load balancer sends to the Ingress's other paths or its default backend; PathPrefix \(prefix) (the portable form) matches \(prefix) too. Add an Exact \(prefix) rule if that path must go elsewhere")])
        }
    }
}

extension GCEAnnotations {
    /// The paths of one host whose conversion is an Exact match.
    static func exactPaths(_ paths: [Ingress.Path]) -> Set<String> {
        Set(paths.compactMap { path in
            let rules = pathRules(path)
            return rules.count == 1 && !rules[0].wildcard ? rules[0].literal : nil
        })
    }

    /// A rule's `timeouts` for its backend's BackendConfig `timeoutSec`.
    func timeoutsNode(_ backend: Ingress.Backend) -> Node? {
        timeoutSeconds(backend).map { Manifest.map([("backendRequest", Manifest.str("\($0)s"))]) }
    }

    /// A rule's Cookie `sessionPersistence` for GENERATED_COOKIE affinity, with GCE's cookie name.
    func sessionPersistenceNode(_ backend: Ingress.Backend) -> Node? {
        generatedCookie(backend).map { ttl in
            Manifest.map([
                ("sessionName", Manifest.str(GCEAnnotations.affinityCookie)), ("type", Manifest.str("Cookie")),
                ("absoluteTimeout", ttl.map { Manifest.str("\($0)s") }),
                ("cookieConfig", Manifest.map([("lifetimeType", Manifest.str(ttl == nil ? "Session" : "Permanent"))])),
            ])
        }
    }

    /// An archway BackendTrafficPolicy per Service whose BackendConfig has a healthCheck.
    func healthCheckPolicies(namespace: String) -> [Node] {
        var done = Set<String>()
        return backendConfigs.keys.sorted().compactMap { key in
            guard let use = backendConfigs[key], let check = use.config?.spec?.healthCheck, done.insert(use.service).inserted else { return nil }
            return Manifest.map([
                ("apiVersion", Manifest.str("archway.dev/v1alpha1")), ("kind", Manifest.str("BackendTrafficPolicy")),
                ("metadata", Manifest.metadata(name: "\(use.service)-health-check", namespace: namespace)),
                ("spec", Manifest.map([
                    ("targetRefs", Manifest.seq([Manifest.map([("group", Manifest.str("")), ("kind", Manifest.str("Service")), ("name", Manifest.str(use.service))])])),
                    ("healthCheck", Manifest.map([
                        ("path", check.requestPath.map(Manifest.str)),
                        ("interval", check.checkIntervalSec.map { Manifest.str("\($0)s") }),
                        ("timeout", check.timeoutSec.map { Manifest.str("\($0)s") }),
                        ("unhealthyThreshold", check.unhealthyThreshold.map(Manifest.int)),
                        ("healthyThreshold", check.healthyThreshold.map(Manifest.int)),
                    ])),
                ])),
            ])
        }
    }
}

extension GatewayPlan {
    /// archway binds IP addresses and refuses a Gateway whose spec.addresses has a NamedAddress, so
    /// the GCP address name rides on the Gateway as the same annotation, for the user to resolve to
    /// its IP (the report says how) rather than making the Gateway unservable.
    mutating func keepStaticAddress(of gce: GCEAnnotations) {
        if let (key, name) = gce.staticAddress { annotations[key] = name }
    }
}
