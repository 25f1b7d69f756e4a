import Foundation
import GatewayAPI

/// Where ACME automation keeps what outlives an order (each issuer's account, each certificate), and
/// how the replicas that did not order learn of its challenges. File mode: the state directory, one
/// process. Kubernetes mode: Secrets through the API server, and the ACMEIssuer's status
/// (`KubernetesACMEStore`).
protocol ACMEStorage: Sendable {
    func account(of issuer: String) async throws -> ACMEStateStore.Account?
    func save(_ account: ACMEStateStore.Account, of issuer: String) async throws
    func save(_ certificate: ACMEStateStore.StoredCertificate, for secret: NamespacedName) async throws
    /// Why archway may not write the certificate's Secret (someone else's is there), checked before
    /// ordering; nil when it may.
    func refusal(toWrite secret: NamespacedName) async throws -> String?
    /// The certificates obtained, by Secret. `secrets` are the snapshot's: in a cluster the Secrets
    /// archway wrote (whichever replica wrote them) are the record; the state directory ignores them.
    func certificates(among secrets: [NamespacedName: Secret]) -> (certificates: [NamespacedName: ACMEStateStore.StoredCertificate], unreadable: [String])
    /// True when the certificates can change behind this process's back (another replica renewed
    /// one, a user deleted one): they are read again from every snapshot rather than once.
    var isShared: Bool { get }
    /// Returns once every replica answers `challenge`, so the CA may look. The state directory has no
    /// other replicas: the table this process just applied already answers.
    func waitUntilAnswered(_ challenge: PresentedChallenge, issuer: String) async throws
}

extension ACMEStateStore: ACMEStorage {
    var isShared: Bool { false }

    // The state directory is archway's own; a manifest's Secret of the name is found before ordering.
    func refusal(toWrite secret: NamespacedName) async throws -> String? { nil }

    func certificates(among secrets: [NamespacedName: Secret]) -> (certificates: [NamespacedName: StoredCertificate], unreadable: [String]) {
        allCertificates()
    }

    func waitUntilAnswered(_ challenge: PresentedChallenge, issuer: String) async throws {}
}

extension ACMEStateStore.StoredCertificate {
    /// Annotations on a certificate Secret archway writes in a cluster: which issuer, for which names,
    /// obtained when. The issuer annotation also marks the Secret as archway's to replace.
    static let namesAnnotation = "archway.dev/acme-names"
    static let obtainedAnnotation = "archway.dev/acme-obtained-at"

    /// The certificate as the Secret a listener's certificateRef names.
    func secret(as name: NamespacedName, labels: [String: String]? = nil) -> Secret {
        var metadata = ObjectMeta(name: name.name, namespace: name.namespace)
        metadata.labels = labels
        metadata.annotations = [
            ACMEIssuer.gatewayAnnotation: issuer,
            Self.namesAnnotation: names.joined(separator: ","),
            Self.obtainedAnnotation: ACMEAutomation.timestamp(obtainedAt),
        ]
        return Secret(metadata: metadata, type: "kubernetes.io/tls", data: [
            "tls.crt": Data(chainPEM.utf8).base64EncodedString(),
            "tls.key": Data(keyPEM.utf8).base64EncodedString(),
        ])
    }

    /// Read back from a Secret archway wrote; nil for any other Secret (and for one of archway's that
    /// lost its data, which is then ordered again and overwritten).
    init?(writtenIn secret: Secret) {
        guard secret.isWrittenByACMEAutomation, let annotations = secret.metadata.annotations, let issuer = annotations[ACMEIssuer.gatewayAnnotation],
              let names = annotations[Self.namesAnnotation], let chain = secret.value(forKey: "tls.crt"),
              let key = secret.value(forKey: "tls.key") else { return nil }
        let obtained = annotations[Self.obtainedAnnotation].flatMap { ISO8601DateFormatter().date(from: $0) } ?? .distantPast
        self.init(issuer: issuer, names: names.split(separator: ",").map(String.init), chainPEM: chain, keyPEM: key, obtainedAt: obtained)
    }
}
