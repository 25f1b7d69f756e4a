import ArchwayCore
import Foundation
import Providers
import Testing

/// How archway finds and authenticates to the API server: kubeconfig files and a pod's service account.
@Suite(.timeLimit(.minutes(1)))
struct KubeConnectionTests {
    static func directory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kubeconfig-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func kubeconfigWithTokenReachesTheServerItNames() async throws {
        let harness = GatewayHarness()
        let server = try await KubernetesTests.cluster(group: harness)
        defer { Task { await harness.stop(); await server.stop() } }
        let directory = try Self.directory()
        let path = directory.appendingPathComponent("config").path
        try """
            apiVersion: v1
            kind: Config
            current-context: test
            contexts:
            - name: other
              context: {cluster: nowhere, user: nobody}
            - name: test
              context: {cluster: fake, user: admin, namespace: archway-system}
            clusters:
            - name: fake
              cluster: {server: "\(server.url)"}
            users:
            - name: admin
              user: {token: secret-token}
            """.write(toFile: path, atomically: true, encoding: .utf8)

        let connection = try KubeConnection.kubeconfig(path: path)
        #expect(connection.server == server.url)
        #expect(connection.token == "secret-token")
        #expect(connection.namespace == "archway-system")
        harness.kubernetes = try KubernetesMode(options: .init(connection: connection, lease: nil, identity: "a"),
                                                controllerName: KubernetesTests.controller, logger: KubernetesTests.logger)
        try await harness.start()
        #expect(try await harness.send("/", host: "a").echoName == "svc")
    }

    @Test func kubeconfigWithClientCertificateAndCAFromFiles() async throws {
        let directory = try Self.directory()
        let authority = try TestCertificate.authority("cluster-ca", in: directory)
        let client = try authority.issue(["archway"], in: directory)
        try client.keyPEM.write(toFile: directory.appendingPathComponent("client.key").path, atomically: true, encoding: .utf8)
        let path = directory.appendingPathComponent("config").path
        let caData = Data(authority.chainPEM.utf8).base64EncodedString()
        try """
            apiVersion: v1
            kind: Config
            current-context: tls
            contexts: [{name: tls, context: {cluster: c, user: u}}]
            clusters: [{name: c, cluster: {server: "https://10.0.0.1:6443", certificate-authority-data: \(caData)}}]
            users: [{name: u, user: {client-certificate: "\(client.path)", client-key: client.key}}]
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let connection = try KubeConnection.kubeconfig(path: path)
        #expect(connection.caPEM.map { String(decoding: $0, as: UTF8.self) } == authority.chainPEM)
        #expect(connection.clientKeyPEM.map { String(decoding: $0, as: UTF8.self) } == client.keyPEM, "a relative path is read next to the kubeconfig")
        #expect(connection.token == nil)
        let kubeClient = try KubeClient(connection: connection)  // the TLS configuration accepts the CA and the key pair
        await kubeClient.shutdown()

        // What cannot work is said plainly, at start.
        try "apiVersion: v1\nkind: Config\ncurrent-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: https://h}}]\nusers: [{name: u, user: {exec: {command: no-such-credential-helper}}}]\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: KubeConnection.ConfigError.self) { try KubeConnection.kubeconfig(path: path) }
        #expect(error?.description.contains("exec credential plugin no-such-credential-helper exited 127") == true, "\(error?.description ?? "")")
    }

    /// An EKS/GKE/AKS-style kubeconfig: the token comes from an exec plugin (a script printing an
    /// ExecCredential), found next to the kubeconfig, and a server that demands it is reached with it.
    /// Outside a pod, with no --kubeconfig, `$KUBECONFIG` is where archway looks.
    @Test func execCredentialPluginAndKUBECONFIG() async throws {
        let harness = GatewayHarness()
        let server = try await KubernetesTests.cluster(group: harness)
        defer { Task { await harness.stop(); await server.stop() } }
        server.requiredToken = "token-from-plugin"
        let directory = try Self.directory()
        let plugin = directory.appendingPathComponent("bin/get-token")
        try FileManager.default.createDirectory(at: plugin.deletingLastPathComponent(), withIntermediateDirectories: true)
        try """
            #!/bin/sh
            # Proves it was called as kubectl calls it: KUBERNETES_EXEC_INFO set, the kubeconfig's env passed.
            case "$KUBERNETES_EXEC_INFO" in *ExecCredential*) ;; *) echo "no exec info" >&2; exit 3 ;; esac
            printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"2999-01-01T00:00:00Z"}}' "$TOKEN_VALUE"
            """.write(to: plugin, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: plugin.path)
        let path = directory.appendingPathComponent("config").path
        try """
            apiVersion: v1
            kind: Config
            current-context: eks
            contexts: [{name: eks, context: {cluster: fake, user: iam}}]
            clusters: [{name: fake, cluster: {server: "\(server.url)"}}]
            users:
            - name: iam
              user:
                exec:
                  apiVersion: client.authentication.k8s.io/v1
                  command: ./bin/get-token
                  args: [--cluster, fake]
                  env: [{name: TOKEN_VALUE, value: token-from-plugin}]
                  interactiveMode: Never
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let connection = try KubeConnection.resolve(kubeconfig: nil, context: nil, environment: ["KUBECONFIG": "/nonexistent:" + path, "HOME": "/nonexistent"])
        #expect(connection.server == server.url)
        #expect(connection.currentToken() == "token-from-plugin")
        harness.kubernetes = try KubernetesMode(options: .init(connection: connection, lease: nil, identity: "a"),
                                                controllerName: KubernetesTests.controller, logger: KubernetesTests.logger)
        try await harness.start()
        #expect(try await harness.send("/", host: "a").echoName == "svc", "the watch was authorised with the plugin's token")
        #expect(throws: KubeConnection.ConfigError.self) {
            try KubeConnection.resolve(kubeconfig: nil, context: nil, environment: ["HOME": "/nonexistent"])
        }
    }

    @Test func inClusterReadsTheServiceAccount() throws {
        let directory = try Self.directory()
        try "pod-token\n".write(to: directory.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        try "archway-system".write(to: directory.appendingPathComponent("namespace"), atomically: true, encoding: .utf8)
        let connection = try KubeConnection.inCluster(environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"],
                                                      directory: directory.path)
        #expect(connection.server == "https://10.96.0.1:443")
        #expect(connection.namespace == "archway-system")
        // Projected tokens rotate: each request reads the file again.
        try "rotated-token".write(to: directory.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        #expect(connection.currentToken() == "rotated-token")
        #expect(throws: KubeConnection.ConfigError.self) { try KubeConnection.inCluster(environment: [:], directory: directory.path) }
    }
}
