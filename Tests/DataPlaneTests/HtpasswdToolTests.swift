import Foundation
import GatewayAPI
import Testing

/// Every htpasswd format archway accepts, as the real tools write it at test time (`.ci/run` installs
/// apache2-utils for htpasswd and whois for mkpasswd): one Secret, one user per format, and curl
/// against the running gateway with the right password (200, the backend told who) and a wrong one (401).
@Suite(.timeLimit(.minutes(3)))
struct HtpasswdToolTests {
    struct Line {
        let user: String
        let password: String
        let hash: String
        /// The command that made the hash, for failure messages.
        let made: String
    }

    /// A hash from `tool`; htpasswd's `user:hash` output gives the part after the colon.
    static func hash(_ tool: String, _ arguments: [String]) throws -> String {
        let result = try ExternalTool.run(tool, arguments)
        guard result.status == 0 else { throw ToolFailure(description: "\(tool) \(arguments.joined(separator: " ")): \(result.stderr)") }
        let output = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        return tool == "htpasswd" ? String(output.drop { $0 != ":" }.dropFirst()) : output
    }

    struct ToolFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// `$5$rounds=N$` and `$6$rounds=N$` from Python's crypt module (glibc/libxcrypt underneath), or from
    /// mkpasswd when this Python has no crypt module (it was removed in 3.13); nil when neither can.
    static func explicitRounds(_ variant: Int, rounds: Int, password: String) throws -> (hash: String, made: String)? {
        let script = "import crypt, sys; print(crypt.crypt(sys.argv[1], sys.argv[2]))"
        let setting = "$\(variant)$rounds=\(rounds)$\(UUID().uuidString.prefix(8))$"
        if let python = try? ExternalTool.run("python3", ["-W", "ignore", "-c", script, password, setting]),
           python.status == 0, python.stdout.hasPrefix("$\(variant)$rounds=") {
            return (python.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "python3 crypt.crypt(password, \"\(setting)\")")
        }
        let method = variant == 5 ? "sha-256" : "sha-512"
        if let made = try? hash("mkpasswd", ["-m", method, "-R", String(rounds), password]) {
            return (made, "mkpasswd -m \(method) -R \(rounds)")
        }
        return nil
    }

    /// {SSHA} as OpenLDAP writes it: base64(SHA-1(password + salt) + salt), here with a random 8-byte salt.
    static func saltedSHA1(_ password: String) throws -> String {
        let script = "import base64, hashlib, os, sys; salt = os.urandom(8); "
            + "print('{SSHA}' + base64.b64encode(hashlib.sha1(sys.argv[1].encode() + salt).digest() + salt).decode())"
        return try hash("python3", ["-c", script, password])
    }

    static func lines() throws -> [Line] {
        var lines: [Line] = []
        func add(_ user: String, _ tool: String, _ arguments: [String], password: String) throws {
            lines.append(Line(user: user, password: password, hash: try hash(tool, arguments),
                              made: ([tool] + arguments).joined(separator: " ")))
        }
        try add("apr1-htpasswd", "htpasswd", ["-nbm", "apr1-htpasswd", "pw apr1 htpasswd"], password: "pw apr1 htpasswd")
        // `-C 5` is htpasswd -B's default cost, the one of the report; 4 is bcrypt's least, 10 a usual one.
        for cost in [4, 5, 10] {
            try add("bcrypt-\(cost)", "htpasswd", ["-nbB", "-C", String(cost), "bcrypt-\(cost)", "pw-bcrypt-\(cost)"], password: "pw-bcrypt-\(cost)")
        }
        try add("bcrypt-default", "htpasswd", ["-nbB", "bcrypt-default", "s3cret"], password: "s3cret")
        try add("sha1-htpasswd", "htpasswd", ["-nbs", "sha1-htpasswd", "pw:sha1"], password: "pw:sha1")
        for scheme in ["1", "apr1", "5", "6"] {
            try add("openssl-\(scheme)", "openssl", ["passwd", "-\(scheme)", "pw-openssl-\(scheme)"], password: "pw-openssl-\(scheme)")
            try add("openssl-\(scheme)-salted", "openssl", ["passwd", "-\(scheme)", "-salt", "s4lt\(scheme)", "pw-salted-\(scheme)"],
                    password: "pw-salted-\(scheme)")
        }
        for variant in [5, 6] {
            let password = "pw-rounds-\(variant)"
            if let (hash, made) = try explicitRounds(variant, rounds: 2000 + variant, password: password) {
                lines.append(Line(user: "rounds-\(variant)", password: password, hash: hash, made: made))
            } else {
                print("HtpasswdToolTests: neither Python's crypt module nor mkpasswd is here; the $\(variant)$rounds=N$ case is skipped")
            }
        }
        lines.append(Line(user: "ssha", password: "pw-ssha", hash: try saltedSHA1("pw-ssha"), made: "python3 hashlib + base64"))
        return lines
    }

