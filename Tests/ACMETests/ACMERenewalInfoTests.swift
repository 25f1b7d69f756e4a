import PebbleLab
import ACME
import Crypto
import Foundation
import SwiftASN1
import Testing
import X509

@Suite(.timeLimit(.minutes(1)))
struct ACMERenewalInfoTests {
    /// The certID of RFC 9773 §4.1's example certificate (AKI 69:88:5B:…:D4, serial 00:87:65:43:21): a CA
    /// looks the certificate up by exactly this string, so any other answers 404.
    @Test func certificateIdentifierIsTheOneRFC9773Gives() throws {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("ari.example.com") }
        let keyIdentifier: [UInt8] = [0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3,
                                      0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4]
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(bytes: [0x00, 0x87, 0x65, 0x43, 0x21]),
            publicKey: Certificate.PublicKey(key.publicKey), notValidBefore: Date(), notValidAfter: Date().addingTimeInterval(86400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions { AuthorityKeyIdentifier(keyIdentifier: keyIdentifier[...]) },
            issuerPrivateKey: Certificate.PrivateKey(key))
        let certID = try ACMERenewalInfo.certificateIdentifier(for: certificate)
        #expect(certID == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE")
    }

    /// Pebble 2.4.0's directory has no renewalInfo: the caller is told to fall back to the lifetime rule.
    @Test func aDirectoryWithoutRenewalInfoSaysSo() async throws {
        try await Pebble.with(.init()) { pebble in
            try await withACMEHTTPClient(trusting: pebble) { httpClient in
                let client = pebble.client(accountKey: ACMEAccountKey(), httpClient: httpClient)
                #expect(try await client.directory().renewalInfo == nil)
                let key = P256.Signing.PrivateKey()
                let name = try DistinguishedName { CommonName("ari.example.com") }
                let certificate = try Certificate(
                    version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(key.publicKey),
                    notValidBefore: Date(), notValidAfter: Date().addingTimeInterval(86400), issuer: name, subject: name,
                    signatureAlgorithm: .ecdsaWithSHA256,
                    extensions: try Certificate.Extensions { AuthorityKeyIdentifier(keyIdentifier: [1, 2, 3]) },
                    issuerPrivateKey: Certificate.PrivateKey(key))
                await #expect {
                    _ = try await client.renewalInfo(for: certificate)
                } throws: { error in
                    guard case ACMEClientError.renewalInfoNotOffered = error else { return false }
                    return true
                }
            }
        }
    }
}
