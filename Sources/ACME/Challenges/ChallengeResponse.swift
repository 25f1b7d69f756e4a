import Crypto
import Foundation

/// What a client publishes to prove control of a name (RFC 8555 §8, RFC 8737). Pure functions: the
/// proxy answering HTTP-01, the DNS updater and the TLS listener each need one of them and no client.
public enum ChallengeResponse {
    /// `token.thumbprint` (RFC 8555 §8.1): binds the token to this account's key.
    public static func keyAuthorization(token: String, accountKey: ACMEAccountKey) -> String {
        keyAuthorization(token: token, accountThumbprint: accountKey.thumbprint)
    }

    public static func keyAuthorization(token: String, accountThumbprint: String) -> String {
        "\(token).\(accountThumbprint)"
    }

    /// HTTP-01 (§8.3): this path on port 80 of the name must answer 200 with the key authorization as its body.
    public static func http01Path(token: String) -> String {
        "/.well-known/acme-challenge/\(token)"
    }

    public static func http01Body(keyAuthorization: String) -> String { keyAuthorization }

    /// DNS-01 (§8.4): the TXT record's owner name; a wildcard is proven at its base name.
    public static func dns01RecordName(for name: String) -> String {
        let base = name.hasPrefix("*.") ? String(name.dropFirst(2)) : name
        return "_acme-challenge.\(base)"
    }

    /// DNS-01 (§8.4): the TXT value, base64url(SHA-256(key authorization)).
    public static func dns01TXTValue(keyAuthorization: String) -> String {
        Base64URL.encode(SHA256.hash(data: Data(keyAuthorization.utf8)))
    }
}
