import Foundation

private struct NewOrderPayload: Encodable {
    var identifiers: [ACMEIdentifier]
}

private struct FinalizePayload: Encodable {
    var csr: String
}

/// An empty JSON object: what tells the CA "validate this challenge now" (RFC 8555 §7.5.1).
private struct EmptyObject: Encodable {}

/// A certificate and the key it was issued for, both PEM, as a TLS listener loads them.
public struct IssuedCertificate: Sendable {
    /// Leaf first, then the intermediates, as the CA sent them.
    public var chainPEM: String
    public var privateKeyPEM: String
    public var certificateURL: String
}

extension ACMEClient {
    /// newOrder for DNS names (`*.example.com` included: its authorization then offers only DNS-01).
    public func newOrder(for names: [String]) async throws -> ACMEOrder {
        let newOrderURL = try await directory().newOrder
        let response = try await post(newOrderURL, json: NewOrderPayload(identifiers: names.map(ACMEIdentifier.dns)))
        guard let url = response.location else { throw ACMEClientError.missingHeader("Location", url: newOrderURL) }
        return ACMEOrder(url: url, body: try decode(ACMEOrder.Body.self, from: response))
    }

    public func order(at url: String) async throws -> ACMEOrder {
        try await fetchOrder(at: url).order
    }

    public func authorization(at url: String) async throws -> ACMEAuthorization {
        try await fetchAuthorization(at: url).authorization
    }

    public func authorizations(of order: ACMEOrder) async throws -> [ACMEAuthorization] {
        var authorizations: [ACMEAuthorization] = []
        for url in order.authorizations { authorizations.append(try await authorization(at: url)) }
        return authorizations
    }

    /// The key authorization for a challenge of this account: what HTTP-01 serves and the other two hash.
    public nonisolated func keyAuthorization(for challenge: ACMEChallenge) -> String {
        ChallengeResponse.keyAuthorization(token: challenge.token ?? "", accountKey: accountKey)
    }

    /// Tells the CA the response is in place. Call it only once the HTTP resource, TXT record or
    /// certificate is being served: the CA may validate at once, and a failed validation is final.
    @discardableResult
    public func respond(to challenge: ACMEChallenge) async throws -> ACMEChallenge {
        let response = try await post(challenge.url, json: EmptyObject())
        return try decode(ACMEChallenge.self, from: response)
    }

    /// Makes a fresh P-256 key and a CSR naming every identifier of the order, finalizes, waits for
    /// issuance and downloads the chain. The order must be `ready` (all authorizations valid); a
    /// `pending` one is waited for first, within the polling timeout.
    public func finalize(_ order: ACMEOrder) async throws -> IssuedCertificate {
        var current = order
        if current.status == .pending {
            current = try await waitForOrder(at: order.url, until: [.ready, .processing, .valid])
        }
        let request = try CertificateRequest(names: order.identifiers.map(\.value))
        if current.status == .ready {
            let response = try await post(order.finalize, json: FinalizePayload(csr: Base64URL.encode(request.derEncoded)))
            current = ACMEOrder(url: order.url, body: try decode(ACMEOrder.Body.self, from: response))
        }
        if current.status != .valid {
            current = try await waitForOrder(at: order.url, until: [.valid])
        }
        guard let certificateURL = current.certificate else {
            throw ACMEClientError.orderFailed(orderURL: order.url, status: current.status, problem: current.error)
        }
        let chain = try await downloadCertificateChain(from: certificateURL)
        return IssuedCertificate(chainPEM: chain, privateKeyPEM: request.privateKeyPEM, certificateURL: certificateURL)
    }

    /// The certificate chain as PEM (RFC 8555 §7.4.2), leaf first.
    public func downloadCertificateChain(from url: String) async throws -> String {
        let response = try await post(url, payload: nil, accept: "application/pem-certificate-chain")
        return String(decoding: response.body, as: UTF8.self)
    }

    func fetchOrder(at url: String) async throws -> (order: ACMEOrder, retryAfter: Duration?) {
        let response = try await post(url, payload: nil)
        return (ACMEOrder(url: url, body: try decode(ACMEOrder.Body.self, from: response)), response.retryAfter)
    }

    func fetchAuthorization(at url: String) async throws -> (authorization: ACMEAuthorization, retryAfter: Duration?) {
        let response = try await post(url, payload: nil)
        return (ACMEAuthorization(url: url, body: try decode(ACMEAuthorization.Body.self, from: response)), response.retryAfter)
    }
}