    @Test(arguments: [true, false]) func everyFormatTheToolsWriteAnswers200AndAWrongPassword401(fastLane: Bool) async throws {
        let lines = try Self.lines()
        let harness = GatewayHarness()
        harness.fastLane = fastLane
        try await harness.startBackend("api")
        let users = lines.map { "    \($0.user):\($0.hash)" }.joined(separator: "\n")
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(), Manifests.service("api", targetPort: harness.backendPorts["api"]!),
            EdgePolicyTests.route("staff", path: "/staff", filter: "BasicAuth/staff"),
            EdgePolicyTests.route("plain", path: "/plain", filter: "BasicAuth/plain"),
            """
            apiVersion: v1
            kind: Secret
            metadata: {name: tool-users}
            stringData:
              users: |
            \(users)
            ---
            apiVersion: archway.dev/v1alpha1
            kind: BasicAuth
            metadata: {name: staff}
            spec: {secretRef: {name: tool-users}}
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: plain-users}
            stringData: {users: "dora:explorer\\n"}
            ---
            apiVersion: archway.dev/v1alpha1
            kind: BasicAuth
            metadata: {name: plain}
            spec: {secretRef: {name: plain-users}}
            """))
        try await harness.start()
        defer { Task { await harness.stop() } }

        let staff = await harness.runtime.statuses?.edgePolicies[.basicAuth]?[NamespacedName("default", "staff")]
        #expect(staff?.ancestors.first?.conditions.first?.status == "True", "every line is accepted: \(String(describing: staff))")
        func curl(_ path: String, _ user: String, _ password: String) async throws -> (code: String, body: String) {
            let answer = try await ExternalTool.curlOffThePool(["-u", "\(user):\(password)", "-H", "Host: edge.example.com",
                                                                "-w", "\n@@\n%{http_code}", "http://127.0.0.1:\(harness.port)\(path)"])
            return (answer.writeOut, answer.body)
        }
        for line in lines {
            let right = try await curl("/staff", line.user, line.password)
            let echoed = (try? JSONSerialization.jsonObject(with: Data(right.body.utf8))) as? [String: Any]
            #expect(right.code == "200" && (echoed?["headers"] as? [String: String])?["x-auth-user"] == line.user,
                    "\(line.made) → \(line.hash): \(right.code) \(right.body)")
            let wrong = try await curl("/staff", line.user, line.password + "!")
            #expect(wrong.code == "401", "\(line.made) with a wrong password: \(wrong.code)")
        }

        // Plain text is refused at translation, naming the Secret and the user, and its route fails closed.
        let plain = await harness.runtime.statuses?.edgePolicies[.basicAuth]?[NamespacedName("default", "plain")]
        let message = plain?.ancestors.first?.conditions.first?.message ?? ""
        #expect(message.contains("Secret default/plain-users key users: user dora: not a hash: plain-text passwords are not accepted"), "\(message)")
        #expect(!message.contains("explorer"), "the status never shows the password")
        #expect(try await curl("/plain", "dora", "explorer").code == "500")
    }
}
