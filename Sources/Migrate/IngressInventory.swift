import Foundation
import GatewayAPI
import Translator

/// Step one of a migration: what Ingresses there are, which controllers serve them, which annotations
/// they lean on and how well each converts, and what will need ReferenceGrants.
public struct IngressInventory: Codable, Sendable {
    public struct ClassCount: Codable, Sendable {
        public var namespace: String
        public var ingressClass: String
        public var controller: String
        public var ingresses: Int
    }
    public struct AnnotationUse: Codable, Sendable {
        public var key: String
        public var prefix: String
        public var count: Int
        public var support: String
    }
    public struct Entry: Codable, Sendable {
        public var ingress: String
        public var ingressClass: String
        public var hosts: [String]
        public var paths: [String]
        public var tlsSecrets: [String]
        public var defaultBackend: String?
        /// Backends or Secrets outside the Ingress's namespace once a shared Gateway holds the listeners.
        public var crossNamespace: [String]
    }
    public var total: Int
    public var classes: [ClassCount]
    public var annotations: [AnnotationUse]
    public var ingresses: [Entry]

    public init(_ snapshot: ResourceSnapshot, gatewayNamespace: String? = nil) {
        let controllers = Dictionary(snapshot.ingressClasses.map { ($0.metadata.name, $0.spec.controller ?? "?") }) { a, _ in a }
        let defaultClass = snapshot.ingressClasses.first(where: \.isDefault)?.metadata.name
        let namespaces = Set(snapshot.ingresses.map { $0.metadata.namespace ?? "default" })
        let gatewayNamespace = gatewayNamespace ?? (namespaces.count == 1 ? namespaces.first! : "default")
        var counts: [String: ClassCount] = [:]
        var uses: [String: Int] = [:]
        var entries: [Entry] = []
        // What `migrate` would say of each annotation, so that the two never disagree: an annotation
        // used several ways is marked by its worst use.
        var verdicts: [String: AnnotationOutcome.Verdict] = [:]
        for outcome in IngressConverter.convert(snapshot).report where outcome.verdict.rank >= verdicts[outcome.key]?.rank ?? -1 {
            verdicts[outcome.key] = outcome.verdict
        }
        for ingress in snapshot.ingresses {
            let namespace = ingress.metadata.namespace ?? "default"
            let className = ingress.className ?? defaultClass ?? "(none)"
            // Without its IngressClass, the annotations tell the controller (IngressController.of), as for migrate.
            let guessed = IngressController.of(ingress, classes: snapshot.ingressClasses)
            func carriesAnnotations(of controller: IngressController) -> Bool {
                ingress.metadata.annotations?.keys.contains { $0.hasPrefix(controller.annotationPrefix) } ?? false
            }
            let controller = controllers[className]
                ?? (className == "nginx" || guessed != .ingressNginx || carriesAnnotations(of: guessed)
                    ? "\(guessed.displayName) (assumed)" : "unknown: no IngressClass given")
            counts["\(namespace)\u{0}\(className)", default: ClassCount(namespace: namespace, ingressClass: className, controller: controller, ingresses: 0)].ingresses += 1
            for key in (ingress.metadata.annotations ?? [:]).keys { uses[key, default: 0] += 1 }
            let secrets = (ingress.spec.tls ?? []).compactMap(\.secretName).map { "\(namespace)/\($0)" }
            entries.append(Entry(
                ingress: "\(namespace)/\(ingress.metadata.name)", ingressClass: className,
                hosts: ingress.hostRules.map(\.host),
                paths: ingress.hostRules.flatMap { rule in rule.paths.map { "\(rule.host)\($0.path ?? "/") (\($0.pathType.rawValue)) → \($0.backend.description)" } },
                tlsSecrets: secrets, defaultBackend: ingress.spec.defaultBackend?.description,
                crossNamespace: namespace == gatewayNamespace ? [] : secrets.map { "Secret \($0) needs a ReferenceGrant for the Gateway in \(gatewayNamespace)" }))
        }
        total = snapshot.ingresses.count
        classes = counts.values.sorted { ($0.namespace, $0.ingressClass) < ($1.namespace, $1.ingressClass) }
        annotations = uses.keys.sorted().map { key in
            let prefix = key.contains("/") ? String(key[...key.firstIndex(of: "/")!]) : "(none)"
            return AnnotationUse(key: key, prefix: prefix, count: uses[key]!, support: verdicts[key]?.support ?? "not convertible")
        }
        ingresses = entries
    }

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    public func table() -> String {
        var out = "INGRESSES: \(total)\n\nNAMESPACE            CLASS            CONTROLLER                               INGRESSES\n"
        for c in classes { out += "\(c.namespace.padded(20)) \(c.ingressClass.padded(16)) \(c.controller.padded(40)) \(c.ingresses)\n" }
        out += "\nANNOTATIONS (by prefix)\n"
        for (prefix, group) in Dictionary(grouping: annotations, by: \.prefix).sorted(by: { $0.key < $1.key }) {
            out += "  \(prefix)\n"
            for use in group { out += "    \(String(use.key.dropFirst(prefix == "(none)" ? 0 : prefix.count)).padded(36)) \(String(use.count).padded(4)) \(use.support)\n" }
        }
        out += "\nINGRESS                        HOSTS / PATHS\n"
        for entry in ingresses {
            out += "\(entry.ingress.padded(30)) class \(entry.ingressClass)\n"
            for path in entry.paths { out += "  \(path)\n" }
            if let backend = entry.defaultBackend { out += "  default backend → \(backend)\n" }
            for secret in entry.tlsSecrets { out += "  TLS Secret \(secret)\n" }
            for need in entry.crossNamespace { out += "  cross-namespace: \(need)\n" }
        }
        return out
    }
}

extension String {
    func padded(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
