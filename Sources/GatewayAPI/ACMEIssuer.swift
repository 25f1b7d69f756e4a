/// archway.dev/v1alpha1 ACMEIssuer (cluster-scoped): an ACME CA (RFC 8555) archway obtains listener
/// certificates from itself, the way cert-manager's ClusterIssuer and Traefik's certificatesResolvers
/// do. A Gateway asks for it with the annotation `archway.dev/acme-issuer: NAME`: each of its HTTPS
/// listeners with a hostname gets a certificate for that hostname, in the Secret its first
/// certificateRef names (listeners naming the same Secret share one certificate for all their names).
public struct ACMEIssuer: Codable, Sendable, Equatable {
    /// On a Gateway: the ACMEIssuer its listeners' certificates come from. On a Secret: archway wrote
    /// it (a certificate or an account key), so archway may replace it.
    public static let gatewayAnnotation = "archway.dev/acme-issuer"

    public enum Challenge: String, Codable, Sendable, CaseIterable {
        /// A token answered at http://NAME/.well-known/acme-challenge/ on the Gateway's port-80 listener.
        case http01 = "HTTP-01"
        /// A certificate offered for ALPN acme-tls/1 on the HTTPS port (RFC 8737).
        case tlsALPN01 = "TLS-ALPN-01"
        /// A TXT record at _acme-challenge.NAME, written with RFC 2136 dynamic updates; the only one
        /// that can prove a wildcard.
        case dns01 = "DNS-01"
    }

    public struct SecretKeyRef: Codable, Sendable, Equatable {
        public var namespace: String?
        public var name: String
        public var key: String
    }

    /// External account binding (RFC 8555 §7.3.4): what CAs such as ZeroSSL or Google Trust Services
    /// ask for before they open an account.
    public struct ExternalAccountBinding: Codable, Sendable, Equatable {
        public var keyID: String
        /// The base64url HMAC key the CA gave, in a Secret.
        public var keySecretRef: SecretKeyRef
    }

    public struct RFC2136: Codable, Sendable, Equatable {
        /// host:port of the primary name server that accepts the updates.
        public var nameserver: String
        /// The zone the records go in; default: found with an SOA query.
        public var zone: String?
        public var tsigKeyName: String?
        /// hmac-sha256 (default) or hmac-sha512.
        public var tsigAlgorithm: String?
        public var tsigSecretRef: SecretKeyRef?
    }

    public struct DNS01: Codable, Sendable, Equatable {
        public var rfc2136: RFC2136
    }

    public struct Spec: Codable, Sendable, Equatable {
        /// The ACME directory URL (https).
        public var server: String
        /// The account's contact address.
        public var email: String?
        /// Must be true: opening an account means agreeing to the CA's terms of service.
        public var termsOfServiceAgreed: Bool?
        /// PEM roots trusted for the directory's TLS instead of the system's (a private CA).
        public var caBundle: String?
        /// HTTP-01 (the default), TLS-ALPN-01 or DNS-01.
        public var challenge: Challenge?
        public var externalAccountBinding: ExternalAccountBinding?
        public var dns01: DNS01?
        /// Renew this long before expiry (a Gateway API duration: "720h", "30m"); default: a third of the certificate's lifetime.
        public var renewBefore: String?
    }

    /// What archway reads back of its own status: the challenges the ordering replica shares (in a
    /// cluster; file mode never reads a manifest's status).
    public struct SharedStatus: Codable, Sendable, Equatable {
        public var challenges: [PresentedChallenge]?
    }

    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: SharedStatus?

    public init(metadata: ObjectMeta, spec: Spec) {
        self.metadata = metadata
        self.spec = spec
    }

    public var challenge: Challenge { spec.challenge ?? .http01 }

