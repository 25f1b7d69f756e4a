import Foundation
import GatewayAPI
import Logging
import Synchronization

/// Watches manifest files and directories and yields a fresh load whenever they change.
///
/// On Linux the kernel says when something changed (inotify), so a change is seen within tens of
/// milliseconds rather than the half second to second and a half a metadata poll takes. Every
/// directory under the configured paths is watched; a configured file is watched through its parent
/// directory, filtered by its name, because editors and `kubectl cp`-like tools replace a file by
/// renaming a new one over it, which a watch on the old file's inode would never see. New directories
/// get watches as they appear. Events are gathered until `quietPeriod` passes without one, so an
/// editor's partial writes are never read half-way; then the metadata fingerprint (size, modification
/// time, inode of every manifest file) decides whether anything really changed.
///
/// inotify is not always there or not always told: it cannot be set up off Linux or when the
/// instance or watch limit is reached, and then the files are polled every `interval` and a change is
/// loaded once stable for one interval, as before; and it misses changes made on another host of a
/// network filesystem (NFS) or through some bind mounts, so while it runs a slow safety poll every
/// `safetyInterval` still compares the fingerprint. Which of the two is used is logged once.
public final class FileProvider: ConfigurationSource {
    public let paths: [String]
    /// How often the files are polled when inotify cannot be used.
    public let interval: Duration
    /// How long events must pause before the files are read.
    public let quietPeriod: Duration
    /// How often the fingerprint is compared anyway while inotify is used.
    public let safetyInterval: Duration
    /// false: poll even where inotify is available.
    public let usesEvents: Bool
    /// Where the files are fingerprinted and parsed: nil for the cooperative pool. `serve` gives its
    /// control-plane thread, so that parsing a changed file gives way to the event loops.
    private let executor: (any TaskExecutor)?
    private let logger: Logger
    private let loader = ManifestLoader()
    /// Taken just before the initial load; `changes()` compares against it.
    private let baseline = Mutex<Fingerprint>([:])

    public init(paths: [String], interval: Duration = .milliseconds(500), quietPeriod: Duration = .milliseconds(50),
                safetyInterval: Duration = .seconds(5), usesEvents: Bool = true, executor: (any TaskExecutor)? = nil,
                logger: Logger = Logger(label: "archway.file-provider")) {
        self.paths = paths
        self.interval = interval
        self.quietPeriod = quietPeriod
        self.safetyInterval = safetyInterval
        self.usesEvents = usesEvents
        self.executor = executor
        self.logger = logger
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
    /// initial `load()`, so that an edit landing between that load and the start of watching is not
    /// lost: the first look, once the watches are in place, compares against it.
    public func changes(since baseline: Fingerprint) -> AsyncStream<ManifestLoader.Result> {
        let (stream, continuation) = AsyncStream.makeStream(of: ManifestLoader.Result.self, bufferingPolicy: .bufferingNewest(1))
        var unavailable = "turned off"
        var events: DirectoryWatcher?
        #if os(Linux)
        if usesEvents {
            switch DirectoryWatcher.start(paths: paths, quietPeriod: quietPeriod, safetyInterval: safetyInterval) {
            case .success(let watcher): events = watcher
            case .failure(let problem): unavailable = problem.reason
            }
        }
        #else
        unavailable = "inotify is Linux only"
        #endif
        let watcher = events
        let task: Task<Void, Never>
        if let watcher {
            logger.info("watching configuration files with inotify", metadata: [
                "directories": "\(watcher.directoryCount)", "quiet_ms": "\(Int(quietPeriod / .milliseconds(1)))",
                "safety_poll_s": "\(Int(safetyInterval / .seconds(1)))",
            ])
            task = Task(executorPreference: executor) { [self] in
                await follow(watcher, from: baseline, into: continuation)
                continuation.finish()
            }
        } else {
            logger.info("polling configuration files", metadata: ["interval_ms": "\(Int(interval / .milliseconds(1)))", "inotify": "\(unavailable)"])
            task = Task(executorPreference: executor) { [self] in
                await poll(from: baseline, into: continuation)
                continuation.finish()
            }
        }
        continuation.onTermination = { _ in
            task.cancel()
            watcher?.stop()
        }
        return stream
    }

    /// Loads after each settled burst of events that changed the fingerprint, and after a safety poll
    /// that finds a change stable; falls back to polling if the watcher gives up.
    private func follow(_ watcher: DirectoryWatcher, from baseline: Fingerprint,
                        into continuation: AsyncStream<ManifestLoader.Result>.Continuation) async {
        var applied = baseline
        for await signal in watcher.signals {
            if Task.isCancelled { return }
            switch signal {
            case .settled:
                let current = fingerprint()
                guard current != applied else { continue }
                applied = current
                continuation.yield(load())
            case .safetyPoll:
                // Nothing said the files were written, so nothing says the writing is over: the change
                // must still be there, unchanged, a moment later.
                let current = fingerprint()
                guard current != applied else { continue }
                try? await Task.sleep(for: min(interval, .milliseconds(500)))
                guard fingerprint() == current else { continue }
                logger.debug("a change inotify did not report was found by the safety poll")
                applied = current
                continuation.yield(load())
            case .failed(let reason):
                logger.warning("inotify stopped; polling configuration files from now on",
                               metadata: ["interval_ms": "\(Int(interval / .milliseconds(1)))", "reason": "\(reason)"])
                await poll(from: applied, into: continuation)
                return
            }
        }
    }

    /// Polls every `interval`; a change is loaded once the fingerprint has been stable for one interval.
    private func poll(from baseline: Fingerprint, into continuation: AsyncStream<ManifestLoader.Result>.Continuation) async {
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
