import Foundation
import GatewayAPI
import RoutingTable

/// Resolves a listener's `tls` block into certificate pairs, with the reasons the spec gives when it
/// cannot: InvalidCertificateRef (wrong kind, missing or malformed Secret) and RefNotPermitted (a
/// Secret in another namespace with no ReferenceGrant).
struct CertificateResolution {
    var tls: ListenerTLS?
    var problem: (reason: String, message: String)?
    /// True when the listener cannot serve at all (a terminating listener with no usable certificate).
    var unservable = false
}

extension Translator {
    /// Certificates are looked up from the namespace of whoever declared the listener (Gateway or
    /// ListenerSet), and a ReferenceGrant must name that kind: grants are not inherited between them.
    func resolveTLS(_ listener: Gateway.Listener, origin: ListenerOrigin, snapshot: ResourceSnapshot) -> CertificateResolution {
        guard listener.protocol == "HTTPS" || listener.protocol == "TLS" else { return CertificateResolution() }
        let mode = listener.tls?.mode ?? "Terminate"
        if mode == "Passthrough" {
            return CertificateResolution(tls: ListenerTLS(mode: .passthrough, certificates: []))
        }
        let refs = listener.tls?.certificateRefs ?? []
        if refs.isEmpty {
            return CertificateResolution(problem: ("InvalidCertificateRef", "a \(listener.protocol) listener that terminates TLS needs tls.certificateRefs"),
                                         unservable: true)
        }
        var pairs: [CertificatePair] = []
        var problem: (reason: String, message: String)?
        for ref in refs {
            switch certificate(ref, origin: origin, snapshot: snapshot) {
            case .success(let pair): pairs.append(pair)
            case .failure(let failure): problem = problem ?? (failure.reason, failure.message)
            }
        }
        return CertificateResolution(tls: ListenerTLS(mode: .terminate, certificates: pairs), problem: problem, unservable: pairs.isEmpty)
    }

    struct CertificateFailure: Error {
        var reason: String
        var message: String
    }

    /// One Secret holding a certificate and key, as listeners and the Gateway's backend client
    /// certificate use it; `origin` is the object naming it (its namespace, the kind a grant must name).
    func certificate(_ ref: SecretObjectReference, origin: ListenerOrigin,
                             snapshot: ResourceSnapshot) -> Swift.Result<CertificatePair, CertificateFailure> {
        let group = ref.group ?? ""
        let kind = ref.kind ?? "Secret"
        let namespace = ref.namespace ?? origin.namespace
        let name = "\(namespace)/\(ref.name)"
        guard group.isEmpty || group == "core", kind == "Secret" else {
            return .failure(.init(reason: "InvalidCertificateRef", message: "certificateRef \(group)/\(kind) \(name) is not a core Secret"))
        }
        guard snapshot.referenceAllowed(fromGroup: GatewayAPIGroup.name, fromKind: origin.kind, fromNamespace: origin.namespace,
                                        toGroup: "", toKind: "Secret", toNamespace: namespace, toName: ref.name) else {
            return .failure(.init(reason: "RefNotPermitted",
                                  message: "Secret \(name) is in another namespace and no ReferenceGrant there allows this \(origin.kind) to use it"))
        }
        guard let secret = snapshot.secrets[NamespacedName(namespace, ref.name)] else {
            return .failure(.init(reason: "InvalidCertificateRef", message: "Secret \(name) does not exist"))
        }
        guard let chain = secret.value(forKey: "tls.crt"), let key = secret.value(forKey: "tls.key") else {
            return .failure(.init(reason: "InvalidCertificateRef", message: "Secret \(name) has no tls.crt and tls.key (type kubernetes.io/tls)"))
        }
        guard chain.contains("-----BEGIN CERTIFICATE-----"), key.contains("PRIVATE KEY-----") else {
            return .failure(.init(reason: "InvalidCertificateRef", message: "Secret \(name): tls.crt or tls.key is not PEM"))
        }
        if let check = options.certificateCheck, let error = check(chain, key) {
            return .failure(.init(reason: "InvalidCertificateRef", message: "Secret \(name): \(error)"))
        }
        return .success(CertificatePair(source: name, chainPEM: chain, keyPEM: key))
    }
}

extension Secret {
    /// A key from `stringData` (plain) or `data` (base64), as the API server would merge them.
    public func value(forKey key: String) -> String? {
        if let plain = stringData?[key] { return plain }
        guard let encoded = data?[key], let bytes = Data(base64Encoded: encoded, options: .ignoreUnknownCharacters) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
