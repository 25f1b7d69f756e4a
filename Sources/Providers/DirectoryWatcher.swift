import Foundation
import GatewayAPI
import Synchronization
#if os(Linux)
import Glibc
#endif

/// What the watcher tells the provider.
enum WatchSignal: Sendable {
    /// Something under the paths changed and events have paused for the quiet period.
    case settled
    /// No event for a safety interval: time to compare the fingerprint anyway.
    case safetyPoll
    /// inotify cannot go on (a watch could not be added, the descriptor failed): poll instead.
    case failed(String)
}

#if os(Linux)
/// inotify watches on every directory under some paths, read on a thread of its own that waits in
/// poll() with short timeouts, so no task of the cooperative pool ever blocks on it. Its watch table
/// is touched by that thread only (after `start` set it up).
final class DirectoryWatcher: @unchecked Sendable {
    struct Problem: Error { var reason: String }

    /// One watched directory: every event counts (a configured directory or one under it), or only
    /// events for some names in it (the parent of a configured path).
    private struct Target {
        var recursive = false
        var names: Set<String> = []
        mutating func absorb(_ other: Target) {
            recursive = recursive || other.recursive
            names.formUnion(other.names)
        }
    }

    static let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_DELETE_SELF
                             | IN_MOVE_SELF | IN_ATTRIB | IN_MODIFY | IN_ONLYDIR)
    /// A stream of events that never pauses is still looked at this often (or ten quiet periods).
    static let longestWait: Duration = .seconds(1)

    let signals: AsyncStream<WatchSignal>
    private let continuation: AsyncStream<WatchSignal>.Continuation
    private let descriptor: Int32
    private let paths: [String]
    private let quietPeriod: Duration
    private let safetyInterval: Duration
    private let stopped = Atomic<Bool>(false)
    private var watches: [Int32: Target] = [:]
    private let directories = Atomic<Int>(0)
    var directoryCount: Int { directories.load(ordering: .relaxed) }

    private init(descriptor: Int32, paths: [String], quietPeriod: Duration, safetyInterval: Duration) {
        self.descriptor = descriptor
        self.paths = paths
        self.quietPeriod = quietPeriod
        self.safetyInterval = safetyInterval
        // The newest signal is all the provider needs: each one means "look now".
        (signals, continuation) = AsyncStream.makeStream(of: WatchSignal.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Sets inotify up and every watch in place, then starts the reading thread; fails if any of it
    /// cannot be done, so the caller polls instead.
    static func start(paths: [String], quietPeriod: Duration, safetyInterval: Duration) -> Result<DirectoryWatcher, Problem> {
        let descriptor = inotify_init1(Int32(IN_NONBLOCK) | Int32(IN_CLOEXEC))
        guard descriptor >= 0 else { return .failure(Problem(reason: "inotify_init1: \(String(cString: strerror(errno)))")) }
        let watcher = DirectoryWatcher(descriptor: descriptor, paths: paths, quietPeriod: quietPeriod, safetyInterval: safetyInterval)
        if let problem = watcher.sync() {
            close(descriptor)
            return .failure(problem)
        }
        let thread = Thread { [watcher] in watcher.run() }
        thread.name = "archway-inotify"
        thread.start()
        return .success(watcher)
    }

    /// The thread ends within its poll timeout and closes the descriptor.
    func stop() { stopped.store(true, ordering: .relaxed) }

    /// The directories to watch: each configured directory and every real directory under it (as
    /// `ManifestLoader.entries(under:)` walks them), and the parent of each configured path for that
    /// path's name, which sees a configured file replaced or a configured directory appear.
    private func plan() -> [String: Target] {
        var plan: [String: Target] = [:]
        let fm = FileManager.default
        for path in paths {
            let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
            let parent = (trimmed as NSString).deletingLastPathComponent
            plan[parent.isEmpty ? "." : parent, default: Target()].names.insert((trimmed as NSString).lastPathComponent)
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            plan[trimmed, default: Target()].recursive = true
            for full in ManifestLoader.entries(under: trimmed) {
                // A link to a directory is watched too: a watch too many costs only a look.
                var isSubdirectory: ObjCBool = false
                if fm.fileExists(atPath: full, isDirectory: &isSubdirectory), isSubdirectory.boolValue {
                    plan[full, default: Target()].recursive = true
                }
            }
        }
        return plan
    }

    /// Brings the watches in line with the directories there are now. A directory that vanished
    /// meanwhile is skipped (its removal is an event of its parent), and so is the parent of a
    /// configured path that archway may not read (only a replacement of the path itself goes unseen
    /// there, until the safety poll); any other failure (the watch limit, most likely) ends the use
    /// of inotify.
    private func sync() -> Problem? {
        var current: [Int32: Target] = [:]
        for (directory, target) in plan() {
            let watch = inotify_add_watch(descriptor, directory, Self.mask)
            if watch < 0 {
                let error = errno
                if error == ENOENT || error == ENOTDIR || (error == EACCES && !target.recursive) { continue }
                let hint = error == ENOSPC ? " (fs.inotify.max_user_watches reached)" : ""
                return Problem(reason: "inotify_add_watch \(directory): \(String(cString: strerror(error)))\(hint)")
            }
            current[watch, default: Target()].absorb(target)
        }
        for watch in watches.keys where current[watch] == nil { inotify_rm_watch(descriptor, watch) }
        watches = current
        directories.store(current.count, ordering: .relaxed)
        return nil
    }

    private func run() {
        defer {
            close(descriptor)
            continuation.finish()
        }
        let clock = ContinuousClock()
        // The first look comes one quiet period after the watches are in place: it compares against
        // the fingerprint taken before the initial load.
        var lastEvent: ContinuousClock.Instant? = clock.now
        var firstEvent: ContinuousClock.Instant? = lastEvent
        var nextSafetyPoll = clock.now + safetyInterval
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while !stopped.load(ordering: .relaxed) {
            let now = clock.now
            var wait: Duration = .milliseconds(100)  // how soon `stop` is noticed
            if let last = lastEvent, let first = firstEvent {
                let due = min(last + quietPeriod, first + max(Self.longestWait, quietPeriod * 10))
                if now >= due {
                    lastEvent = nil
                    firstEvent = nil
                    nextSafetyPoll = now + safetyInterval
                    continuation.yield(.settled)
                    continue
                }
                wait = min(wait, due - now)
            } else if now >= nextSafetyPoll {
                nextSafetyPoll = now + safetyInterval
                continuation.yield(.safetyPoll)
                continue
            } else {
                wait = min(wait, nextSafetyPoll - now)
            }
            var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let milliseconds = max(1, Int32((wait / .milliseconds(1)).rounded(.up)))
            let ready = poll(&request, 1, milliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                continuation.yield(.failed("poll: \(String(cString: strerror(errno)))"))
                return
            }
            guard ready > 0 else { continue }
            switch drain(&buffer) {
            case .failure(let problem):
                continuation.yield(.failed(problem.reason))
                return
            case .success(true):
                lastEvent = clock.now
                firstEvent = firstEvent ?? lastEvent
            case .success(false):
                break
            }
        }
    }

    /// Reads every queued event; tells whether any concerns the paths, and re-syncs the watches
    /// when directories came or went.
    private func drain(_ buffer: inout [UInt8]) -> Result<Bool, Problem> {
        var relevant = false
        var resync = false
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { break }
                return .failure(Problem(reason: "read inotify: \(String(cString: strerror(errno)))"))
            }
            if count == 0 { break }
            var offset = 0
            buffer.withUnsafeBytes { bytes in
                while offset + 16 <= count {
                    let watch = bytes.loadUnaligned(fromByteOffset: offset, as: Int32.self)
                    let mask = bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
                    let length = Int(bytes.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                    let nameBytes = bytes[(offset + 16)..<min(count, offset + 16 + length)]
                    let name = String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)
                    offset += 16 + length
                    if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                        // Events were lost: anything may have changed, directories included.
                        relevant = true
                        resync = true
                        continue
                    }
                    guard let target = watches[watch] else { continue }  // a watch already given up
                    if mask & UInt32(IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED) != 0 {
                        relevant = true
                        resync = true
                        continue
                    }
                    let named = target.names.contains(name)
                    guard target.recursive || named else { continue }
                    relevant = true
                    if named || mask & UInt32(IN_ISDIR) != 0 { resync = true }
                }
            }
        }
        if resync, let problem = sync() { return .failure(problem) }
        return .success(relevant)
    }
}
#else
/// Off Linux there is no inotify: the provider polls.
final class DirectoryWatcher: Sendable {
    let signals = AsyncStream<WatchSignal> { $0.finish() }
    let directoryCount = 0
    func stop() {}
}
#endif
