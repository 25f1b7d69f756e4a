import Crypto
import Foundation
import HummingbirdBcrypt
import NIOConcurrencyHelpers
import NIOPosix
import RoutingTable

/// Outcomes of expensive checks (bcrypt, signature verification), bounded: when full it starts over.
final class VerifiedCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let entries = NIOLockedValueBox<[Key: Value]>([:])
    private let limit: Int
    init(limit: Int) { self.limit = limit }

    subscript(key: Key) -> Value? {
        get { entries.withLockedValue { $0[key] } }
        set {
            entries.withLockedValue { entries in
                if entries.count >= limit { entries.removeAll(keepingCapacity: true) }
                entries[key] = newValue
            }
        }
    }
}

extension VerifiedCache where Key == SHA256Digest {
    /// A digest of the credential's parts, so that the cache never holds a password.
    static func key(_ parts: String...) -> SHA256Digest {
        var hasher = SHA256()
        for part in parts {
            hasher.update(data: Data(part.utf8))
            hasher.update(data: [0])
        }
        return hasher.finalize()
    }
}

/// htpasswd users, in every format `HtpasswdFormat` accepts. {SHA} and {SSHA} are one SHA-1 and are
/// checked on the event loop; bcrypt, MD5-crypt and SHA-crypt are slow by design, so a first check of
/// a password runs on the thread pool and its outcome is cached: the event loop never runs them.
final class BasicAuthGuard: EdgeGuard {
    private let spec: BasicAuthRule
    /// Each user's hash with its format, classified once here rather than on every request. The
    /// translator admits only lines that classify; one that did not would be missing here and refused.
    private let users: [String: (hash: String, format: HtpasswdFormat)]
    private let verified = VerifiedCache<SHA256Digest, Bool>(limit: 4096)

    init(_ spec: BasicAuthRule) {
        self.spec = spec
        users = spec.users.compactMapValues { hash in (try? HtpasswdFormat.classify(hash).get()).map { (hash, $0) } }
    }

    func check(_ request: EdgeRequest) -> EdgeDecision {
        guard let header = request.header("authorization"), header.count > 6, header.prefix(6).lowercased() == "basic ",
              let decoded = Data(base64Encoded: String(header.dropFirst(6).trimmingSpaces())),
              let credentials = String(data: decoded, encoding: .utf8), let colon = credentials.firstIndex(of: ":") else {
            return refuse("credentials required")
        }
        let user = String(credentials[..<colon]), password = String(credentials[credentials.index(after: colon)...])
        guard let entry = users[user] else { return refuse("unknown user or wrong password") }
        let (hash, format) = entry
        switch format {
        case .sha1, .saltedSHA1:
            return Self.verify(password, hash: hash, format: format) ? pass(user) : refuse("unknown user or wrong password")
        case .bcrypt, .apacheMD5, .md5Crypt, .sha256Crypt, .sha512Crypt:
            let key = VerifiedCache<SHA256Digest, Bool>.key(user, password, hash)
            if let known = verified[key] { return known ? pass(user) : refuse("unknown user or wrong password") }
            return .later { [self] resume in
                NIOThreadPool.singleton.submit { _ in
                    let ok = Self.verify(password, hash: hash, format: format)
                    self.verified[key] = ok
                    resume(ok ? self.pass(user) : self.refuse("unknown user or wrong password"))
                }
            }
        }
    }

