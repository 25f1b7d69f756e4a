import Foundation
import X509

/// When the CA suggests renewing a certificate (RFC 9773 §4.2). A client renews at a random moment
/// inside the window, so a CA's revocation event spreads its customers' renewals out.
public struct ACMERenewalWindow: Sendable {
    public var start: Date
    public var end: Date
    public var explanationURL: String?
    /// When to ask again.
    public var retryAfter: Duration?
}

public enum ACMERenewalInfo {
    /// The ARI certID (RFC 9773 §4.1): base64url(AKI keyIdentifier) "." base64url(serial number's DER content bytes).
    public static func certificateIdentifier(for certificate: Certificate) throws -> String {
        guard let keyIdentifier = try certificate.extensions.authorityKeyIdentifier?.keyIdentifier else {
            throw ACMEClientError.certificateHasNoAuthorityKeyIdentifier
        }
        return certificateIdentifier(authorityKeyIdentifier: Array(keyIdentifier), serialNumber: certificate.serialNumber)
    }

    public static func certificateIdentifier(authorityKeyIdentifier: [UInt8], serialNumber: Certificate.SerialNumber) -> String {
        "\(Base64URL.encode(authorityKeyIdentifier)).\(Base64URL.encode(derContentBytes(of: serialNumber)))"
    }

    /// ARI encodes the serial as the INTEGER's DER content, but SerialNumber keeps the bare magnitude
    /// (leading zeros stripped): a serial whose top bit is set needs its 0x00 back, or the CA answers 404.
    private static func derContentBytes(of serialNumber: Certificate.SerialNumber) -> [UInt8] {
        let magnitude = Array(serialNumber.bytes)
        guard let first = magnitude.first else { return [0] }
        return first & 0x80 != 0 ? [0] + magnitude : magnitude
    }
}

private struct RenewalInfoBody: Decodable {
    struct Window: Decodable {
        var start: String
        var end: String
    }

    var suggestedWindow: Window
    var explanationURL: String?
}

extension ACMEClient {
    /// The CA's suggested renewal window for `certificate` (an unauthenticated GET). Throws
    /// `renewalInfoNotOffered` when the directory has no `renewalInfo`: renew by lifetime then.
    public func renewalInfo(for certificate: Certificate) async throws -> ACMERenewalWindow {
        guard let base = try await directory().renewalInfo else { throw ACMEClientError.renewalInfoNotOffered }
        let certID = try ACMERenewalInfo.certificateIdentifier(for: certificate)
        let url = base.hasSuffix("/") ? base + certID : base + "/" + certID
        let response = try await send(.GET, url)
        guard response.status == 200 else { throw problem(in: response) }
        let body = try decode(RenewalInfoBody.self, from: response)
        guard let start = Self.parseTimestamp(body.suggestedWindow.start), let end = Self.parseTimestamp(body.suggestedWindow.end) else {
            throw ACMEClientError.unexpectedResponse(url: url, status: response.status, body: String(decoding: response.body, as: UTF8.self))
        }
        return ACMERenewalWindow(start: start, end: end, explanationURL: body.explanationURL, retryAfter: response.retryAfter)
    }

    /// RFC 3339, with or without fractional seconds (CAs send both).
    static func parseTimestamp(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}
