import Foundation
import GatewayAPI

/// What ACME automation keeps in the state directory (file mode): each issuer's account (its key, so
/// a restart reuses the account instead of opening another) and each certificate obtained, which a
/// restart serves as it is instead of ordering again. One JSON file each, written whole and renamed.
struct ACMEStateStore: Sendable {
    let directory: StateDirectory

    struct Account: Codable, Equatable {
        var server: String
        var keyPEM: String
        var url: String?
    }

    struct StoredCertificate: Codable, Equatable {
        var issuer: String
        var names: [String]
        var chainPEM: String
        var keyPEM: String
        var obtainedAt: Date
    }

    // Object names are DNS subdomains and labels, but a manifest is not checked by an API server in
    // file mode: anything that could climb out of the directory is refused by name.
    private static func safe(_ part: String) throws -> String {
        guard !part.isEmpty, !part.contains("/"), !part.hasPrefix("."), part.count <= 253 else {
            throw StateDirectory.Problem(description: "\"\(part)\" cannot name a file in the state directory")
        }
        return part
    }
    private static func accountFile(_ issuer: String) throws -> String { "acme/accounts/\(try safe(issuer)).json" }
    private static func certificateFile(_ secret: NamespacedName) throws -> String {
        "acme/certificates/\(try safe(secret.namespace))/\(try safe(secret.name)).json"
    }

    func account(of issuer: String) throws -> Account? {
        try directory.read(try Self.accountFile(issuer), as: Account.self)
    }

    func save(_ account: Account, of issuer: String) throws {
        try directory.write(try Self.accountFile(issuer), account)
    }

    func certificate(for secret: NamespacedName) throws -> StoredCertificate? {
        try directory.read(try Self.certificateFile(secret), as: StoredCertificate.self)
    }

    func save(_ certificate: StoredCertificate, for secret: NamespacedName) throws {
        try directory.write(try Self.certificateFile(secret), certificate)
    }

    /// Every stored certificate, by the Secret it is for: what a restart serves before anything else.
    func allCertificates() -> (certificates: [NamespacedName: StoredCertificate], unreadable: [String]) {
        let root = directory.url.appendingPathComponent("acme/certificates")
        var found: [NamespacedName: StoredCertificate] = [:]
        var unreadable: [String] = []
        let namespaces = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        for namespace in namespaces where !namespace.hasPrefix(".") {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(namespace).path)) ?? []
            for file in files where file.hasSuffix(".json") && !file.hasPrefix(".") {
                let secret = NamespacedName(namespace, String(file.dropLast(5)))
                // One unreadable file costs its own certificate (ordered again), not all of them.
                do {
                    if let certificate = try self.certificate(for: secret) { found[secret] = certificate }
                } catch {
                    unreadable.append("\(error)")
                }
            }
        }
        return (found, unreadable)
    }
}
