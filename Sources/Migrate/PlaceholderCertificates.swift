import GatewayAPI
import Translator

/// Stand-ins for the TLS Secrets the Ingresses name but the input lacks (a `kubectl get ingress -o
/// yaml` export never has them) or holds in a form no listener can use. Without them neither side
/// would have an HTTPS listener and every HTTPS probe would agree on a 404; with them routing is
/// compared as if the certificate were there. The stand-in is never served: verification only
/// routes, and the certificate check lets exactly this text through.
struct PlaceholderCertificates {
    static let chain = "-----BEGIN CERTIFICATE-----\nplaceholder for archway migrate --verify\n-----END CERTIFICATE-----\n"
    static let key = "-----BEGIN PRIVATE KEY-----\nplaceholder for archway migrate --verify\n-----END PRIVATE KEY-----\n"

    /// The resources with every substituted Secret replaced by its stand-in.
    var resources: [Resource]
    /// One line per substituted Secret: which, named by which Ingresses, and why.
    var substituted: [String] = []
    var check: (@Sendable (String, String) -> String?)?

    init(_ input: ResourceSnapshot, resources: [Resource], check: (@Sendable (String, String) -> String?)?) {
        var namedBy: [NamespacedName: [String]] = [:]
        for ingress in input.ingresses {
            let namespace = ingress.metadata.namespace ?? "default"
            for secret in Set((ingress.spec.tls ?? []).compactMap(\.secretName) + [ingress.gceCertificateSecret].compactMap { $0 }).sorted() {
                namedBy[NamespacedName(namespace, secret), default: []].append("\(ingress.metadata.namespacedName)")
            }
        }
        var replaced = Set<NamespacedName>()
        var manifests = ""
        for name in namedBy.keys.sorted(by: { ($0.namespace, $0.name) < ($1.namespace, $1.name) }) {
            guard let problem = Self.problem(input.secrets[name], check: check) else { continue }
            replaced.insert(name)
            substituted.append("Secret \(name) (tls of Ingress \(namedBy[name]!.joined(separator: ", "))) \(problem): HTTPS routing compared as if it were there")
            manifests += "---\napiVersion: v1\nkind: Secret\nmetadata: {name: \"\(name.name)\", namespace: \"\(name.namespace)\"}\n"
                + "type: kubernetes.io/tls\nstringData: {tls.crt: \(Self.quoted(Self.chain)), tls.key: \(Self.quoted(Self.key))}\n"
        }
        self.resources = resources.filter { resource in
            guard case .secret(let secret) = resource else { return true }
            return !replaced.contains(secret.metadata.namespacedName)
        } + ManifestLoader().parse(text: manifests, file: "placeholder Secrets").resources.map(\.resource)
        self.check = { chain, key in chain == Self.chain ? nil : check?(chain, key) }
    }

    /// Why a Secret cannot give a listener its certificate; nil when it can.
    private static func problem(_ secret: Secret?, check: (@Sendable (String, String) -> String?)?) -> String? {
        guard let secret else { return "is not in the input" }
        guard let chain = secret.value(forKey: "tls.crt"), let key = secret.value(forKey: "tls.key"),
              chain.contains("-----BEGIN CERTIFICATE-----"), key.contains("PRIVATE KEY-----") else {
            return "has no PEM tls.crt and tls.key"
        }
        return check?(chain, key).map { "cannot be used (\($0))" }
    }

    private static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
}
