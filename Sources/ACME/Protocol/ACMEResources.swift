import Foundation

/// Object states of RFC 8555 §7.1.6.
public enum ACMEStatus: String, Codable, Sendable {
    case pending, ready, processing, valid, invalid, deactivated, expired, revoked
}

public struct ACMEIdentifier: Codable, Sendable, Hashable {
    public var type: String
    public var value: String

    public static func dns(_ name: String) -> ACMEIdentifier { ACMEIdentifier(type: "dns", value: name) }
}

public struct ACMEAccount: Sendable {
    /// The account URL: the `kid` of every later request, and what proves a restart found the same account.
    public var url: String
    public var status: ACMEStatus
    public var contact: [String]
    /// True when this request created the account (201), false when the key already had one (200).
    public var created: Bool
}

public struct ACMEOrder: Sendable {
    public var url: String
    public var status: ACMEStatus
    public var identifiers: [ACMEIdentifier]
    public var authorizations: [String]
    public var finalize: String
    public var certificate: String?
    public var expires: String?
    /// Why an order became invalid.
    public var error: ACMEProblem.Document?

    struct Body: Decodable {
        var status: ACMEStatus
        var identifiers: [ACMEIdentifier]
        var authorizations: [String]
        var finalize: String
        var certificate: String?
        var expires: String?
        var error: ACMEProblem.Document?
    }

    init(url: String, body: Body) {
        self.url = url
        status = body.status
        identifiers = body.identifiers
        authorizations = body.authorizations
        finalize = body.finalize
        certificate = body.certificate
        expires = body.expires
        error = body.error
    }
}

public struct ACMEAuthorization: Sendable {
    public var url: String
    public var identifier: ACMEIdentifier
    public var status: ACMEStatus
    public var challenges: [ACMEChallenge]
    /// Set for `*.name`: the identifier then holds `name`, and only DNS-01 is offered.
    public var wildcard: Bool

    struct Body: Decodable {
        var identifier: ACMEIdentifier
        var status: ACMEStatus
        var challenges: [ACMEChallenge]
        var wildcard: Bool?
    }

    init(url: String, body: Body) {
        self.url = url
        identifier = body.identifier
        status = body.status
        challenges = body.challenges
        wildcard = body.wildcard ?? false
    }

    public func challenge(_ type: ACMEChallenge.Kind) -> ACMEChallenge? {
        challenges.first { $0.type == type.rawValue }
    }
}

public struct ACMEChallenge: Decodable, Sendable {
    public enum Kind: String, Sendable {
        case http01 = "http-01"
        case dns01 = "dns-01"
        case tlsALPN01 = "tls-alpn-01"
    }

    public var type: String
    public var url: String
    public var status: ACMEStatus
    public var token: String?
    /// The validation error of a challenge that failed: what a user must see to fix their setup.
    public var error: ACMEProblem.Document?
}
