import Foundation
import GatewayAPI
import Providers

/// ACME state in a cluster, where any replica may lead tomorrow: each issuer's account in a Secret of
/// archway's own namespace (`archway-acme-account-ISSUER`: its key, directory and URL), each
/// certificate in the Secret the listener names, written through the API server and marked with
/// archway's annotations; challenges reach the other replicas through the ACMEIssuer's status, which
/// the leader writes and every replica watches.
struct KubernetesACMEStore: ACMEStorage {
    let client: KubeClient
    /// Where account Secrets live: archway's namespace.
    let namespace: String
    /// Labels every Secret archway writes carries: the equality terms of `--secret-label-selector`,
    /// so replicas that watch only selected Secrets see them.
    let labels: [String: String]
    /// After the API server holds a challenge: the time the other replicas need to see it and apply
    /// it (a watch event, the debounce and one translation).
    let propagation: Duration

    var isShared: Bool { true }

    static func accountSecretName(_ issuer: String) -> String { "archway-acme-account-\(issuer)" }

    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    // MARK: Accounts

    func account(of issuer: String) async throws -> ACMEStateStore.Account? {
        guard let secret = try await read(NamespacedName(namespace, Self.accountSecretName(issuer))) else { return nil }
        guard let server = secret.value(forKey: "server"), let key = secret.value(forKey: "key.pem") else {
            throw Problem(description: "Secret \(namespace)/\(Self.accountSecretName(issuer)) lacks the keys server and key.pem of an ACME account")
        }
        return .init(server: server, keyPEM: key, url: secret.value(forKey: "url"))
    }

    func save(_ account: ACMEStateStore.Account, of issuer: String) async throws {
        let name = NamespacedName(namespace, Self.accountSecretName(issuer))
        var metadata = ObjectMeta(name: name.name, namespace: name.namespace, labels: labels.isEmpty ? nil : labels)
        metadata.annotations = [ACMEIssuer.gatewayAnnotation: issuer]
        var data = ["server": account.server, "key.pem": account.keyPEM]
        data["url"] = account.url
        try await write(Secret(metadata: metadata, type: "Opaque", data: data.mapValues { Data($0.utf8).base64EncodedString() }),
                        replacing: \.isWrittenByACMEAutomation)
    }

    // MARK: Certificates

    func certificates(among secrets: [NamespacedName: Secret]) -> (certificates: [NamespacedName: ACMEStateStore.StoredCertificate], unreadable: [String]) {
        var found: [NamespacedName: ACMEStateStore.StoredCertificate] = [:]
        for (name, secret) in secrets where name.namespace != namespace || !name.name.hasPrefix("archway-acme-account-") {
            if let certificate = ACMEStateStore.StoredCertificate(writtenIn: secret) { found[name] = certificate }
        }
        return (found, [])
    }

    /// Creates the Secret, or updates it when archway wrote it; a Secret someone else wrote is never replaced.
    func save(_ certificate: ACMEStateStore.StoredCertificate, for secret: NamespacedName) async throws {
        try await write(certificate.secret(as: secret, labels: labels.isEmpty ? nil : labels), replacing: \.isWrittenByACMEAutomation)
    }

    func refusal(toWrite secret: NamespacedName) async throws -> String? {
        guard let existing = try await read(secret), !existing.isWrittenByACMEAutomation else { return nil }
        return Self.notOurs(secret)
    }

    static func notOurs(_ name: NamespacedName) -> String {
        "Secret \(name) exists and archway did not write it: archway never replaces a Secret it did not write (delete it, or name another Secret in the listener)"
    }

    // MARK: Challenges

    /// Waits until the API server's copy of the issuer's status lists the challenge (the leader's
    /// status write landed, so every watch delivers it), then for the others to apply it.
    func waitUntilAnswered(_ challenge: PresentedChallenge, issuer: String) async throws {
        let path = KubeKind.acmeIssuer.objectPath(namespace: nil, name: issuer)
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            let response = try await client.send(.GET, path)
            guard response.status == 200 else {
                throw Problem(description: "reading ACMEIssuer \(issuer) to see the shared challenge: HTTP \(response.status): \(response.message)")
            }
            let status = response.object?["status"] as? [String: Any]
            let listed = (status?["challenges"] as? [[String: Any]] ?? []).contains {
                $0["name"] as? String == challenge.name && $0["keyAuthorization"] as? String == challenge.keyAuthorization
            }
            if listed { break }
            guard ContinuousClock.now < deadline else {
                throw Problem(description: "the challenge for \(challenge.name) did not reach ACMEIssuer \(issuer)'s status within 30 s (last answer: HTTP \(response.status)); the other replicas could not answer it")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        try await Task.sleep(for: propagation)
    }

    // MARK: REST

    private func read(_ name: NamespacedName) async throws -> Secret? {
        let response = try await client.send(.GET, KubeKind.secret.objectPath(namespace: name.namespace, name: name.name))
        if response.status == 404 { return nil }
        guard response.status == 200 else {
            throw Problem(description: "reading Secret \(name): HTTP \(response.status): \(response.message)")
        }
        return try JSONDecoder().decode(Secret.self, from: response.body)
    }

    /// Create, or update at the version read (a concurrent change fails with 409 rather than being lost).
    private func write(_ secret: Secret, replacing mayReplace: (Secret) -> Bool) async throws {
        let name = NamespacedName(secret.metadata.namespace ?? "default", secret.metadata.name)
        let kind = KubeKind.secret
        if let existing = try await read(name) {
            guard mayReplace(existing) else { throw Problem(description: Self.notOurs(name)) }
            var updated = secret
            updated.metadata.resourceVersion = existing.metadata.resourceVersion
            try await client.expectOK(.PUT, kind.objectPath(namespace: name.namespace, name: name.name), body: try Self.body(updated))
        } else {
            try await client.expectOK(.POST, kind.collectionPath(namespace: name.namespace), body: try Self.body(secret))
        }
    }

    /// The API server wants apiVersion and kind in a body it creates from.
    private static func body(_ secret: Secret) throws -> Data {
        var object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(secret)) as? [String: Any] ?? [:]
        object["apiVersion"] = "v1"
        object["kind"] = "Secret"
        return try JSONSerialization.data(withJSONObject: object)
    }
}
