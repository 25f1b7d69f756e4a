import Foundation
import NIOConcurrencyHelpers

/// A kubeconfig `user.exec` credential plugin (client.authentication.k8s.io/v1 or v1beta1 ExecCredential):
/// what EKS (`aws eks get-token`), GKE (`gke-gcloud-auth-plugin`) and AKS (`kubelogin`) kubeconfigs use.
/// The command prints an ExecCredential whose status holds a token (or a client certificate); the
/// token is kept until its `expirationTimestamp` and the command run again after. Hand-written: it is
/// a process run and a JSON read, and no package here implements it.
public final class ExecCredentialPlugin: Sendable {
    public struct Credential: Sendable {
        public var token: String?
        public var clientCertificatePEM: [UInt8]?
        public var clientKeyPEM: [UInt8]?
        public var expires: Date?
    }

    let command: String
    let arguments: [String]
    let environment: [String: String]
    let apiVersion: String
    private let cached = NIOLockedValueBox<Credential?>(nil)

    /// `exec` is the kubeconfig's `user.exec` mapping; a relative command with a slash is resolved
    /// next to the kubeconfig, a bare name through PATH, as kubectl does.
    init(exec: [String: Any], kubeconfigDirectory: String) throws {
        guard let command = exec["command"] as? String, !command.isEmpty else {
            throw KubeConnection.ConfigError("user.exec has no command")
        }
        self.command = command.contains("/") && !command.hasPrefix("/") ? kubeconfigDirectory + "/" + command : command
        arguments = exec["args"] as? [String] ?? []
        var environment: [String: String] = [:]
        for entry in exec["env"] as? [[String: Any]] ?? [] {
            if let name = entry["name"] as? String, let value = entry["value"] as? String { environment[name] = value }
        }
        self.environment = environment
        apiVersion = exec["apiVersion"] as? String ?? "client.authentication.k8s.io/v1"
    }

    /// The credential to use now: the cached one while it has not expired, else the command's.
    public func credential() throws -> Credential {
        if let known = cached.withLockedValue({ $0 }), (known.expires ?? .distantFuture) > Date().addingTimeInterval(10) {
            return known
        }
        let fresh = try run()
        cached.withLockedValue { $0 = fresh }
        return fresh
    }

    private func run() throws -> Credential {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [command] + arguments
        var env = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        env["KUBERNETES_EXEC_INFO"] = "{\"apiVersion\":\"\(apiVersion)\",\"kind\":\"ExecCredential\",\"spec\":{\"interactive\":false}}"
        process.environment = env
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw KubeConnection.ConfigError("exec credential plugin \(command): cannot run it: \(error)")
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw KubeConnection.ConfigError("exec credential plugin \(command) exited \(process.terminationStatus): \(stderr.prefix(500))")
        }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any], root["kind"] as? String == "ExecCredential",
              let status = root["status"] as? [String: Any] else {
            throw KubeConnection.ConfigError("exec credential plugin \(command) did not print an ExecCredential with a status")
        }
        var credential = Credential()
        credential.token = status["token"] as? String
        credential.clientCertificatePEM = (status["clientCertificateData"] as? String).map { Array($0.utf8) }
        credential.clientKeyPEM = (status["clientKeyData"] as? String).map { Array($0.utf8) }
        if let stamp = status["expirationTimestamp"] as? String { credential.expires = ISO8601DateFormatter().date(from: stamp) }
        guard credential.token != nil || (credential.clientCertificatePEM != nil && credential.clientKeyPEM != nil) else {
            throw KubeConnection.ConfigError("exec credential plugin \(command) gave neither a token nor a client certificate and key")
        }
        return credential
    }
}
