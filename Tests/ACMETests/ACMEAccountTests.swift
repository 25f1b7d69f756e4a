import PebbleLab
import ACME
import Foundation
import Testing

@Suite(.timeLimit(.minutes(1)))
struct ACMEAccountTests {
    /// A restart with the persisted key finds the account it had instead of making another.
    @Test func aRestartWithTheSameKeyFindsTheSameAccount() async throws {
        try await Pebble.with(.init()) { pebble in
            try await withACMEHTTPClient(trusting: pebble) { httpClient in
                let key = ACMEAccountKey()
                let first = try await pebble.client(accountKey: key, httpClient: httpClient)
                    .createAccount(contactEmails: ["ops@example.com"], termsOfServiceAgreed: true)
                #expect(first.created)
                #expect(first.contact == ["mailto:ops@example.com"])

                let restoredKey = try ACMEAccountKey(pemRepresentation: key.pemRepresentation)
                let found = try await pebble.client(accountKey: restoredKey, httpClient: httpClient).findExistingAccount()
                #expect(found.url == first.url)
                #expect(found.status == .valid)

                let again = try await pebble.client(accountKey: restoredKey, httpClient: httpClient)
                    .createAccount(contactEmails: ["ops@example.com"], termsOfServiceAgreed: true)
                #expect(again.url == first.url)
                #expect(!again.created)
            }
        }
    }

    @Test func aKeyWithoutAnAccountIsToldSoAndNoAccountIsCreated() async throws {
        try await Pebble.with(.init()) { pebble in
            try await withACMEHTTPClient(trusting: pebble) { httpClient in
                let error = await #expect(throws: ACMEProblem.self) {
                    try await pebble.client(accountKey: ACMEAccountKey(), httpClient: httpClient).findExistingAccount()
                }
                #expect(error?.shortType == "accountDoesNotExist")
                #expect(error?.description.contains("/sign-me-up") == true)
            }
        }
    }

    /// A CA that requires External Account Binding refuses a bare account and accepts a bound one.
    @Test func externalAccountBindingIsSentWhenGivenAndItsAbsenceIsNamed() async throws {
        let macKey = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
        try await Pebble.with(.init(externalAccountMACKeys: ["kid-1": macKey])) { pebble in
            try await withACMEHTTPClient(trusting: pebble) { httpClient in
                let client = pebble.client(accountKey: ACMEAccountKey(), httpClient: httpClient)
                #expect(try await client.directory().meta?.externalAccountRequired == true)
                let refusal = await #expect(throws: ACMEProblem.self) {
                    try await client.createAccount(contactEmails: ["ops@example.com"], termsOfServiceAgreed: true)
                }
                #expect(refusal?.description.contains("urn:ietf:params:acme:error:externalAccountRequired") == true)

                let wrongKey = try ExternalAccountBinding(keyID: "kid-1", base64URLMACKey: "b10lLJs8l1GPIzsLP0s6pMt8O0XVGnfTaCeROxQM0BIt2XrJMDHJZBM5NuQmQJQH")
                await #expect(throws: ACMEProblem.self) {
                    try await client.createAccount(contactEmails: ["ops@example.com"], termsOfServiceAgreed: true, externalAccountBinding: wrongKey)
                }

                let binding = try ExternalAccountBinding(keyID: "kid-1", base64URLMACKey: macKey)
                let account = try await client.createAccount(contactEmails: ["ops@example.com"], termsOfServiceAgreed: true,
                                                             externalAccountBinding: binding)
                #expect(account.created)
                #expect(account.status == .valid)
            }
        }
    }
}
