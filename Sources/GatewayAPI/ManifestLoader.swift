import Foundation
import Synchronization
import Yams

/// Reads Kubernetes manifests from files and directories: multi-document YAML, JSON, `kind: List`.
/// Every problem is collected (not thrown) so one bad document never hides the others.
public struct ManifestLoader: Sendable {
    public static let extensions: Set<String> = ["yaml", "yml", "json"]

    public struct Result: Sendable {
        public var resources: [LoadedResource]
        public var errors: [ManifestError]
        public init(resources: [LoadedResource], errors: [ManifestError]) {
            self.resources = resources
            self.errors = errors
        }
    }

    /// What each file parsed to, kept across loads by the same loader: a reload parses only the
    /// files whose bytes changed. At 10,000 routes in one file, re-reading it costs a millisecond,
    /// parsing it a second.
    private let parsedFiles = ParsedFiles()

    public init() {}

    /// All manifest files under the given paths, sorted so that loading is deterministic.
    public static func manifestFiles(in paths: [String]) -> [String] {
        var files: [String] = []
        let fm = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else {
                files.append(path)  // reported as unreadable by `load`
                continue
            }
            if !isDirectory.boolValue {
                files.append(path)
                continue
            }
            for entry in entries(under: path) {
                let url = URL(fileURLWithPath: entry)
                guard extensions.contains(url.pathExtension.lowercased()),
                      !url.lastPathComponent.hasPrefix(".") else { continue }
                files.append(entry)
            }
        }
        return files.sorted()
    }

    /// Everything under a configured directory, walked as configuration is read: the manifests among
    /// them are loaded (`manifestFiles`) and the directories among them watched (`DirectoryWatcher`).
    public static func entries(under directory: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
        var entries: [String] = []
        for case let relative as String in walker {
            entries.append((directory as NSString).appendingPathComponent(relative))
        }
        return entries
    }

    public func load(paths: [String]) -> Result {
        var result = Result(resources: [], errors: [])
        let files = Self.manifestFiles(in: paths)
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                result.errors.append(ManifestError(location: .init(file: file, document: 0),
                                                   message: "cannot read file (missing, unreadable or not UTF-8)"))
                continue
            }
            let parsed: Result
            if let known = parsedFiles.result(of: file, bytes: data) {
                parsed = known
            } else if let text = String(data: data, encoding: .utf8) {
                parsed = parse(text: text, file: file)
                parsedFiles.remember(parsed, of: file, bytes: data)
            } else {
                result.errors.append(ManifestError(location: .init(file: file, document: 0),
                                                   message: "cannot read file (missing, unreadable or not UTF-8)"))
                continue
            }
            result.resources += parsed.resources
            result.errors += parsed.errors
        }
        parsedFiles.keep(only: Set(files))
        result.errors += duplicateErrors(result.resources)
        return result
    }

    public func parse(text: String, file: String) -> Result {
        var result = Result(resources: [], errors: [])
        // Parse document by document: Yams' `compose_all` sequence silently stops at a syntax error,
        // which would make a half-written file look like a valid, shorter one. Each document is
        // decoded as soon as it is parsed, so that only one document's nodes are alive at a time
        // (10,000 routes' nodes at once were the peak of a load); a syntax error anywhere still
        // refuses the whole file.
        var count = 0
        do {
            let parser = try ManifestDecoder.parser(yaml: text)
            while let document = try parser.nextRoot() {
                count += 1
                decode(document: document, at: SourceLocation(file: file, document: count), into: &result)
            }
        } catch {
            return Result(resources: [], errors: [ManifestError(location: .init(file: file, document: count + 1),
                                                                message: "not valid YAML or JSON: \(error)")])
        }
        return result
    }

    /// Decodes one document already parsed into nodes (see `parse(json:file:)`).
    func parse(document: Node, file: String) -> Result {
        var result = Result(resources: [], errors: [])
        decode(document: document, at: SourceLocation(file: file, document: 1), into: &result)
        return result
    }

    private func decode(document: Node, at location: SourceLocation, into result: inout Result) {
        if document.kindName == "List" || document.kindName?.hasSuffix("List") == true && document.field("items") != nil {
            for (itemIndex, item) in (document.field("items")?.array() ?? []).enumerated() {
                decode(item, at: location, fieldPrefix: "items[\(itemIndex)].", into: &result)
            }
        } else if case .scalar(let scalar) = document, scalar.string.isEmpty || scalar.string == "null" {
            return  // an empty document between `---` separators
        } else {
            decode(document, at: location, fieldPrefix: "", into: &result)
        }
    }

    private func decode(_ node: Node, at location: SourceLocation, fieldPrefix: String, into result: inout Result) {
        guard node.mapping != nil else {
            result.errors.append(ManifestError(location: location, field: fieldPrefix.isEmpty ? nil : String(fieldPrefix.dropLast()),
                                               message: "a manifest must be a mapping with apiVersion and kind"))
            return
        }
        guard let kind = node.kindName, let apiVersion = node.field("apiVersion")?.string else {
            result.errors.append(ManifestError(location: location, field: fieldPrefix + "kind",
                                               message: "apiVersion and kind are required"))
            return
        }
        let name = node.field("metadata")?.field("name")?.string
        let namespace = node.field("metadata")?.field("namespace")?.string
        let objectText = "\(kind) " + (namespace.map { "\($0)/" } ?? "") + (name ?? "<unnamed>")
        do {
            var resource = try ResourceDecoder.decode(node, kind: kind, apiVersion: apiVersion)
            resource.defaultNamespace()
            let problems = resource.validationProblems()
            if problems.isEmpty {
                result.resources.append(LoadedResource(location: location, resource: resource))
            } else {
                for problem in problems {
                    result.errors.append(ManifestError(location: location, object: objectText,
                                                       field: fieldPrefix + problem.field, message: problem.message))
                }
                // Still an error, but the pool is kept so that its status can say why it hands out nothing
                // (in a cluster, nobody reads archway's log); the allocator takes from no pool it cannot read.
                switch resource {
                case .addressPool, .acmeIssuer: result.resources.append(LoadedResource(location: location, resource: resource))
                default: break
                }
            }
        } catch let error as FieldProblemError {
            result.errors.append(ManifestError(location: location, object: objectText, field: fieldPrefix + error.field, message: error.message))
        } catch let error as DecodingError {
            let (path, message) = Self.describe(error)
            result.errors.append(ManifestError(location: location, object: objectText, field: fieldPrefix + path, message: message))
            keepPlaceholder(for: node, kind: kind, apiVersion: apiVersion, problem: "\(path): \(message) (\(location))", at: location, into: &result)
        } catch {
            result.errors.append(ManifestError(location: location, object: objectText, message: "\(error)"))
            keepPlaceholder(for: node, kind: kind, apiVersion: apiVersion, problem: "\(error) (\(location))", at: location, into: &result)
        }
    }

    /// An edge policy that cannot be decoded is still an error (a file-mode change is refused whole),
    /// but where the rest is served anyway (the first load, a cluster) its targets must be refused,
    /// not served as if the policy had never been written.
    private func keepPlaceholder(for node: Node, kind: String, apiVersion: String, problem: String,
                                 at location: SourceLocation, into result: inout Result) {
        guard var resource = ResourceDecoder.placeholder(for: node, kind: kind, apiVersion: apiVersion, problem: problem) else { return }
        resource.defaultNamespace()
        result.resources.append(LoadedResource(location: location, resource: resource))
    }

    private func duplicateErrors(_ resources: [LoadedResource]) -> [ManifestError] {
        var seen: [ObjectRef: SourceLocation] = [:]
        var errors: [ManifestError] = []
        for loaded in resources {
            if case .other = loaded.resource { continue }
            let ref = loaded.resource.ref
            if let first = seen[ref] {
                errors.append(ManifestError(location: loaded.location, object: ref.description,
                                            message: "defined twice; first definition at \(first)"))
            } else {
                seen[ref] = loaded.location
            }
        }
        return errors
    }

    static func describe(_ error: DecodingError) -> (path: String, message: String) {
        func render(_ path: [any CodingKey]) -> String {
            var text = ""
            for key in path {
                if let index = key.intValue {
                    text += "[\(index)]"
                } else {
                    text += (text.isEmpty ? "" : ".") + key.stringValue
                }
            }
            return text
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = render(context.codingPath)
            return (parent.isEmpty ? key.stringValue : parent + "." + key.stringValue, "required field is missing")
        case .typeMismatch(let type, let context):
            return (render(context.codingPath), "expected \(Self.typeName(type))")
        case .valueNotFound(let type, let context):
            return (render(context.codingPath), "expected \(Self.typeName(type)), found null")
        case .dataCorrupted(let context):
            return (render(context.codingPath), context.debugDescription)
        @unknown default:
            return ("", "\(error)")
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is Int64.Type, is Int32.Type: "an integer"
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        default: "\(type)".contains("Array") ? "a list" : "a mapping"
        }
    }
}

/// Files' bytes and what they parsed to. Compared by content, not by modification time: the kernel
/// stamps files with a coarse clock, so two writes of the same size within a few milliseconds look
/// alike to `stat`.
private final class ParsedFiles: Sendable {
    private let files = Mutex<[String: (bytes: Data, result: ManifestLoader.Result)]>([:])

    func result(of file: String, bytes: Data) -> ManifestLoader.Result? {
        files.withLock { files in files[file].flatMap { $0.bytes == bytes ? $0.result : nil } }
    }

    func remember(_ result: ManifestLoader.Result, of file: String, bytes: Data) {
        files.withLock { $0[file] = (bytes, result) }
    }

    func keep(only present: Set<String>) {
        files.withLock { files in files = files.filter { present.contains($0.key) } }
    }
}

extension Node {
    var kindName: String? { field("kind")?.string }
}
