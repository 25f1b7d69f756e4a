import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509

/// The TLS-ALPN-01 challenge certificate (RFC 8737 §3): self-signed, the name as its only SAN, and the
/// critical acmeIdentifier extension holding SHA-256 of the key authorization. The CA connects with
/// ALPN `acme-tls/1` and SNI = the name; whoever answers with this certificate controls the name.
public struct TLSALPN01Certificate: Sendable {
    public static let applicationProtocol = "acme-tls/1"
    /// id-pe-acmeIdentifier.
    public static let acmeIdentifierOID: ASN1ObjectIdentifier = [1, 3, 6, 1, 5, 5, 7, 1, 31]

    public let certificate: Certificate
    public let certificatePEM: String
    public let privateKeyPEM: String

    public init(name: String, keyAuthorization: String, now: Date = Date()) throws {
        let key = P256.Signing.PrivateKey()
        let digest = Array(SHA256.hash(data: Data(keyAuthorization.utf8)))
        var value = DER.Serializer()
        try value.serialize(ASN1OctetString(contentBytes: digest[...]))
        let acmeIdentifier = Certificate.Extension(oid: Self.acmeIdentifierOID, critical: true, value: value.serializedBytes[...])
        let subject = try DistinguishedName { CommonName(String(name.prefix(64))) }
        certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(key.publicKey),
            // A CA's clock may lag ours; the certificate lives only for the validation.
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(7 * 86400),
            issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                SubjectAlternativeNames([.dnsName(name)])
                acmeIdentifier
            },
            issuerPrivateKey: Certificate.PrivateKey(key))
        certificatePEM = try certificate.serializeAsPEM().pemString
        privateKeyPEM = key.pemRepresentation
    }

    /// A server configuration that offers only `acme-tls/1`, for the connection the CA makes to validate.
    public func makeServerTLSConfiguration() throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(certificatePEM.utf8), format: .pem))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(privateKeyPEM.utf8), format: .pem)))
        configuration.applicationProtocols = [Self.applicationProtocol]
        return configuration
    }
}
