import Foundation

/// An `application/problem+json` answer (RFC 7807, RFC 8555 §6.7), with the request that drew it.
public struct ACMEProblem: Error, Sendable, CustomStringConvertible {
    public struct Document: Codable, Sendable {
        public var type: String?
        public var detail: String?
        public var status: Int?
        public var subproblems: [Subproblem]?
    }

    public struct Subproblem: Codable, Sendable {
        public var type: String?
        public var detail: String?
        public var identifier: ACMEIdentifier?
    }

    public var document: Document
    /// The URL of the request that failed.
    public var url: String
    /// The server's Retry-After: with `rateLimited` it says when to try again, so a caller backs off instead of hammering.
    public var retryAfter: Duration?

    public var type: String { document.type ?? "about:blank" }
    public var detail: String { document.detail ?? "" }
    public var subproblems: [Subproblem] { document.subproblems ?? [] }

    public static let errorNamespace = "urn:ietf:params:acme:error:"

    /// The type without the ACME namespace: `rateLimited`, `badNonce`, `externalAccountRequired`…
    public var shortType: String {
        type.hasPrefix(Self.errorNamespace) ? String(type.dropFirst(Self.errorNamespace.count)) : type
    }

    public var isRateLimited: Bool { shortType == "rateLimited" }
    public var isBadNonce: Bool { shortType == "badNonce" }

    public var description: String {
        var text = "ACME error \(type) at \(url)"
        if !detail.isEmpty { text += ": \(detail)" }
        if let retryAfter { text += " (retry after \(retryAfter.components.seconds) s)" }
        for sub in subproblems {
            text += "; \(sub.identifier?.value ?? "?"): \(sub.type ?? "") \(sub.detail ?? "")"
        }
        return text
    }
}

/// Failures the client recognises itself, beyond what the server reported as a problem document.
public enum ACMEClientError: Error, Sendable, CustomStringConvertible {
    case unexpectedResponse(url: String, status: Int, body: String)
    case missingHeader(String, url: String)
    /// An authorization ended invalid; `problem` is the failed challenge's error (why validation failed).
    case authorizationFailed(identifier: String, authorizationURL: String, problem: ACMEProblem.Document?)
    case orderFailed(orderURL: String, status: ACMEStatus, problem: ACMEProblem.Document?)
    case deadlineExceeded(waitingFor: String, lastStatus: ACMEStatus)
    case challengeNotOffered(String, authorizationURL: String)
    case renewalInfoNotOffered
    case noAccount
    case invalidExternalAccountKey(keyID: String)
    case certificateHasNoAuthorityKeyIdentifier

    public var description: String {
        switch self {
        case .unexpectedResponse(let url, let status, let body):
            "ACME server answered \(status) at \(url): \(body.prefix(300))"
        case .missingHeader(let name, let url):
            "ACME server's answer from \(url) has no \(name) header"
        case .authorizationFailed(let identifier, let url, let problem):
            "authorization for \(identifier) is invalid at \(url): \(problem?.type ?? "no error given") \(problem?.detail ?? "")"
        case .orderFailed(let url, let status, let problem):
            "order \(url) is \(status.rawValue): \(problem?.type ?? "no error given") \(problem?.detail ?? "")"
        case .deadlineExceeded(let url, let status):
            "gave up waiting for \(url), still \(status.rawValue)"
        case .challengeNotOffered(let type, let url):
            "the CA offers no \(type) challenge at \(url)"
        case .renewalInfoNotOffered:
            "the ACME directory has no renewalInfo (RFC 9773): renew by the certificate's lifetime instead"
        case .noAccount:
            "no ACME account yet: call createAccount or findExistingAccount first"
        case .invalidExternalAccountKey(let keyID):
            "the External Account Binding MAC key for \(keyID) is not base64url"
        case .certificateHasNoAuthorityKeyIdentifier:
            "the certificate has no Authority Key Identifier, so it has no ARI certID"
        }
    }
}
