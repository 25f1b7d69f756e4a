import Crypto
import Foundation

/// The account's P-256 key. Whoever holds it holds the account, so callers persist `pemRepresentation`
/// and hand it back on restart: the CA then recognises the account instead of creating another.
public struct ACMEAccountKey: Sendable {
    let privateKey: P256.Signing.PrivateKey

    public init() { privateKey = P256.Signing.PrivateKey() }

    public init(pemRepresentation: String) throws {
        privateKey = try P256.Signing.PrivateKey(pemRepresentation: pemRepresentation)
    }

    public var pemRepresentation: String { privateKey.pemRepresentation }

    /// The public key as a JWK (RFC 7517) with only the members RFC 7638 hashes, in its canonical
    /// (lexicographic, whitespace-free) order: the same bytes serve the `jwk` header, the EAB payload and the thumbprint.
    var jwk: JSONWebKey {
        let raw = privateKey.publicKey.rawRepresentation // x ‖ y, 32 bytes each
        return JSONWebKey(crv: "P-256", kty: "EC", x: Base64URL.encode(raw.prefix(32)), y: Base64URL.encode(raw.suffix(32)))
    }

    /// RFC 7638 thumbprint, base64url: the second half of every key authorization.
    public var thumbprint: String {
        Base64URL.encode(SHA256.hash(data: jwk.canonicalJSON))
    }

    /// ES256 as JWS wants it: the raw r ‖ s, not DER.
    func signES256(_ signingInput: Data) throws -> Data {
        try privateKey.signature(for: signingInput).rawRepresentation
    }
}

struct JSONWebKey: Codable, Sendable, Equatable {
    var crv: String
    var kty: String
    var x: String
    var y: String

    var canonicalJSON: Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Four string members cannot fail to encode.
        return (try? encoder.encode(self)) ?? Data()
    }
}
