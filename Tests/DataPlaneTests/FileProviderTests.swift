import Foundation
import GatewayAPI
import Providers
import Synchronization
import Testing

/// File mode sees a change by inotify, not by waiting for a poll: with the poll and the safety poll
/// set to a minute, every change below can only be seen within seconds through inotify.
@Suite(.timeLimit(.minutes(2)))
struct FileProviderTests {
    static let never: Duration = .seconds(60)

    static func configMap(_ name: String, _ value: String) -> String {
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: \(name), namespace: default}\ndata: {v: \"\(value)\"}\n"
    }

    /// The ConfigMaps of a load, name → value, and how many errors it had.
    static func summary(_ result: ManifestLoader.Result) -> (values: [String: String], errors: Int) {
        var values: [String: String] = [:]
        for loaded in result.resources {
            if case .configMap(let map) = loaded.resource { values[map.metadata.name] = map.data?["v"] ?? "" }
        }
        return (values, result.errors.count)
    }

    /// A temporary directory, a provider over `paths` in it (default: the directory itself), and every load it yields.
    final class Watching: Sendable {
        let directory: URL
        let provider: FileProvider
        private let loads = Mutex<[(values: [String: String], errors: Int)]>([])
        private let task = Mutex<Task<Void, Never>?>(nil)

        init(files: [String: String], paths: [String]? = nil, quietPeriod: Duration = .milliseconds(50), usesEvents: Bool = true,
             interval: Duration = FileProviderTests.never) throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("archway-files-\(UUID().uuidString)")
            self.directory = directory
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            for (name, text) in files { try text.write(to: directory.appendingPathComponent(name), atomically: false, encoding: .utf8) }
            provider = FileProvider(paths: paths?.map { directory.appendingPathComponent($0).path } ?? [directory.path], interval: interval,
                                    quietPeriod: quietPeriod, safetyInterval: FileProviderTests.never, usesEvents: usesEvents)
        }

        /// The initial load, then watching.
        func start() async -> (values: [String: String], errors: Int) {
            let initial = FileProviderTests.summary(await provider.initialLoad())
            await watch()
            return initial
        }

        func watch() async {
            let stream = await provider.changes()
            task.withLock { $0 = Task { for await load in stream { self.loads.withLock { $0.append(FileProviderTests.summary(load)) } } } }
        }

        var seen: [(values: [String: String], errors: Int)] { loads.withLock { $0 } }

        /// Waits (up to 5 s) for a load that satisfies `condition`.
        func waitForLoad(_ what: String, _ condition: ([String: String]) -> Bool) async throws {
            let deadline = ContinuousClock.now + .seconds(5)
            while ContinuousClock.now < deadline {
                if seen.contains(where: { $0.errors == 0 && condition($0.values) }) { return }
                try await Task.sleep(for: .milliseconds(20))
            }
            Issue.record("no load where \(what) within 5 s; loads: \(seen.map(\.values))")
            throw HarnessError.timeout(what)
        }

        func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

