import Foundation
import GatewayAPI
import Logging
import Synchronization

/// Watches manifest files and directories and yields a fresh load whenever they change.
///
/// It polls file metadata rather than using inotify: polling sees in-place edits, atomic renames,
/// new and deleted files and directories alike, with no per-file watch to re-arm, and a stat of a few
/// hundred files every half second costs nothing. A change is loaded only once the files have been
/// stable for one interval, so an editor's partial writes are never read half-way.
public final class FileProvider: ConfigurationSource {
    public let paths: [String]
    public let interval: Duration
    private let loader = ManifestLoader()
    /// Taken just before the initial load; `changes()` compares against it.
    private let baseline = Mutex<Fingerprint>([:])

    public init(paths: [String], interval: Duration = .milliseconds(500)) {
        self.paths = paths
        self.interval = interval
    }

    public func load() -> ManifestLoader.Result { loader.load(paths: paths) }

    public func initialLoad() async -> ManifestLoader.Result {
        let before = fingerprint()
        baseline.withLock { $0 = before }
        return load()
    }

    public func changes() async -> AsyncStream<ManifestLoader.Result> {
        changes(since: baseline.withLock { $0 })
    }

    public typealias Fingerprint = [String: [Int]]

    /// Yields a load after each settled change since `baseline`, a fingerprint taken *before* the
    /// initial `load()`, so that an edit landing between that load and the start of watching is not lost.
    public func changes(since baseline: Fingerprint) -> AsyncStream<ManifestLoader.Result> {
        let (stream, continuation) = AsyncStream.makeStream(of: ManifestLoader.Result.self, bufferingPolicy: .bufferingNewest(1))
        let task = Task { [self] in
            var applied = baseline
            var candidate = applied
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                let current = fingerprint()
                if current == applied {
                    candidate = current
                    continue
                }
                if current == candidate {
                    applied = current
                    continuation.yield(load())
                } else {
                    candidate = current
                }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// Path, size, modification time and inode of every manifest file: changes with any edit or rename.
    public func fingerprint() -> Fingerprint {
        var result: [String: [Int]] = [:]
        for file in ManifestLoader.manifestFiles(in: paths) {
            var info = stat()
            if stat(file, &info) == 0 {
                result[file] = [Int(info.st_size), Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec), Int(info.st_ino)]
            } else {
                result[file] = [-1]
            }
        }
        return result
    }
}
