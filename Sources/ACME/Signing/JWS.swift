import Crypto
import Foundation

/// A flattened JSON JWS (RFC 7515 §7.2.2), the body of every ACME POST (RFC 8555 §6.2).
struct FlattenedJWS: Encodable, Sendable {
    var protected: String
    var payload: String
    var signature: String
}

/// Who signs a request: `jwk` until the account exists (newAccount), then the account URL as `kid`.
enum JWSSigner: Sendable {
    case jwk
    case kid(String)
}

private struct ProtectedHeader: Encodable {
    var alg: String
    var jwk: JSONWebKey?
    var kid: String?
    var nonce: String?
    var url: String
}

enum JWS {
    /// `payload` nil is POST-as-GET (RFC 8555 §6.3): the payload is the empty string, not "{}".
    static func sign(payload: Data?, url: String, nonce: String, signer: JWSSigner, key: ACMEAccountKey) throws -> Data {
        var header = ProtectedHeader(alg: "ES256", nonce: nonce, url: url)
        switch signer {
        case .jwk: header.jwk = key.jwk
        case .kid(let accountURL): header.kid = accountURL
        }
        let protected = Base64URL.encode(try encoder.encode(header))
        let encodedPayload = payload.map { Base64URL.encode($0) } ?? ""
        let signature = try key.signES256(Data("\(protected).\(encodedPayload)".utf8))
        return try encoder.encode(FlattenedJWS(protected: protected, payload: encodedPayload, signature: Base64URL.encode(signature)))
    }

    /// The External Account Binding (RFC 8555 §7.3.4): an HS256 JWS over the account's JWK, keyed by the
    /// MAC key the CA handed out, proving the new account belongs to the CA's customer `keyID`.
    static func externalAccountBinding(_ binding: ExternalAccountBinding, accountKey: ACMEAccountKey, newAccountURL: String) throws -> FlattenedJWS {
        var header = ProtectedHeader(alg: "HS256", url: newAccountURL)
        header.kid = binding.keyID
        let protected = Base64URL.encode(try encoder.encode(header))
        let payload = Base64URL.encode(accountKey.jwk.canonicalJSON)
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(protected).\(payload)".utf8), using: binding.macKey)
        return FlattenedJWS(protected: protected, payload: payload, signature: Base64URL.encode(Data(mac)))
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}
