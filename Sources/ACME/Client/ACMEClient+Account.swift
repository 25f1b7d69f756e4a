import Foundation

private struct NewAccountPayload: Encodable {
    var contact: [String]?
    var termsOfServiceAgreed: Bool?
    var onlyReturnExisting: Bool?
    var externalAccountBinding: FlattenedJWS?
}

private struct AccountBody: Decodable {
    var status: ACMEStatus
    var contact: [String]?
}

extension ACMEClient {
    /// newAccount (RFC 8555 §7.3). A key that already has an account gets that account back (200, not
    /// 201), so calling this on every start is safe. `contactEmails` become `mailto:` URLs.
    public func createAccount(contactEmails: [String], termsOfServiceAgreed: Bool,
                              externalAccountBinding: ExternalAccountBinding? = nil) async throws -> ACMEAccount {
        let newAccountURL = try await directory().newAccount
        var payload = NewAccountPayload(contact: contactEmails.map { "mailto:\($0)" }, termsOfServiceAgreed: termsOfServiceAgreed)
        if let externalAccountBinding {
            payload.externalAccountBinding = try JWS.externalAccountBinding(externalAccountBinding, accountKey: accountKey,
                                                                            newAccountURL: newAccountURL)
        }
        return try await account(at: newAccountURL, payload: payload)
    }

    /// The account this key already has (`onlyReturnExisting`, RFC 8555 §7.3.1), without creating one:
    /// a CA answers `accountDoesNotExist` when there is none.
    public func findExistingAccount() async throws -> ACMEAccount {
        try await account(at: try await directory().newAccount, payload: NewAccountPayload(onlyReturnExisting: true))
    }

    private func account(at newAccountURL: String, payload: NewAccountPayload) async throws -> ACMEAccount {
        let response = try await post(newAccountURL, json: payload, signer: .jwk)
        guard let url = response.location else { throw ACMEClientError.missingHeader("Location", url: newAccountURL) }
        let body = try decode(AccountBody.self, from: response)
        rememberAccount(url)
        return ACMEAccount(url: url, status: body.status, contact: body.contact ?? [], created: response.status == 201)
    }
}