    func validate(into problems: inout Problems) {
        problems.require(spec.server.hasPrefix("https://") && spec.server.count > 8, "spec.server", "must be the CA's https:// ACME directory URL")
        problems.require(spec.termsOfServiceAgreed == true, "spec.termsOfServiceAgreed",
                         "must be true: opening an ACME account means agreeing to the CA's terms of service")
        if let email = spec.email {
            problems.require(email.contains("@") && !email.contains(" "), "spec.email", "must be an e-mail address")
        }
        if let bundle = spec.caBundle {
            problems.require(bundle.contains("-----BEGIN CERTIFICATE-----"), "spec.caBundle", "must hold PEM certificates")
        }
        if challenge == .dns01 {
            problems.require(spec.dns01 != nil, "spec.dns01", "is required with challenge DNS-01 (rfc2136: the name server that accepts updates)")
        }
        if let rfc2136 = spec.dns01?.rfc2136 {
            problems.require(rfc2136.nameserver.contains(":"), "spec.dns01.rfc2136.nameserver", "must be host:port")
            if let algorithm = rfc2136.tsigAlgorithm {
                problems.require(["hmac-sha256", "hmac-sha512"].contains(algorithm.lowercased()), "spec.dns01.rfc2136.tsigAlgorithm",
                                 "must be hmac-sha256 or hmac-sha512")
            }
            problems.require((rfc2136.tsigKeyName == nil) == (rfc2136.tsigSecretRef == nil), "spec.dns01.rfc2136",
                             "tsigKeyName and tsigSecretRef go together")
        }
        if let renewBefore = spec.renewBefore {
            problems.require(Self.seconds(renewBefore) != nil, "spec.renewBefore", "must be a Gateway API duration such as 720h or 30m")
        }
    }

    /// `renewBefore` and the like, in whole seconds: a Gateway API duration (GEP-2257, "720h", "1h30m").
    public static func seconds(_ text: String) -> Int? {
        parseGatewayDuration(text).map { $0 / 1000 }
    }

    /// The Secret a listener of an annotated Gateway gets its certificate in: the first certificateRef
    /// of an HTTPS listener that terminates TLS and has a hostname (the certificate's name); nil when
    /// the listener asks for none. The one rule for the translator and for the state put back.
    public static func certificateSecret(of listener: Gateway.Listener, namespace: String) -> NamespacedName? {
        guard listener.protocol == "HTTPS", (listener.tls?.mode ?? "Terminate") == "Terminate", listener.hostname != nil,
              let ref = listener.tls?.certificateRefs?.first, (ref.group ?? "").isEmpty, (ref.kind ?? "Secret") == "Secret" else { return nil }
        return NamespacedName(ref.namespace ?? namespace, ref.name)
    }

    /// The Secrets the listeners of annotated Gateways (their ListenerSets' included) get their
    /// certificates in: what archway may put back from its state, read before translation.
    public static func requestedSecrets(in resources: [Resource]) -> Set<NamespacedName> {
        var annotated: Set<NamespacedName> = []
        var secrets: Set<NamespacedName> = []
        for case .gateway(let gateway) in resources where gateway.metadata.annotations?[gatewayAnnotation] != nil {
            let namespace = gateway.metadata.namespace ?? "default"
            annotated.insert(NamespacedName(namespace, gateway.metadata.name))
            secrets.formUnion(gateway.spec.listeners.compactMap { certificateSecret(of: $0, namespace: namespace) })
        }
        for case .listenerSet(let set) in resources {
            let namespace = set.metadata.namespace ?? "default"
            guard annotated.contains(NamespacedName(set.spec.parentRef.namespace ?? namespace, set.spec.parentRef.name)) else { continue }
            secrets.formUnion(set.spec.listeners.compactMap { certificateSecret(of: $0, namespace: namespace) })
        }
        return secrets
    }
}

extension Secret {
    /// Written by archway's ACME automation (its annotation is on it): the one test of whether archway
    /// may replace a Secret.
    public var isWrittenByACMEAutomation: Bool { metadata.annotations?[ACMEIssuer.gatewayAnnotation] != nil }
}
