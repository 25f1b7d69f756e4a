@testable import DataPlane
import Foundation
import HummingbirdBcrypt
import RoutingTable
import Testing

/// The hand-written crypt algorithms against hashes the real tools made (once, on Debian 12: OpenSSL
/// 3.0, apache2-utils 2.4, Python 3.11's crypt over libxcrypt, whois's mkpasswd), each labelled with
/// the command that made it. A hash matches only if every step of the algorithm is right, so these
/// literals are the specification the code is checked against; `HtpasswdToolTests` adds fresh
/// hashes made at test time, through the gateway.
struct HtpasswdHashTests {
    struct Vector: CustomTestStringConvertible, Sendable {
        let command: String
        let password: String
        let hash: String
        var testDescription: String { command }
    }

    static let vectors: [Vector] = [
        Vector(command: "openssl passwd -1 -salt saltsalt s3cret", password: "s3cret", hash: "$1$saltsalt$RwMqRjSWhXMKbW72DwzGd1"),
        Vector(command: "openssl passwd -1 -salt ab ''", password: "", hash: "$1$ab$rn6aQS/o7141mj179E/zA."),
        Vector(command: "openssl passwd -apr1 -salt saltsalt s3cret", password: "s3cret", hash: "$apr1$saltsalt$64vPg1.FPS6FtcYJ7Ti1V."),
        Vector(command: "openssl passwd -apr1 -salt Z 'pässwörd'", password: "pässwörd", hash: "$apr1$Z$65wKXgWySUjGTQMMw8gkI1"),
        Vector(command: "htpasswd -nbm alice s3cret", password: "s3cret", hash: "$apr1$ZxCPtnZK$E13exrPTZpcGvE8zRrP4z0"),
        Vector(command: "openssl passwd -5 -salt saltsaltsaltsalt s3cret", password: "s3cret",
               hash: "$5$saltsaltsaltsalt$ufKwWDLLJ1uDOn1ie/t9sV7Q6ioIKFeLyVcGgHLVx96"),
        Vector(command: "openssl passwd -5 -salt xy 'a password longer than thirty-two bytes!!'",
               password: "a password longer than thirty-two bytes!!", hash: "$5$xy$hpb4LCiEKhY6AsqjnGo0MyfvR9jHMKwR3WME4Mdw57C"),
        Vector(command: "python3 -c 'import crypt; print(crypt.crypt(\"s3cret\", \"$5$rounds=1000$saltsalt$\"))'", password: "s3cret",
               hash: "$5$rounds=1000$saltsalt$zjC/Njk9Y.EVEc3QygFw/Rhx5L4ZHXnWMx5WovHpIO2"),
        Vector(command: "python3 -c 'import crypt; print(crypt.crypt(\"s3cret\", \"$5$rounds=5000$saltsalt$\"))'", password: "s3cret",
               hash: "$5$rounds=5000$saltsalt$i1q2ZQzc.tl/BQ6CHiENAcVDvEY6nJ1OWlWXKh94b1."),
        Vector(command: "mkpasswd -m sha-256 -R 2000 -S saltsalt s3cret", password: "s3cret",
               hash: "$5$rounds=2000$saltsalt$ZWc9c31kZwQ9FfEaj.OJpp.PIWcfg2vSx/SO81BBS.3"),
        Vector(command: "openssl passwd -6 -salt saltsaltsaltsalt s3cret", password: "s3cret",
               hash: "$6$saltsaltsaltsalt$l5UWeH/IeG/.rGs/l3kZH.R4sk8ITFTxjshy9P9lPXNB8b0ihXXzhtQvLuNQnAhkwrRoubSO9rQ4zDSfU/dVr."),
        Vector(command: "openssl passwd -6 -salt xy 'a password longer than sixty-four bytes, to cross a SHA-512 block boundary!!'",
               password: "a password longer than sixty-four bytes, to cross a SHA-512 block boundary!!",
               hash: "$6$xy$U6xTxGDMUoPXzwc2dY1LesZs182MuN06I7Q9Vg.g2pr.ScKh.S2kDZ0mCXwrAIscmhS3DJK4WfKYqf5Tvbidd/"),
        Vector(command: "python3 -c 'import crypt; print(crypt.crypt(\"s3cret\", \"$6$rounds=12345$saltsalt$\"))'", password: "s3cret",
               hash: "$6$rounds=12345$saltsalt$.VDHmyRqCLelL3HelaSBN4ctnP2UxyLJulOYLjpdrgQg.sTzSja8rcAIvO4s5Xk7opFZPLfohacVivSfRnatc1"),
        Vector(command: "mkpasswd -m sha-512 -R 10000 -S saltsalt s3cret", password: "s3cret",
               hash: "$6$rounds=10000$saltsalt$Q4kufqTXaXKcbMgdZCt0HnZDwvXf1Q6xdnQuY0SHzf1nsSL1vtxI.7DfbE3qXFx2ikwoqsXfVxuzBnsAI9qtX."),
        Vector(command: "htpasswd -nbB -C 4 alice s3cret", password: "s3cret", hash: "$2y$04$WEMIHDxtBVaxi5WgYYfhQOI7Vmf7DwA7wu13rk/jNowy.l44jMEC."),
        Vector(command: "htpasswd -nbB -C 5 alice s3cret", password: "s3cret", hash: "$2y$05$kKOs0Ax/c3DH/mEJTnah4O7JO2/tUsPgUeWOwCAtqvjuDeBlkMZCC"),
        Vector(command: "htpasswd -nbs alice s3cret", password: "s3cret", hash: "{SHA}/vNB+F2HQ559kaLUZbmHHvZrXpg="),
        Vector(command: "python3 -c 'import hashlib,base64; s=b\"\\x01\\x02salt\\xff\"; "
                   + "print(\"{SSHA}\"+base64.b64encode(hashlib.sha1(b\"s3cret\"+s).digest()+s).decode())'",
               password: "s3cret", hash: "{SSHA}OCFn82o/727aSDwANq+OeVrmG8UBAnNhbHT/"),
    ]

