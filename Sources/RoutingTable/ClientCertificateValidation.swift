/// How a terminating listener checks the certificate its clients present (frontend mTLS).
public struct ClientCertificateValidation: Sendable, Codable, Equatable, Hashable {
    public enum Mode: String, Sendable, Codable {
        /// The handshake fails without a certificate that chains to one of the CAs.
        case allowValidOnly
        /// A certificate is asked for, but a missing or unverifiable one does not fail the handshake:
        /// the spec's AllowInsecureFallback, which leaves client authorisation to the backend.
        case allowInsecureFallback
    }
    /// PEM CA certificates the client's chain must lead to.
    public var caPEM: String
    public var mode: Mode
    /// "kind namespace/name" of the references the CAs came from, for logs.
    public var sources: [String]

    public init(caPEM: String, mode: Mode, sources: [String]) {
        self.caPEM = caPEM
        self.mode = mode
        self.sources = sources
    }
}
