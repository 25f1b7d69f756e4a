import Crypto
import SwiftASN1
import X509

/// A fresh P-256 key and a CSR for it naming every DNS name in the subjectAltName (RFC 8555 §7.4:
/// the CA issues for the SANs; the common name is only a courtesy to old clients).
struct CertificateRequest {
    let privateKey: P256.Signing.PrivateKey
    let derEncoded: [UInt8]

    var privateKeyPEM: String { privateKey.pemRepresentation }

    init(names: [String]) throws {
        let key = P256.Signing.PrivateKey()
        // A common name is limited to 64 characters; a longer first name goes in the SAN only.
        let subject = try DistinguishedName {
            if let first = names.first, first.utf8.count <= 64 { CommonName(first) }
        }
        let extensions = try Certificate.Extensions {
            SubjectAlternativeNames(names.map { GeneralName.dnsName($0) })
        }
        let csr = try CertificateSigningRequest(
            version: .v1, subject: subject, privateKey: Certificate.PrivateKey(key),
            attributes: CertificateSigningRequest.Attributes([.init(ExtensionRequest(extensions: extensions))]),
            signatureAlgorithm: .ecdsaWithSHA256)
        var serializer = DER.Serializer()
        try serializer.serialize(csr)
        privateKey = key
        derEncoded = serializer.serializedBytes
    }
}