    @Test(arguments: vectors) func theRightPasswordMatchesAndOthersDoNot(_ vector: Vector) throws {
        let format = try HtpasswdFormat.classify(vector.hash).get()
        #expect(BasicAuthGuard.verify(vector.password, hash: vector.hash, format: format))
        #expect(!BasicAuthGuard.verify(vector.password + "x", hash: vector.hash, format: format))
        if !vector.password.isEmpty {
            #expect(!BasicAuthGuard.verify(String(vector.password.dropLast()), hash: vector.hash, format: format))
        }
    }

    /// The reported 401 for `htpasswd -nbB alice s3cret` (`$2y$05$`): the cost was never the problem
    /// (the bcrypt core takes 4...31); its OpenBSD code knows only the `$2a$` and `$2b$` names and
    /// rejects `$2y$` as malformed, so such a hash verifies only under the `$2b$` name it stands for.
    @Test func a2yHashVerifiesOnlyUnderThe2bName() {
        let fromHtpasswd = "$2y$05$kKOs0Ax/c3DH/mEJTnah4O7JO2/tUsPgUeWOwCAtqvjuDeBlkMZCC"  // htpasswd -nbB -C 5 alice s3cret
        #expect(!Bcrypt.verify("s3cret", hash: fromHtpasswd))
        #expect(Bcrypt.verify("s3cret", hash: BasicAuthGuard.bcryptVerifiable(fromHtpasswd)))
    }

    /// The crypt functions rebuild the tool's exact string: salt, rounds and every character of the digest.
    @Test func theCryptFunctionsRebuildTheToolsString() {
        for vector in Self.vectors {
            let rebuilt: String? = switch try? HtpasswdFormat.classify(vector.hash).get() {
            case .apacheMD5: HtpasswdHash.md5Crypt(password: vector.password, stored: vector.hash, magic: "$apr1$")
            case .md5Crypt: HtpasswdHash.md5Crypt(password: vector.password, stored: vector.hash, magic: "$1$")
            case .sha256Crypt: HtpasswdHash.shaCrypt(password: vector.password, stored: vector.hash, variant: .sha256)
            case .sha512Crypt: HtpasswdHash.shaCrypt(password: vector.password, stored: vector.hash, variant: .sha512)
            default: vector.hash
            }
            #expect(rebuilt == vector.hash, "\(vector.command)")
        }
    }

