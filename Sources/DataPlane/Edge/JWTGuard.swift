import AsyncHTTPClient
import Foundation
import JWTKit
import NIOCore
import RoutingTable

/// Bearer tokens checked against a JWKS (RSA and EC keys alike): signature, `exp`/`nbf`, issuer and
/// audience; chosen claims are copied to request headers. A verified token is remembered until it
/// expires, so a client reusing its token costs a hash lookup rather than a signature check.
final class JWTGuard: EdgeGuard {
    private let spec: JWTAuthRule
    private let keys: JWKSKeys
    private struct Verified: Sendable {
        var headers: [(name: String, value: String)]
        var expires: Double?
    }
    /// By the token itself: hashing it with the dictionary's hasher is far cheaper than a digest, and
    /// the token is in the request being served anyway.
    private let verified = VerifiedCache<String, Verified>(limit: 10_000)
    private let removedHeaders: [String]

    init(_ spec: JWTAuthRule) {
        self.spec = spec
        keys = JWKSKeys(document: spec.jwks, url: spec.jwksURL, refreshSeconds: spec.refreshSeconds)
        // Claims headers are the gateway's word: a client cannot send its own.
        removedHeaders = spec.claimsToHeaders.map(\.header) + (spec.stripAuthorization ? ["authorization"] : [])
    }

    func check(_ request: EdgeRequest) -> EdgeDecision {
        guard let header = request.header("authorization"), header.count > 7, header.prefix(7).lowercased() == "bearer " else {
            return refuse(nil, "bearer token required")
        }
        let token = String(header.dropFirst(7).trimmingSpaces())
        if let known = verified[token], (known.expires ?? .infinity) > Date().timeIntervalSince1970 {
            return pass(known.headers)
        }
        return .later { [self] resume in
            Task {
                resume(await self.verify(token))
            }
        }
    }

    private func verify(_ token: String) async -> EdgeDecision {
        let collection: JWTKeyCollection
        do {
            collection = try await keys.collection()
        } catch {
            return .refuse(EdgeRefusal(status: 503, message: "token signing keys unavailable",
                                       detail: "\(spec.policy): signing keys unavailable: \(error)"))
        }
        let claims: TimeClaims
        do {
            claims = try await collection.verify(token, as: TimeClaims.self)
        } catch {
            if "\(error)".contains("unknown kid"), await keys.refreshAfterUnknownKey() {
                return await verify(token)
            }
            return refuse("invalid_token", Self.reason(error))
        }
        guard let payload = Self.payload(of: token) else { return refuse("invalid_token", "payload is not a JSON object") }
        if let issuer = spec.issuer, payload["iss"] as? String != issuer {
            return refuse("invalid_token", "issuer \(payload["iss"].map { "\($0)" } ?? "(none)") is not \(issuer)")
        }
        if !spec.audiences.isEmpty {
            let audiences = (payload["aud"] as? [String]) ?? (payload["aud"] as? String).map { [$0] } ?? []
            guard audiences.contains(where: spec.audiences.contains) else {
                return refuse("invalid_token", "audience \(audiences) does not include \(spec.audiences.joined(separator: " or "))")
            }
        }
        var headers: [(name: String, value: String)] = []
        for mapping in spec.claimsToHeaders {
            guard let value = payload[mapping.claim] else { continue }
            let text: String = switch value {
            case let list as [Any]: list.map { "\($0)" }.joined(separator: ",")
            case let flag as Bool: flag ? "true" : "false"
            default: "\(value)"
            }
            if !text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f }) { headers.append((mapping.header, text)) }
        }
        verified[token] = Verified(headers: headers, expires: claims.exp?.value.timeIntervalSince1970)
        return pass(headers)
    }

    private func pass(_ headers: [(name: String, value: String)]) -> EdgeDecision {
        var edits = EdgeEdits()
        edits.removeHeaders = removedHeaders
        edits.setHeaders = headers
        return .pass(edits)
    }

    private func refuse(_ error: String?, _ why: String) -> EdgeDecision {
        // No realm: RFC 6750 makes it optional, and the policy's name is not the client's business.
        var challenge = "Bearer"
        if let error { challenge += " error=\"\(error)\", error_description=\"\(why.replacingOccurrences(of: "\"", with: "'"))\"" }
        return .refuse(EdgeRefusal(status: 401, message: "unauthorized: \(why)", detail: "\(spec.policy): \(why)", headers: [("www-authenticate", challenge)]))
    }

    private static func reason(_ error: any Error) -> String {
        let text = "\(error)"
        if text.contains("exp") && text.contains("claimVerificationFailure") { return "token has expired" }
        if text.contains("nbf") && text.contains("claimVerificationFailure") { return "token is not valid yet" }
        if text.contains("signature") { return "signature does not verify" }
        return "token does not verify: \(text.prefix(200))"
    }

    private static func payload(of token: String) -> [String: Any]? {
        let parts = token.split(separator: ".")
        guard parts.count == 3 else { return nil }
        var base64 = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }
}


/// The claims jwt-kit checks itself while verifying the signature.
private struct TimeClaims: JWTPayload {
    var exp: ExpirationClaim?
    var nbf: NotBeforeClaim?
    func verify(using _: some JWTAlgorithm) async throws {
        try exp?.verifyNotExpired()
        try nbf?.verifyNotBefore()
    }
}

/// The key set: parsed once from the policy, or fetched from its URL and refreshed on schedule (and
/// early, at most every 30 s, when a token names a key id the set does not have: keys rotate).
actor JWKSKeys {
    private let document: String?
    private let url: String?
    private let refreshSeconds: Int
    private var loaded: (collection: JWTKeyCollection, at: Double)?
    private var lastForcedRefresh = 0.0

    init(document: String?, url: String?, refreshSeconds: Int) {
        self.document = document
        self.url = url
        self.refreshSeconds = refreshSeconds
    }

    func collection() async throws -> JWTKeyCollection {
        let now = Date().timeIntervalSince1970
        if let loaded, document != nil || now - loaded.at < Double(refreshSeconds) { return loaded.collection }
        do {
            let json: String
            if let document { json = document } else { json = try await fetch() }
            let collection = try await JWTKeyCollection().add(jwksJSON: json)
            loaded = (collection, now)
            return collection
        } catch {
            // A failed refresh keeps serving the keys fetched before.
            if let loaded { return loaded.collection }
            throw error
        }
    }

    func refreshAfterUnknownKey() -> Bool {
        let now = Date().timeIntervalSince1970
        guard url != nil, now - lastForcedRefresh > 30 else { return false }
        lastForcedRefresh = now
        loaded = nil
        return true
    }

    private func fetch() async throws -> String {
        guard let url else { throw JWKSFetchError(message: "no JWKS source") }
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "accept", value: "application/json")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        guard response.status == .ok else { throw JWKSFetchError(message: "GET \(url) answered \(response.status.code)") }
        let body = try await response.body.collect(upTo: 1 << 20)
        return String(buffer: body)
    }
}

struct JWKSFetchError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
