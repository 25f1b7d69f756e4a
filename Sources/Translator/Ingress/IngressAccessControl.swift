import GatewayAPI

/// What would decide who gets in, were the Ingress served by the controller it names — and what the
/// side-by-side serving does not enforce (it converts none of these; `archway migrate` does). An
/// Ingress with any of them is refused with 500 rather than served open, so this fails closed:
/// whatever could decide access and is not known harmless counts, whichever controller's annotation
/// it is (an Ingress in the middle of a migration often carries two controllers' annotations).
extension IngressIntent {
    /// Kong plugins known not to decide access; any other plugin (or one missing from the input) does.
    static let harmlessKongPlugins: Set<String> = [
        "cors", "rate-limiting", "rate-limiting-advanced", "response-ratelimiting", "request-transformer", "response-transformer",
        "correlation-id", "prometheus", "opentelemetry", "zipkin", "datadog", "statsd", "file-log", "http-log", "tcp-log", "udp-log",
        "syslog", "loggly", "proxy-cache", "request-size-limiting", "session", "grpc-gateway", "grpc-web", "aws-lambda",
    ]
    static let nginxIncAccessKeys = ["nginx.org/basic-auth-secret", "nginx.org/policies", "nginx.com/jwt-key", "nginx.com/policies"]
    /// Whether raw nginx configuration holds a directive that decides access (allow, deny, auth_*, satisfy).
    static func decidesAccess(_ snippet: String) -> Bool {
        snippet.contains(#/\b(allow|deny|auth_[a-z_]+|satisfy)\b/#)
    }

    static func unenforcedAccess(_ ingress: Ingress, intent: IngressIntent, snapshot: ResourceSnapshot) -> [String] {
        var found: [String] = []
        let annotations = ingress.metadata.annotations ?? [:]
        for key in annotations.keys.sorted() {
            let value = annotations[key] ?? ""
            if key.hasPrefix(nginx), accessControlKeys.contains(String(key.dropFirst(nginx.count))) { found.append(key) }
            if nginxIncAccessKeys.contains(key) || key.hasPrefix("appprotect.f5.com/") || key.hasPrefix("appprotectdos.f5.com/") { found.append(key) }
            if key.hasPrefix(APISIXAnnotations.prefix), APISIXAnnotations.accessControlKeys.contains(String(key.dropFirst(APISIXAnnotations.prefix.count))) {
                found.append(key)
            }
            // Raw nginx configuration can allow, deny or authenticate; archway does not run it.
            if key.hasSuffix("snippet") || key.hasSuffix("snippets"), decidesAccess(value) { found.append("\(key) (allow/deny/auth directives)") }
        }
        found += kongAccess(ingress, snapshot: snapshot)
        found += intent.traefikMiddlewares.filter { !$0.isHarmless }.map { "\(TraefikAnnotations.prefix)router.middlewares: \($0.reference)" }
        if intent.traefik == nil, annotations[TraefikAnnotations.prefix + "router.middlewares"] != nil {
            found.append(TraefikAnnotations.prefix + "router.middlewares")  // another controller's Ingress: not read, so not known harmless
        }
        for use in intent.gce?.backendConfigs.values.sorted(by: { $0.service < $1.service }) ?? [] {
            let fields = use.config?.spec?.fields ?? []
            for field in ["iap", "securityPolicy"] where fields.contains(field) { found.append("BackendConfig \(use.name) \(field)") }
        }
        if let master = nginxIncMaster(of: ingress, snapshot: snapshot) {
            // NGINX applies a master's server-level policies to its minions' locations.
            found += master.map { "\($0) (on the master Ingress of this minion)" }
        }
        var seen = Set<String>()
        return found.filter { seen.insert($0).inserted }
    }

    /// Kong plugins from the Ingress's and its Services' `konghq.com/plugins`, and global
    /// KongClusterPlugins, that are not known harmless.
    private static func kongAccess(_ ingress: Ingress, snapshot: ResourceSnapshot) -> [String] {
        let namespace = ingress.metadata.namespace ?? "default"
        func names(_ value: String?) -> [String] {
            (value ?? "").split(separator: ",").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
        }
        func deciding(_ name: String) -> Bool {
            let found = KongPluginUse.plugin(named: name, namespace: namespace, snapshot: snapshot)
            guard let found, let plugin = found["plugin"]?.text else { return true }  // not in the input: cannot be told harmless
            return found["disabled"]?.bool != true && !harmlessKongPlugins.contains(plugin)
        }
        var found = names(ingress.annotation(KongAnnotations.prefix + "plugins")).filter(deciding).map { "\(KongAnnotations.prefix)plugins: \($0)" }
        let services = Set(ingress.hostRules.flatMap { $0.paths.compactMap(\.backend.service?.name) } + [ingress.spec.defaultBackend?.service?.name].compactMap { $0 })
        for service in services.sorted() {
            let annotation = snapshot.services[NamespacedName(namespace, service)]?.metadata.annotations?[KongAnnotations.prefix + "plugins"]
            found += names(annotation).filter(deciding).map { "Service \(namespace)/\(service) \(KongAnnotations.prefix)plugins: \($0)" }
        }
        guard IngressController.of(ingress, classes: snapshot.ingressClasses) == .kong else { return found }
        for (name, plugin) in snapshot.ingressExtensions["KongClusterPlugin"] ?? [:] where plugin.metadata.labels?["global"] == "true" && deciding(name.name) {
            found.append("KongClusterPlugin \(name.name) (global)")
        }
        return found
    }

    /// For an NGINX Ingress Controller minion, what its master (same host, `mergeable-ingress-type:
    /// master`) asks for; nil for any other Ingress. A minion whose master is missing is refused too.
    private static func nginxIncMaster(of ingress: Ingress, snapshot: ResourceSnapshot) -> [String]? {
        let type = NginxIncAnnotations.prefix + "mergeable-ingress-type"
        guard ingress.annotation(type) == "minion" else { return nil }
        let hosts = Set(ingress.hostRules.map(\.host))
        let masters = snapshot.ingresses.filter { $0.annotation(type) == "master" && !hosts.isDisjoint(with: ($0.spec.rules ?? []).compactMap(\.host)) }
        guard !masters.isEmpty else { return ["\(type): minion without a master Ingress for its host in the input"] }
        return masters.flatMap { master in
            nginxIncAccessKeys.filter { master.annotation($0) != nil }.map { "\($0) of Ingress \(master.metadata.namespacedName)" }
        }
    }
}
