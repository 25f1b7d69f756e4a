import PebbleLab
import ACME
import AsyncHTTPClient
import Crypto
import Foundation
import SwiftASN1
import Testing
import X509

/// An ACME HTTP client that trusts only the test CA Pebble serves with, shut down after `body`.
func withACMEHTTPClient<Result>(trusting pebble: Pebble, _ body: (HTTPClient) async throws -> Result) async throws -> Result {
    let httpClient = try ACMEClient.makeHTTPClient(trustRootsPEM: pebble.tlsTrustRootPEM)
    do {
        let result = try await body(httpClient)
        try await httpClient.shutdown()
        return result
    } catch {
        try? await httpClient.shutdown()
        throw error
    }
}

/// Creates an account and an order for `names`, answers each authorization with `answer`, and finalizes:
/// the sequence archway's issuer runs for every challenge type.
func issue(_ names: [String], client: ACMEClient, answer: (ACMEAuthorization) async throws -> ACMEChallenge) async throws -> IssuedCertificate {
    _ = try await client.createAccount(contactEmails: ["ops@example.com"], termsOfServiceAgreed: true)
    let order = try await client.newOrder(for: names)
    for authorization in try await client.authorizations(of: order) {
        let challenge = try await answer(authorization)
        try await client.respond(to: challenge)
    }
    for url in order.authorizations { _ = try await client.waitForAuthorization(at: url) }
    return try await client.finalize(order)
}

/// What a TLS client of the issued certificate would check: it parses, names exactly `names`, belongs
/// to the issued key, and chains to the root Pebble issues under.
func expectServable(_ issued: IssuedCertificate, names: [String], pebble: Pebble, httpClient: HTTPClient) async throws {
    let chain = try PEMDocument.parseMultiple(pemString: issued.chainPEM).map { try Certificate(pemDocument: $0) }
    let leaf = try #require(chain.first)
    let sans = try #require(try leaf.extensions.subjectAlternativeNames).compactMap { name -> String? in
        if case .dnsName(let dnsName) = name { return dnsName }
        return nil
    }
    #expect(Set(sans) == Set(names))
    let key = try P256.Signing.PrivateKey(pemRepresentation: issued.privateKeyPEM)
    #expect(leaf.publicKey == Certificate.PublicKey(key.publicKey))

    let root = try Certificate(pemEncoded: try await pebble.issuingCertificatesPEM(httpClient: httpClient).root)
    var verifier = Verifier(rootCertificates: CertificateStore([root])) { RFC5280Policy() }
    let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore(chain.dropFirst()))
    guard case .validCertificate(let validated) = result else {
        Issue.record("the issued chain does not verify to Pebble's root: \(result)")
        return
    }
    #expect(validated.last == root)
}
