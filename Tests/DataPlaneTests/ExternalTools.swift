import Foundation
import NIOConcurrencyHelpers

/// Real clients and tools the protocol tests drive: curl, openssl, dig, htpasswd, mkpasswd. `.ci/run` installs them.
enum ExternalTool {
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ tool: String, _ arguments: [String], stdin: String? = nil) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try? input.fileHandleForWriting.close()
        // Both pipes are drained at once: a tool that fills stderr while stdout is being read to the
        // end (Chromium is chatty) would otherwise wait on us forever.
        let stderrData = NIOLockedValueBox(Data())
        let drained = DispatchSemaphore(value: 0)
        let errorReader = Thread {
            stderrData.withLockedValue { $0 = err.fileHandleForReading.readDataToEndOfFile() }
            drained.signal()
        }
        errorReader.start()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        let stderr = stderrData.withLockedValue { $0 }
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// curl on a thread of its own, for a test whose gateway needs Swift concurrency's few threads while
    /// curl waits (a ForwardAuth sub-request runs on them): blocking one there can starve the gateway.
    static func curlOffThePool(_ arguments: [String]) async throws -> (status: Int32, body: String, writeOut: String, stderr: String) {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try curl(arguments) }) }
        }
    }

    /// `run` on a thread of its own, for the same reason as `curlOffThePool` (dig, a Python client).
    static func runOffThePool(_ tool: String, _ arguments: [String]) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try run(tool, arguments) }) }
        }
    }

    /// curl with a time limit; `-w` output goes after a marker line so the body and the figures separate.
    static func curl(_ arguments: [String]) throws -> (status: Int32, body: String, writeOut: String, stderr: String) {
        let result = try run("curl", ["-sS", "--max-time", "10"] + arguments)
        let parts = result.stdout.components(separatedBy: "\n@@\n")
        return (result.status, parts.first ?? "", parts.count > 1 ? parts[1] : "", result.stderr)
    }
}

/// A self-signed ECDSA P-256 certificate made by openssl for the given DNS names.
struct TestCertificate {
    let chainPEM: String
    let keyPEM: String
    /// The certificate on disk, for `curl --cacert`.
    let path: String

    init(names: [String], in directory: URL) throws {
        let base = directory.appendingPathComponent("cert-\(UUID().uuidString)").path
        let result = try ExternalTool.run("openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", base + ".key", "-out", base + ".crt", "-days", "2", "-subj", "/CN=\(names[0])",
            "-addext", "subjectAltName=" + names.map { "DNS:\($0)" }.joined(separator: ","),
        ])
        guard result.status == 0 else { throw HarnessError.timeout("openssl failed: \(result.stderr)") }
        chainPEM = try String(contentsOfFile: base + ".crt", encoding: .utf8)
        keyPEM = try String(contentsOfFile: base + ".key", encoding: .utf8)
        path = base + ".crt"
    }

    private init(chainPEM: String, keyPEM: String, path: String) {
        self.chainPEM = chainPEM
        self.keyPEM = keyPEM
        self.path = path
    }

    /// A certificate authority (self-signed, CA:TRUE).
    static func authority(_ name: String, in directory: URL) throws -> TestCertificate {
        let base = directory.appendingPathComponent("ca-\(UUID().uuidString)").path
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", base + ".key", "-out", base + ".crt", "-days", "2", "-subj", "/CN=\(name)",
                     "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        return try load(base)
    }

    /// A leaf certificate for `names`, signed by this authority.
    func issue(_ names: [String], in directory: URL) throws -> TestCertificate {
        let base = directory.appendingPathComponent("leaf-\(UUID().uuidString)").path
        let caBase = String(path.dropLast(4))
        // A name with a scheme ("spiffe://...") goes in as a URI, any other as a DNS name.
        let alternatives = names.map { $0.contains("://") ? "URI:\($0)" : "DNS:\($0)" }.joined(separator: ",")
        try "subjectAltName=\(alternatives)\n".write(toFile: base + ".ext", atomically: true, encoding: .utf8)
        try Self.openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                          "-keyout", base + ".key", "-out", base + ".csr", "-subj", "/CN=\(names[0])"])
        try Self.openssl(["x509", "-req", "-in", base + ".csr", "-CA", path, "-CAkey", caBase + ".key", "-CAcreateserial",
                          "-out", base + ".crt", "-days", "2", "-extfile", base + ".ext"])
        return try Self.load(base)
    }

    private static func openssl(_ arguments: [String]) throws {
        let result = try ExternalTool.run("openssl", arguments)
        guard result.status == 0 else { throw HarnessError.timeout("openssl \(arguments[0]) failed: \(result.stderr)") }
    }

    private static func load(_ base: String) throws -> TestCertificate {
        TestCertificate(chainPEM: try String(contentsOfFile: base + ".crt", encoding: .utf8),
                        keyPEM: try String(contentsOfFile: base + ".key", encoding: .utf8), path: base + ".crt")
    }

    /// A ConfigMap holding this (CA) certificate under `ca.crt`, as BackendTLSPolicy reads it.
    func caConfigMap(_ name: String) -> String {
        let indented = chainPEM.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n")
        return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: \(name)}\ndata:\n  ca.crt: |\n\(indented)"
    }

    /// A `kubernetes.io/tls` Secret holding this certificate.
    func secret(_ name: String, namespace: String = "default", key: String? = nil) -> String {
        func b64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
        return """
        apiVersion: v1
        kind: Secret
        metadata: {name: \(name), namespace: \(namespace)}
        type: kubernetes.io/tls
        data: {tls.crt: \(b64(chainPEM)), tls.key: \(b64(key ?? keyPEM))}
        """
    }
}
