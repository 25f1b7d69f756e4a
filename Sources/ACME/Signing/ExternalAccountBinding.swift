import Crypto
import Foundation

/// The key ID and MAC key a CA that requires External Account Binding gives its customers
/// (`externalAccountRequired` in the directory's meta).
public struct ExternalAccountBinding: Sendable {
    public let keyID: String
    let macKey: SymmetricKey

    /// `base64URLMACKey` as CAs print it (base64url, padding optional).
    public init(keyID: String, base64URLMACKey: String) throws {
        guard let bytes = Base64URL.decode(base64URLMACKey), !bytes.isEmpty else {
            throw ACMEClientError.invalidExternalAccountKey(keyID: keyID)
        }
        self.keyID = keyID
        macKey = SymmetricKey(data: bytes)
    }
}
