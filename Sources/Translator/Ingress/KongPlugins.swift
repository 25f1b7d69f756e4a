import GatewayAPI
import RoutingTable

/// The KongPlugins an Ingress names (`konghq.com/plugins`), read once for both readings: each
/// plugin's kind and what of its `config` archway can do. A plugin missing from the input, or
/// disabled, is kept with what it is so the report can say so.
public struct KongPluginUse: Sendable, Equatable {
    public enum Effect: Sendable, Equatable {
        /// `cors`: the HTTPRoute CORS filter.
        case cors(CORSPolicy)
        /// `rate-limiting` by client address: requests per unit ("Second", "Minute", "Hour").
        case rateLimit(requests: Int, unit: String, dropped: [String])
        /// `ip-restriction`.
        case ipRestriction(allow: [String], deny: [String])
        /// `key-auth`: the header (and query) names the key is read from.
        case keyAuth(names: [String])
        /// `basic-auth`: credentials live in KongConsumers, not in a file archway can read.
        case basicAuth
        /// Anything else, or a configuration archway cannot honour: why.
        case unsupported(String)
    }

    /// The name the annotation gives (the KongPlugin object's).
    public var name: String
    /// The `plugin:` field, nil when the object is not in the input.
    public var plugin: String?
    public var effect: Effect

    public static func uses(_ ingress: Ingress, annotations: KongAnnotations, snapshot: ResourceSnapshot) -> [KongPluginUse] {
        let namespace = ingress.metadata.namespace ?? "default"
        return annotations.plugins.map { name in
            let object = plugin(named: name, namespace: namespace, snapshot: snapshot)
            guard let object, let plugin = object["plugin"]?.text else {
                return KongPluginUse(name: name, plugin: nil, effect: .unsupported("KongPlugin \(namespace)/\(name) is not in the input"))
            }
            if object["disabled"]?.bool == true {
                return KongPluginUse(name: name, plugin: plugin, effect: .unsupported("disabled: Kong does not run it"))
            }
            return KongPluginUse(name: name, plugin: plugin, effect: effect(plugin, config: object["config"] ?? .map([:])))
        }
    }

    /// The object a plugin name refers to, as Kong looks it up: the namespace's KongPlugin, else a KongClusterPlugin.
    static func plugin(named name: String, namespace: String, snapshot: ResourceSnapshot) -> IngressExtension? {
        snapshot.ingressExtensions["KongPlugin"]?[NamespacedName(namespace, name)]
            ?? snapshot.ingressExtensions["KongClusterPlugin"]?[NamespacedName("", name)]
    }

    private static func effect(_ plugin: String, config: ConfigValue) -> Effect {
        switch plugin {
        case "cors":
            let origins = config["origins"]?.texts ?? []
            return .cors(CORSPolicy(
                allowOrigins: origins.isEmpty ? ["*"] : origins,
                allowCredentials: config["credentials"]?.bool ?? false,
                allowMethods: config["methods"]?.texts ?? ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE", "OPTIONS", "TRACE", "CONNECT"],
                // Kong answers a preflight with the headers it asked for when none are configured.
                allowHeaders: config["headers"]?.texts ?? ["*"],
                exposeHeaders: config["exposed_headers"]?.texts ?? [],
                maxAge: config["max_age"]?.int ?? 5))
        case "rate-limiting":
            // Without an authenticated consumer Kong counts by client address, its fallback.
            let limitBy = config["limit_by"]?.text ?? "consumer"
            guard limitBy == "ip" || limitBy == "consumer" else {
                return .unsupported("limit_by \(limitBy) has no archway key; only ip (the client address) does")
            }
            let windows = [("second", "Second"), ("minute", "Minute"), ("hour", "Hour")].compactMap { key, unit in
                config[key]?.int.map { (key, $0, unit) }
            }
            guard let first = windows.first else { return .unsupported("no second, minute or hour limit archway can apply") }
            let others = ["day", "month", "year"].filter { config[$0] != nil }
            return .rateLimit(requests: first.1, unit: first.2, dropped: windows.dropFirst().map(\.0) + others)
        case "ip-restriction":
            let allow = config["allow"]?.texts ?? [], deny = config["deny"]?.texts ?? []
            guard !allow.isEmpty || !deny.isEmpty else { return .unsupported("neither allow nor deny is set") }
            return .ipRestriction(allow: allow, deny: deny)
        case "key-auth":
            let names = config["key_names"]?.texts ?? []
            return .keyAuth(names: names.isEmpty ? ["apikey"] : names)
        case "basic-auth":
            return .basicAuth
        default:
            return .unsupported("the \(plugin) plugin has no archway equivalent")
        }
    }
}
