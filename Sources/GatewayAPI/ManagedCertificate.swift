/// A certificate archway obtains itself: the Secret it goes in, the names it covers, the ACMEIssuer it
/// comes from and the listeners that serve it. The translator says which are wanted; the runtime
/// orders them (ArchwayCore's ACME automation).
public struct ManagedCertificate: Sendable, Equatable, Hashable, Codable {
    public var secret: NamespacedName
    /// Sorted, unique: every hostname of the listeners that name the Secret.
    public var names: [String]
    public var issuer: String
    /// "gateway-namespace/gateway/listener" of each listener served with it.
    public var listeners: [String]
    /// Why it cannot be ordered as asked (no such issuer, a wildcard without DNS-01, HTTP-01 with no
    /// port-80 listener); nil when it can.
    public var problem: String?

    public init(secret: NamespacedName, names: [String], issuer: String, listeners: [String], problem: String? = nil) {
        self.secret = secret
        self.names = names
        self.issuer = issuer
        self.listeners = listeners
        self.problem = problem
    }
}

/// An HTTP-01 answer archway gives while an order of its own is validated: GET
/// http://NAME/.well-known/acme-challenge/TOKEN on the Gateway's HTTP listeners answers the key
/// authorization, ahead of every route. Never from a manifest: the runtime sets them on the snapshot.
public struct ACMEChallengeAnswer: Sendable, Equatable, Hashable, Codable {
    public var gateway: NamespacedName
    public var name: String
    public var token: String
    public var keyAuthorization: String

    public init(gateway: NamespacedName, name: String, token: String, keyAuthorization: String) {
        self.gateway = gateway
        self.name = name
        self.token = token
        self.keyAuthorization = keyAuthorization
    }

    public static let pathPrefix = "/.well-known/acme-challenge/"
}

/// A TLS-ALPN-01 answer (RFC 8737) archway gives while an order of its own is validated: on the
/// Gateway's HTTPS listeners whose hostname covers `name`, a ClientHello with SNI `name` and ALPN
/// `acme-tls/1` is answered with this self-signed certificate. Never from a manifest: the runtime
/// sets them on the snapshot.
public struct ACMETLSChallenge: Sendable, Equatable, Hashable, Codable {
    public var gateway: NamespacedName
    public var name: String
    public var certificatePEM: String
    public var keyPEM: String

    public init(gateway: NamespacedName, name: String, certificatePEM: String, keyPEM: String) {
        self.gateway = gateway
        self.name = name
        self.certificatePEM = certificatePEM
        self.keyPEM = keyPEM
    }
}

/// An ACMEIssuer's `.status`: whether its spec can be used, and each certificate it provides, with
/// where the runtime stands on it.
public struct ACMEIssuerStatus: Codable, Sendable, Equatable {
    public struct CertificateStatus: Codable, Sendable, Equatable {
        /// "namespace/name" of the Secret.
        public var secret: String
        public var names: [String]
        /// Pending (being ordered), Issued, Failed (waiting for the next attempt), or NotOrdered (a
        /// problem in the configuration, or no state directory to keep it in).
        public var state: String
        public var message: String?
        public var notAfter: String?
        public var renewalTime: String?
        public var nextAttempt: String?

        public init(secret: String, names: [String], state: String, message: String? = nil) {
            self.secret = secret
            self.names = names
            self.state = state
            self.message = message
        }
    }

    public var conditions: [Condition]
    public var account: String?
    public var certificates: [CertificateStatus]
    /// The challenges the ordering replica is answering now; every replica answers them (in a cluster
    /// the CA may reach any). Absent when there are none.
    public var challenges: [PresentedChallenge]?

    public init(conditions: [Condition], certificates: [CertificateStatus] = []) {
        self.conditions = conditions
        self.certificates = certificates
    }
}

/// A challenge an order is being validated by, as the ordering replica shares it with the others
/// (on the ACMEIssuer's status in a cluster): enough for any replica to answer it. For HTTP-01 the
/// token and key authorization; for TLS-ALPN-01 the key authorization, from which each replica makes
/// its own challenge certificate (the CA checks only the digest inside it).
public struct PresentedChallenge: Codable, Sendable, Equatable, Hashable {
    /// "HTTP-01" or "TLS-ALPN-01" (DNS-01 is answered in DNS, by the ordering replica alone).
    public var type: String
    /// The name being proved.
    public var name: String
    public var token: String?
    public var keyAuthorization: String
    /// "namespace/name" of each Gateway whose listeners answer it.
    public var gateways: [String]

    public init(type: String, name: String, token: String?, keyAuthorization: String, gateways: [String]) {
        self.type = type
        self.name = name
        self.token = token
        self.keyAuthorization = keyAuthorization
        self.gateways = gateways
    }
}
