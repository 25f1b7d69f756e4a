import Foundation

/// The directory (RFC 8555 §7.1.1): the only URL a client is configured with; every other one comes from here.
public struct ACMEDirectory: Decodable, Sendable {
    public var newNonce: String
    public var newAccount: String
    public var newOrder: String
    public var revokeCert: String?
    public var keyChange: String?
    /// ACME Renewal Information (RFC 9773); absent when the CA does not offer it.
    public var renewalInfo: String?
    public var meta: Meta?

    public struct Meta: Decodable, Sendable {
        public var termsOfService: String?
        public var website: String?
        public var externalAccountRequired: Bool?
    }
}