    /// Whether `password` matches `hash`. The crypt formats recompute the whole stored string, so one
    /// constant-time comparison of the two strings decides.
    static func verify(_ password: String, hash: String, format: HtpasswdFormat) -> Bool {
        switch format {
        case .bcrypt:
            return Bcrypt.verify(password, hash: bcryptVerifiable(hash))
        case .apacheMD5:
            return HtpasswdHash.md5Crypt(password: password, stored: hash, magic: "$apr1$").map { constantTimeEqual($0, hash) } ?? false
        case .md5Crypt:
            return HtpasswdHash.md5Crypt(password: password, stored: hash, magic: "$1$").map { constantTimeEqual($0, hash) } ?? false
        case .sha256Crypt:
            return HtpasswdHash.shaCrypt(password: password, stored: hash, variant: .sha256).map { constantTimeEqual($0, hash) } ?? false
        case .sha512Crypt:
            return HtpasswdHash.shaCrypt(password: password, stored: hash, variant: .sha512).map { constantTimeEqual($0, hash) } ?? false
        case .sha1:
            let digest = Data(Insecure.SHA1.hash(data: Data(password.utf8))).base64EncodedString()
            return constantTimeEqual(digest, String(hash.dropFirst(5)))
        case .saltedSHA1:
            // base64(SHA-1(password + salt) + salt): the salt is whatever follows the 20-byte digest.
            guard let stored = Data(base64Encoded: String(hash.dropFirst(6))), stored.count > 20 else { return false }
            let salt = stored.dropFirst(20)
            let digest = Data(Insecure.SHA1.hash(data: Data(password.utf8) + salt))
            return constantTimeEqual(digest.base64EncodedString(), Data(stored.prefix(20)).base64EncodedString())
        }
    }

    /// `$2y$` (what `htpasswd -B` writes) is the same algorithm as `$2b$`, but the OpenBSD code behind
    /// `Bcrypt.verify` knows only `$2a$` and `$2b$` and rejects `$2y$` as malformed: without this every
    /// password of such a user fails, at any cost (the 401 once reported for `htpasswd -nbB`'s `$2y$05$`).
    static func bcryptVerifiable(_ hash: String) -> String {
        hash.hasPrefix("$2y$") ? "$2b$" + hash.dropFirst(4) : hash
    }

    private func pass(_ user: String) -> EdgeDecision {
        var edits = EdgeEdits()
        if spec.stripAuthorization { edits.removeHeaders.append("authorization") }
        edits.setHeaders.append(("x-auth-user", user))
        return .pass(edits)
    }

    private func refuse(_ why: String) -> EdgeDecision {
        let realm = spec.realm.replacingOccurrences(of: "\"", with: "'")
        return .refuse(EdgeRefusal(status: 401, message: "unauthorized: \(why)", detail: "\(spec.policy): \(why)",
                                   headers: [("www-authenticate", "Basic realm=\"\(realm)\", charset=\"UTF-8\"")]))
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }
}

/// API keys, looked up by their SHA-256 so that comparing them takes the same time whatever the key.
final class APIKeyGuard: EdgeGuard {
    private let spec: APIKeyAuthRule

    init(_ spec: APIKeyAuthRule) {
        self.spec = spec
    }

    func check(_ request: EdgeRequest) -> EdgeDecision {
        var key = request.header(spec.header)
        if key == nil, let parameter = spec.queryParameter, let query = request.query {
            for pair in query.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0] == parameter { key = String(parts[1]).removingPercentEncoding ?? String(parts[1]) }
            }
        }
        let challenge = [("www-authenticate", "APIKey header=\"\(spec.header)\"")]
        guard let key, !key.isEmpty else {
            let why = "API key required in header \(spec.header)" + (spec.queryParameter.map { " or query parameter \($0)" } ?? "")
            return .refuse(EdgeRefusal(status: 401, message: "unauthorized: \(why)", detail: "\(spec.policy): \(why)", headers: challenge))
        }
        let digest = SHA256.hash(data: Data(key.utf8)).map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        guard let client = spec.clientsByKeyDigest[digest] else {
            return .refuse(EdgeRefusal(status: 401, message: "unauthorized: API key not recognised", detail: "\(spec.policy): API key not recognised",
                                       headers: challenge))
        }
        var edits = EdgeEdits()
        // The backend learns who called, never the key itself.
        edits.removeHeaders.append(spec.header)
        edits.setHeaders.append((spec.clientHeader, client))
        return .pass(edits)
    }
}
