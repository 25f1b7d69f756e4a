import Foundation

/// Where `serve` in file mode keeps what it decided and must remember across restarts, since it
/// has no API server to write it to: the addresses the pools gave (`addresses.json`), and ACME
/// accounts and certificates (`acme/`).
/// Never the manifests' directory: archway does not write where the user's configuration lives, and
/// a file there would be read back as a manifest. Each file is written whole to a temporary name and
/// renamed over the old one, so a crash mid-write leaves the previous version, never half of one.
public struct StateDirectory: Sendable {
    public let url: URL

    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }

    /// Refuses a directory inside (or equal to) a configuration path, naming both.
    public init(path: String, configPaths: [String]) throws {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        for config in configPaths {
            let configURL = URL(fileURLWithPath: config).standardizedFileURL
            if url.path == configURL.path || url.path.hasPrefix(configURL.path.hasSuffix("/") ? configURL.path : configURL.path + "/") {
                throw Problem(description: "--state-dir \(path) is inside --config \(config): archway would read its own state files back as manifests; choose a directory outside it")
            }
        }
        self.url = url
    }

    /// The decoded file, nil when it does not exist yet; a file that cannot be read or decoded throws
    /// an error naming it.
    func read<Value: Decodable>(_ name: String, as type: Value.Type) throws -> Value? {
        let file = url.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try decoder.decode(type, from: Data(contentsOf: file))
        } catch {
            throw Problem(description: "\(file.path): \(error)")
        }
    }

    func write(_ name: String, _ value: some Encodable) throws {
        let file = url.appendingPathComponent(name)
        do {
            let folder = file.deletingLastPathComponent()
            // Private: it may hold account keys and certificate keys.
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.dateEncodingStrategy = .iso8601
            let temporary = folder.appendingPathComponent(".\(file.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp")
            guard FileManager.default.createFile(atPath: temporary.path, contents: try encoder.encode(value), attributes: [.posixPermissions: 0o600]) else {
                throw Problem(description: "cannot create \(temporary.path)")
            }
            guard rename(temporary.path, file.path) == 0 else { throw Problem(description: String(cString: strerror(errno))) }
        } catch {
            throw Problem(description: "cannot write \(file.path): \(error)")
        }
    }
}
