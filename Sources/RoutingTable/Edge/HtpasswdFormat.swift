/// The hash formats a BasicAuth htpasswd line may use: the ones nginx's `auth_basic_user_file` accepts
/// on Linux, minus plain text and the legacy crypt(3) schemes (DES, yescrypt). The translator
/// classifies every line with this when it reads the Secret, so a line archway cannot check is named
/// in the policy's status instead of answering 401 to a correct password; the data plane dispatches
/// on the same classification, so the two can never disagree about a hash.
public enum HtpasswdFormat: Sendable, Equatable {
    /// `$2a$`, `$2b$`, `$2y$` + two-digit cost 04...31: what `htpasswd -B` writes.
    case bcrypt
    /// `$apr1$salt$...`: Apache's MD5, `htpasswd -m` and `htpasswd -c`'s default.
    case apacheMD5
    /// `$1$salt$...`: MD5-crypt, the same algorithm as `$apr1$` under another name (`openssl passwd -1`).
    case md5Crypt
    /// `$5$[rounds=N$]salt$...`: SHA-256-crypt (`openssl passwd -5`, `mkpasswd -m sha-256`).
    case sha256Crypt
    /// `$6$[rounds=N$]salt$...`: SHA-512-crypt (`openssl passwd -6`, `mkpasswd -m sha-512`).
    case sha512Crypt
    /// `{SHA}` + base64 of the unsalted SHA-1 (`htpasswd -s`).
    case sha1
    /// `{SSHA}` + base64 of SHA-1(password + salt) followed by the salt (OpenLDAP's slappasswd).
    case saltedSHA1

    /// Why `hash` cannot be used, or its format. The reasons never quote the hash: a line that is
    /// plain text would otherwise put a password into the policy's status.
    public static func classify(_ hash: String) -> Result<HtpasswdFormat, Unsupported> {
        if hash.hasPrefix("{SHA}") { return decodedLength(hash.dropFirst(5)) == 20 ? .success(.sha1) : .failure(.malformed("{SHA}")) }
        if hash.hasPrefix("{SSHA}") {
            return (decodedLength(hash.dropFirst(6)) ?? 0) > 20 ? .success(.saltedSHA1) : .failure(.malformed("{SSHA}"))
        }
        if hash.hasPrefix("{PLAIN}") { return .failure(.plainText) }
        if hash.hasPrefix("$2a$") || hash.hasPrefix("$2b$") || hash.hasPrefix("$2y$") {
            // `$2y$05$` + 22 characters of salt + 31 of digest, and a cost the bcrypt core accepts.
            let bytes = Array(hash.utf8)
            let cost = bytes.count == 60 && bytes[6] == UInt8(ascii: "$") ? Int(String(decoding: bytes[4..<6], as: UTF8.self)) ?? 0 : 0
            return (4...31).contains(cost) && bytes[7...].allSatisfy(isCryptCharacter) ? .success(.bcrypt) : .failure(.malformed("bcrypt"))
        }
        if hash.hasPrefix("$apr1$") { return saltAndDigest(hash.dropFirst(6), digestLength: 22) ? .success(.apacheMD5) : .failure(.malformed("$apr1$")) }
        if hash.hasPrefix("$1$") { return saltAndDigest(hash.dropFirst(3), digestLength: 22) ? .success(.md5Crypt) : .failure(.malformed("$1$")) }
        for (magic, format, digestLength) in [("$5$", HtpasswdFormat.sha256Crypt, 43), ("$6$", .sha512Crypt, 86)] where hash.hasPrefix(magic) {
            var rest = hash.dropFirst(3)
            if rest.hasPrefix("rounds=") {
                // The specification raises fewer than 1000 rounds to 1000, but libxcrypt (what nginx's
                // crypt(3) is on Linux) refuses them: such a line matches no password there either.
                guard let dollar = rest.firstIndex(of: "$"), let rounds = Int(rest[rest.index(rest.startIndex, offsetBy: 7)..<dollar]),
                      (1000...999_999_999).contains(rounds) else {
                    return .failure(.malformed(magic + "rounds=N$ (N from 1000 to 999999999)"))
                }
                rest = rest[rest.index(after: dollar)...]
            }
            return saltAndDigest(rest, digestLength: digestLength) ? .success(format) : .failure(.malformed(magic))
        }
        if hash.hasPrefix("$y$") || hash.hasPrefix("$gy$") || hash.hasPrefix("$7$") { return .failure(.unsupported("yescrypt/scrypt")) }
        if hash.hasPrefix("$") { return .failure(.unsupported("this $...$ crypt scheme")) }
        // Thirteen characters of crypt's alphabet is traditional DES crypt; anything else is plain text.
        if hash.utf8.count == 13, hash.utf8.allSatisfy(isCryptCharacter) { return .failure(.unsupported("traditional DES crypt")) }
        return .failure(.plainText)
    }

    public enum Unsupported: Error, Equatable, CustomStringConvertible {
        case plainText
        case unsupported(String)
        case malformed(String)

        public var description: String {
            switch self {
            case .plainText:
                "not a hash: plain-text passwords are not accepted (nginx takes them only on some platforms); hash it with htpasswd -B"
            case .unsupported(let scheme):
                "\(scheme) is not supported; use bcrypt (htpasswd -B), $apr1$, $1$, $5$, $6$, {SHA} or {SSHA}"
            case .malformed(let scheme):
                "a \(scheme) hash that is cut short or malformed"
            }
        }
    }

    /// crypt(3)'s base64 alphabet: `./0-9A-Za-z`.
    static func isCryptCharacter(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: ".") || byte == UInt8(ascii: "/") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
    }

    /// `salt$digest`: a salt without `$` and a digest of exactly `digestLength` crypt characters.
    private static func saltAndDigest(_ text: Substring, digestLength: Int) -> Bool {
        guard let dollar = text.firstIndex(of: "$") else { return false }
        let digest = text[text.index(after: dollar)...]
        return digest.utf8.count == digestLength && digest.utf8.allSatisfy(isCryptCharacter)
    }

    /// How many bytes standard base64 `text` decodes to, or nil when it is not base64 (RoutingTable has
    /// no Foundation to decode with, and only the length is needed here).
    private static func decodedLength(_ text: Substring) -> Int? {
        let bytes = Array(text.utf8)
        let padding = bytes.reversed().prefix { $0 == UInt8(ascii: "=") }.count
        guard !bytes.isEmpty, bytes.count % 4 == 0, padding <= 2 else { return nil }
        let alphabet = bytes.dropLast(padding).allSatisfy {
            $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "/") || (isCryptCharacter($0) && $0 != UInt8(ascii: "."))
        }
        return alphabet ? bytes.count / 4 * 3 - padding : nil
    }
}