    /// Salts longer than the algorithm reads are cut as the tools cut them: 8 characters for MD5-crypt
    /// (`openssl passwd -1 -salt saltsaltEXTRA s3cret` prints the 8-character salt's hash), 16 for SHA-crypt.
    @Test func overlongSaltsAreCutLikeTheToolsCutThem() {
        #expect(HtpasswdHash.md5Crypt(password: "s3cret", stored: "$1$saltsaltEXTRA$", magic: "$1$") == "$1$saltsalt$RwMqRjSWhXMKbW72DwzGd1")
        #expect(HtpasswdHash.shaCrypt(password: "s3cret", stored: "$5$saltsaltsaltsaltEXTRA$", variant: .sha256)
            == "$5$saltsaltsaltsalt$ufKwWDLLJ1uDOn1ie/t9sV7Q6ioIKFeLyVcGgHLVx96")
    }

    /// Lines archway cannot check are named with a reason, and the reason never repeats the line.
    @Test func unsupportedLinesSayWhyWithoutQuotingThem() {
        func reason(_ hash: String) -> String {
            if case .failure(let why) = HtpasswdFormat.classify(hash) { return why.description }
            return "accepted"
        }
        #expect(reason("hunter2").hasPrefix("not a hash: plain-text passwords are not accepted"))
        #expect(reason("{PLAIN}hunter2").hasPrefix("not a hash: plain-text"))
        #expect(!reason("{PLAIN}hunter2").contains("hunter2"))
        // `mkpasswd -m des -S ab s3cret`
        #expect(reason("abhWCwoTZY2c6").hasPrefix("traditional DES crypt is not supported"))
        // `mkpasswd -m yescrypt s3cret` (Debian's default)
        #expect(reason("$y$j9T$Y7UR12Ml3uJUbnBxYzg.x0$DAmje2OHYLN7i1AH3PPZ9vV8Tii6I7MKcJoYWOWiNv5").hasPrefix("yescrypt/scrypt is not supported"))
        #expect(reason("$2x$05$kKOs0Ax/c3DH/mEJTnah4O7JO2/tUsPgUeWOwCAtqvjuDeBlkMZCC").contains("not supported"))
        #expect(reason("$2y$03$kKOs0Ax/c3DH/mEJTnah4O7JO2/tUsPgUeWOwCAtqvjuDeBlkMZCC") == "a bcrypt hash that is cut short or malformed")
        #expect(reason("$2y$05$kKOs0Ax/c3DH/mEJTnah4O7JO2/tUsPgUeWOwCAtqvjuDeBlkMZC") == "a bcrypt hash that is cut short or malformed")
        #expect(reason("$apr1$abc$defghijklmnopqrstuv") == "a $apr1$ hash that is cut short or malformed")
        #expect(reason("$5$rounds=10$saltsalt$zjC/Njk9Y.EVEc3QygFw/Rhx5L4ZHXnWMx5WovHpIO2").contains("rounds"),
                "libxcrypt refuses fewer than 1000 rounds (crypt.crypt answers *0) instead of raising them")
        #expect(reason("{SHA}x") == "a {SHA} hash that is cut short or malformed")
        #expect(reason("{SSHA}/vNB+F2HQ559kaLUZbmHHvZrXpg=") == "a {SSHA} hash that is cut short or malformed", "a digest without a salt")
        #expect(reason("$31$30$1234") == "this $...$ crypt scheme is not supported; use bcrypt (htpasswd -B), $apr1$, $1$, $5$, $6$, {SHA} or {SSHA}")
    }
}
