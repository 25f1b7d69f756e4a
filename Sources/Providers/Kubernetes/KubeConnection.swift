import Foundation
import NIOSSL
import Yams

/// Where the API server is and how to prove who we are: a bearer token or a client certificate,
/// and the CA that signs the server's certificate.
public struct KubeConnection: Sendable {
    public var server: String
    public var token: String?
    /// Read again on every request when set: projected service-account tokens rotate on disk.
    public var tokenFile: String?
    public var caPEM: [UInt8]?
    public var clientCertificatePEM: [UInt8]?
    public var clientKeyPEM: [UInt8]?
    public var insecureSkipTLSVerify = false
    /// A kubeconfig `exec` plugin that hands out (and renews) the token.
    public var execPlugin: ExecCredentialPlugin?
    /// The namespace archway itself runs in (its Lease lives there).
    public var namespace = "default"

    public init(server: String, token: String? = nil) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.token = token
    }

    public struct ConfigError: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// What `--kubeconfig` left unsaid, as kubectl resolves it: in a pod, the service account; outside
    /// one, the first file of `$KUBECONFIG`, else `~/.kube/config`.
    public static func resolve(kubeconfig: String?, context: String?,
                               environment: [String: String] = ProcessInfo.processInfo.environment) throws -> KubeConnection {
        if let kubeconfig { return try Self.kubeconfig(path: kubeconfig, context: context) }
        if environment["KUBERNETES_SERVICE_HOST"] != nil { return try inCluster(environment: environment) }
        let candidates = (environment["KUBECONFIG"] ?? "").split(separator: ":").map(String.init)
            + [(environment["HOME"] ?? NSHomeDirectory()) + "/.kube/config"]
        guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw ConfigError("no cluster credentials: not in a pod, $KUBECONFIG unset or missing, and no ~/.kube/config; pass --kubeconfig")
        }
        return try Self.kubeconfig(path: path, context: context)
    }

    /// In a pod: the API server from KUBERNETES_SERVICE_HOST/PORT, the service account's token, CA and namespace.
    public static func inCluster(environment: [String: String] = ProcessInfo.processInfo.environment,
                                 directory: String = serviceAccountDirectory) throws -> KubeConnection {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], let port = environment["KUBERNETES_SERVICE_PORT"] else {
            throw ConfigError("not running in a pod (KUBERNETES_SERVICE_HOST/PORT unset); pass --kubeconfig")
        }
        let tokenFile = directory + "/token"
        guard let token = try? String(contentsOfFile: tokenFile, encoding: .utf8) else {
            throw ConfigError("cannot read the service account token at \(tokenFile)")
        }
        let bracketed = host.contains(":") ? "[\(host)]" : host
        var connection = KubeConnection(server: "https://\(bracketed):\(port)", token: token.trimmingCharacters(in: .whitespacesAndNewlines))
        connection.tokenFile = tokenFile
        connection.caPEM = FileManager.default.contents(atPath: directory + "/ca.crt").map { Array($0) }
        if let namespace = try? String(contentsOfFile: directory + "/namespace", encoding: .utf8) {
            connection.namespace = namespace.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return connection
    }

    /// A kubeconfig file's current (or named) context: server, CA, and token or client certificate,
    /// inline (`*-data`, base64) or as file paths relative to the kubeconfig.
    public static func kubeconfig(path: String, context requested: String? = nil) throws -> KubeConnection {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw ConfigError("cannot read kubeconfig \(path)") }
        guard let root = try? Yams.load(yaml: text) as? [String: Any] else { throw ConfigError("\(path): not a YAML mapping") }
        func named(_ list: String, _ name: String) throws -> [String: Any] {
            let entries = root[list] as? [[String: Any]] ?? []
            guard let entry = entries.first(where: { $0["name"] as? String == name }),
                  let body = entry[String(list.dropLast())] as? [String: Any] else {
                throw ConfigError("\(path): \(list) has no entry named \(name)")
            }
            return body
        }
        guard let contextName = requested ?? root["current-context"] as? String else {
            throw ConfigError("\(path): no current-context; pass --kube-context")
        }
        let context = try named("contexts", contextName)
        guard let clusterName = context["cluster"] as? String, let userName = context["user"] as? String else {
            throw ConfigError("\(path): context \(contextName) needs cluster and user")
        }
        let cluster = try named("clusters", clusterName)
        let user = try named("users", userName)
        guard let server = cluster["server"] as? String else { throw ConfigError("\(path): cluster \(clusterName) has no server") }
        let base = (path as NSString).deletingLastPathComponent
        func bytes(_ fields: [String: Any], inline: String, file: String) throws -> [UInt8]? {
            if let data = fields[inline] as? String {
                guard let decoded = Data(base64Encoded: data, options: .ignoreUnknownCharacters) else {
                    throw ConfigError("\(path): \(inline) is not base64")
                }
                return Array(decoded)
            }
            guard let name = fields[file] as? String else { return nil }
            let full = name.hasPrefix("/") ? name : base + "/" + name
            guard let data = FileManager.default.contents(atPath: full) else { throw ConfigError("\(path): cannot read \(file) \(full)") }
            return Array(data)
        }
        var connection = KubeConnection(server: server, token: user["token"] as? String)
        if connection.token == nil, let tokenFile = user["tokenFile"] as? String {
            connection.tokenFile = tokenFile.hasPrefix("/") ? tokenFile : base + "/" + tokenFile
            connection.token = connection.currentToken()
        }
        connection.caPEM = try bytes(cluster, inline: "certificate-authority-data", file: "certificate-authority")
        connection.insecureSkipTLSVerify = cluster["insecure-skip-tls-verify"] as? Bool ?? false
        connection.clientCertificatePEM = try bytes(user, inline: "client-certificate-data", file: "client-certificate")
        connection.clientKeyPEM = try bytes(user, inline: "client-key-data", file: "client-key")
        if let namespace = context["namespace"] as? String { connection.namespace = namespace }
        if connection.token == nil, connection.clientCertificatePEM == nil, let exec = user["exec"] as? [String: Any] {
            let plugin = try ExecCredentialPlugin(exec: exec, kubeconfigDirectory: base)
            // Run once now: a plugin that cannot work is reported at start, not at the first watch.
            let credential = try plugin.credential()
            connection.execPlugin = plugin
            connection.clientCertificatePEM = credential.clientCertificatePEM
            connection.clientKeyPEM = credential.clientKeyPEM
        }
        if connection.token == nil, connection.clientCertificatePEM == nil, connection.execPlugin == nil {
            throw ConfigError("\(path): user \(userName) has neither a token, a client certificate nor an exec plugin (auth-provider plugins are not supported)")
        }
        return connection
    }

    /// The token to send now: read again from its file when there is one.
    public func currentToken() -> String? {
        if let execPlugin { return try? execPlugin.credential().token }
        if let tokenFile, let text = try? String(contentsOfFile: tokenFile, encoding: .utf8) {
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return token
    }

    func tlsConfiguration() throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        if insecureSkipTLSVerify {
            tls.certificateVerification = .none
        } else if let caPEM {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(caPEM))
        }
        if let clientCertificatePEM, let clientKeyPEM {
            tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(clientCertificatePEM).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: clientKeyPEM, format: .pem))
        }
        return tls
    }
}