        func stop() {
            task.withLock { $0?.cancel() }
            try? FileManager.default.removeItem(at: directory)
        }
    }

    @Test func anEditInPlaceIsSeenWithoutPolling() async throws {
        let files = try Watching(files: ["a.yaml": Self.configMap("a", "1")])
        defer { files.stop() }
        #expect(await files.start().values == ["a": "1"])
        // Truncated and rewritten through the same inode, as `echo > file` does.
        let handle = try FileHandle(forWritingTo: files.url("a.yaml"))
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data(Self.configMap("a", "2").utf8))
        try handle.close()
        try await files.waitForLoad("a is 2") { $0 == ["a": "2"] }
    }

    @Test func anAtomicRenameIsSeen() async throws {
        let files = try Watching(files: ["a.yaml": Self.configMap("a", "1")])
        defer { files.stop() }
        _ = await files.start()
        try Self.configMap("a", "renamed").write(to: files.url(".a.yaml.tmp"), atomically: false, encoding: .utf8)
        #expect(rename(files.url(".a.yaml.tmp").path, files.url("a.yaml").path) == 0)
        try await files.waitForLoad("a is renamed") { $0 == ["a": "renamed"] }
    }

    /// A configured file (not a directory) replaced by a rename: watching the file's own inode would
    /// never see it; its directory is watched for its name instead.
    @Test func aConfiguredFileReplacedByRenameIsSeen() async throws {
        let files = try Watching(files: ["a.yaml": Self.configMap("a", "1"), "other.yaml": Self.configMap("other", "1")], paths: ["a.yaml"])
        defer { files.stop() }
        #expect(await files.start().values == ["a": "1"])
        // A file beside it that is not configured changes nothing.
        try Self.configMap("other", "2").write(to: files.url("other.yaml"), atomically: true, encoding: .utf8)
        for value in ["2", "3"] {  // twice: the second replacement comes after the first one's inode is gone
            try Self.configMap("a", value).write(to: files.url("a.yaml.new"), atomically: false, encoding: .utf8)
            #expect(rename(files.url("a.yaml.new").path, files.url("a.yaml").path) == 0)
            try await files.waitForLoad("a is \(value)") { $0 == ["a": value] }
        }
    }

    /// The new directory gets a watch of its own: the file is written well after the directory
    /// appeared, so only that watch can report it.
    @Test func aNewFileInANewSubdirectoryIsSeen() async throws {
        let files = try Watching(files: ["a.yaml": Self.configMap("a", "1")])
        defer { files.stop() }
        _ = await files.start()
        try FileManager.default.createDirectory(at: files.url("team/routes"), withIntermediateDirectories: true)
        try await Task.sleep(for: .milliseconds(300))
        try Self.configMap("b", "1").write(to: files.url("team/routes/b.yaml"), atomically: false, encoding: .utf8)
        try await files.waitForLoad("b appears") { $0 == ["a": "1", "b": "1"] }
        // And an edit inside it later is seen through the same watch.
        try Self.configMap("b", "2").write(to: files.url("team/routes/b.yaml"), atomically: false, encoding: .utf8)
        try await files.waitForLoad("b is 2") { $0 == ["a": "1", "b": "2"] }
    }

    @Test func aDeletionIsSeen() async throws {
        let files = try Watching(files: ["a.yaml": Self.configMap("a", "1"), "b.yaml": Self.configMap("b", "1")])
        defer { files.stop() }
        #expect(await files.start().values == ["a": "1", "b": "1"])
        try FileManager.default.removeItem(at: files.url("b.yaml"))
        try await files.waitForLoad("b is gone") { $0 == ["a": "1"] }
    }

    /// A file written in two parts with a pause shorter than the quiet period is read only whole.
    /// The quiet period is long here (500 ms against a 50 ms pause) so a slow machine cannot stretch
    /// the pause past it.
    @Test func aFileWrittenInTwoPartsIsReadOnlyWhole() async throws {
        let files = try Watching(files: ["a.yaml": Self.configMap("a", "1")], quietPeriod: .milliseconds(500))
        defer { files.stop() }
        _ = await files.start()
        // Two documents: the first alone is valid YAML, so reading half-way would load a shorter config.
        let whole = Self.configMap("a", "2") + "---\n" + Self.configMap("b", "2")
        let bytes = Data(whole.utf8)
        let half = bytes.count / 2 + 10
        let handle = try FileHandle(forWritingTo: files.url("a.yaml"))
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: bytes.prefix(half))
        try await Task.sleep(for: .milliseconds(50))
        try handle.write(contentsOf: bytes.dropFirst(half))
        try handle.close()
        try await files.waitForLoad("the whole file is read") { $0 == ["a": "2", "b": "2"] }
        try await Task.sleep(for: .milliseconds(300))
        #expect(files.seen.count == 1, "one load, of the whole file: \(files.seen)")
        #expect(files.seen.allSatisfy { $0.errors == 0 && $0.values == ["a": "2", "b": "2"] })
    }

    /// An edit between the initial load and the start of watching is compared against the fingerprint
    /// taken before the load, so it is loaded at once rather than waiting for the next change.
    @Test func anEditBeforeWatchingStartsIsNotLost() async throws {
        let files = try Watching(files: ["a.yaml": Self.configMap("a", "1")])
        defer { files.stop() }
        #expect(Self.summary(await files.provider.initialLoad()).values == ["a": "1"])
        try Self.configMap("a", "2").write(to: files.url("a.yaml"), atomically: true, encoding: .utf8)
        await files.watch()
        try await files.waitForLoad("a is 2") { $0 == ["a": "2"] }
    }

    /// Where inotify cannot be used, the poller still sees changes.
    @Test func thePollerStillWorksWithoutInotify() async throws {
        let files = try Watching(files: ["a.yaml": Self.configMap("a", "1")], usesEvents: false, interval: .milliseconds(100))
        defer { files.stop() }
        _ = await files.start()
        try Self.configMap("a", "2").write(to: files.url("a.yaml"), atomically: true, encoding: .utf8)
        try await files.waitForLoad("a is 2") { $0 == ["a": "2"] }
    }
}
