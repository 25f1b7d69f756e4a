import Crypto

/// The crypt(3) password hashes htpasswd files carry besides bcrypt, written from their published
/// descriptions: MD5-crypt (Poul-Henning Kamp's FreeBSD scheme, which Apache's `$apr1$` reuses with
/// another magic string) and SHA-crypt (Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512").
/// Each function recomputes the whole stored string from the password and the stored salt/rounds, so
/// checking a password is one constant-time comparison of two strings.
enum HtpasswdHash {
    // MARK: MD5-crypt ($1$) and Apache MD5 ($apr1$)

    /// `magic` + salt + `$` + 22 characters, as `openssl passwd -1` / `-apr1` and `htpasswd -m` write it.
    /// The salt is what follows the magic, up to the next `$`, at most 8 characters.
    static func md5Crypt(password: String, stored: String, magic: String) -> String? {
        guard stored.hasPrefix(magic) else { return nil }
        let salt = Array(stored.utf8.dropFirst(magic.utf8.count).prefix { $0 != UInt8(ascii: "$") }.prefix(8))
        let password = Array(password.utf8), magicBytes = Array(magic.utf8)

        // The "alternate" sum seeds the first context with material that depends on the whole password.
        let alternate = digest(Insecure.MD5.self, password, salt, password)
        var context = Insecure.MD5()
        context.update(data: password)
        context.update(data: magicBytes)
        context.update(data: salt)
        context.update(data: repeated(alternate, toLength: password.count))
        // The original mixes in a NUL or the password's first byte for every bit of its length (the
        // "weird" step of the reference code); reproducing it exactly is what makes hashes interoperate.
        var length = password.count
        while length > 0 {
            context.update(data: length & 1 == 1 ? [0] : [password[0]])
            length >>= 1
        }
        var sum = Array(context.finalize())

        // 1000 rounds to slow down guessing; which inputs go in each round depends on its number.
        for round in 0..<1000 {
            var next = Insecure.MD5()
            next.update(data: round & 1 == 1 ? password : sum)
            if round % 3 != 0 { next.update(data: salt) }
            if round % 7 != 0 { next.update(data: password) }
            next.update(data: round & 1 == 1 ? sum : password)
            sum = Array(next.finalize())
        }

        // The 16 bytes go out in groups of three, in this order, least significant six bits first.
        let groups = [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)]
        var encoded = ""
        for (high, middle, low) in groups { encoded += cryptBase64(sum[high], sum[middle], sum[low], characters: 4) }
        encoded += cryptBase64(0, 0, sum[11], characters: 2)
        return magic + String(decoding: salt, as: UTF8.self) + "$" + encoded
    }

    // MARK: SHA-crypt ($5$ and $6$)

    enum SHACryptVariant {
        case sha256, sha512
        var magic: String { self == .sha256 ? "$5$" : "$6$" }
    }

    /// `$5$` / `$6$`, an optional `rounds=N$` (default 5000; an explicit value is written back even
    /// when it equals the default, as the specification says), a salt of at most 16 characters, `$`,
    /// and the encoded digest. `HtpasswdFormat` has already refused rounds outside 1000...999999999;
    /// the clamp below only keeps a stray value from running for hours.
    static func shaCrypt(password: String, stored: String, variant: SHACryptVariant) -> String? {
        guard stored.hasPrefix(variant.magic) else { return nil }
        var rest = Substring(stored.dropFirst(3))
        var rounds = 5000, roundsGiven = false
        if rest.hasPrefix("rounds="), let dollar = rest.firstIndex(of: "$"),
           let given = Int(rest[rest.index(rest.startIndex, offsetBy: 7)..<dollar]) {
            rounds = min(max(given, 1000), 999_999_999)
            roundsGiven = true
            rest = rest[rest.index(after: dollar)...]
        }
        let salt = Array(rest.utf8.prefix { $0 != UInt8(ascii: "$") }.prefix(16))
        let bytes: [UInt8] = switch variant {
        case .sha256: shaCryptDigest(SHA256.self, password: Array(password.utf8), salt: salt, rounds: rounds)
        case .sha512: shaCryptDigest(SHA512.self, password: Array(password.utf8), salt: salt, rounds: rounds)
        }
        let prefix = variant.magic + (roundsGiven ? "rounds=\(rounds)$" : "") + String(decoding: salt, as: UTF8.self) + "$"
        return prefix + shaCryptEncoding(bytes, variant: variant)
    }

    /// Steps 1-21 of Drepper's specification; `Hash` is SHA-256 or SHA-512, the steps are the same.
    private static func shaCryptDigest<Hash: HashFunction>(_: Hash.Type, password: [UInt8], salt: [UInt8], rounds: Int) -> [UInt8] {
        // Digest B: password, salt, password.
        let b = digest(Hash.self, password, salt, password)
        // Digest A: password, salt, then as many bytes of B as the password is long, then B or the
        // password for each bit of the password's length (1 = B, 0 = password), low bit first.
        var a = Hash()
        a.update(data: password)
        a.update(data: salt)
        a.update(data: repeated(b, toLength: password.count))
        var length = password.count
        while length > 0 {
            a.update(data: length & 1 == 1 ? b : password)
            length >>= 1
        }
        var sum = Array(a.finalize())

        // P: a digest of the password repeated once per byte, stretched to the password's length.
        var passwordSum = Hash()
        for _ in 0..<password.count { passwordSum.update(data: password) }
        let p = repeated(Array(passwordSum.finalize()), toLength: password.count)
        // S: a digest of the salt repeated 16 + A[0] times, stretched to the salt's length.
        var saltSum = Hash()
        for _ in 0..<(16 + Int(sum[0])) { saltSum.update(data: salt) }
        let s = repeated(Array(saltSum.finalize()), toLength: salt.count)

        // The rounds: the same alternation as MD5-crypt, with P and S in place of password and salt.
        for round in 0..<rounds {
            var next = Hash()
            next.update(data: round & 1 == 1 ? p : sum)
            if round % 3 != 0 { next.update(data: s) }
            if round % 7 != 0 { next.update(data: p) }
            next.update(data: round & 1 == 1 ? sum : p)
            sum = Array(next.finalize())
        }
        return sum
    }

    /// The specification's byte order for the final encoding. Bytes go out in triples; group `k` takes
    /// bytes k, k+n and k+2n (n = 10 for SHA-256, 21 for SHA-512), rotated by k mod 3 - SHA-256 and
    /// SHA-512 rotate in opposite directions. The leftover one or two bytes close the string.
    private static func shaCryptEncoding(_ sum: [UInt8], variant: SHACryptVariant) -> String {
        let n = variant == .sha256 ? 10 : 21
        var encoded = ""
        for k in 0..<n {
            let (first, second, third) = (sum[k], sum[k + n], sum[k + 2 * n])
            switch (k % 3, variant) {
            case (0, _): encoded += cryptBase64(first, second, third, characters: 4)
            case (1, .sha256), (2, .sha512): encoded += cryptBase64(third, first, second, characters: 4)
            default: encoded += cryptBase64(second, third, first, characters: 4)
            }
        }
        switch variant {
        case .sha256: encoded += cryptBase64(0, sum[31], sum[30], characters: 3)
        case .sha512: encoded += cryptBase64(0, 0, sum[63], characters: 2)
        }
        return encoded
    }

    // MARK: Shared pieces

    /// crypt's base64: the alphabet `./0-9A-Za-z`, and the 24-bit group written least significant six
    /// bits first (the reverse of RFC 4648), `characters` of them.
    private static func cryptBase64(_ high: UInt8, _ middle: UInt8, _ low: UInt8, characters: Int) -> String {
        let alphabet = Array("./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
        var group = UInt32(high) << 16 | UInt32(middle) << 8 | UInt32(low)
        var out: [UInt8] = []
        for _ in 0..<characters {
            out.append(alphabet[Int(group & 0x3f)])
            group >>= 6
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `source` repeated whole and then in part until it is `length` bytes long.
    private static func repeated(_ source: [UInt8], toLength length: Int) -> [UInt8] {
        (0..<length).map { source[$0 % source.count] }
    }

    private static func digest<Hash: HashFunction>(_: Hash.Type, _ parts: [UInt8]...) -> [UInt8] {
        var hash = Hash()
        for part in parts { hash.update(data: part) }
        return Array(hash.finalize())
    }
}
