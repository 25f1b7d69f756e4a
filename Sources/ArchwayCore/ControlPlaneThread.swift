import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One thread, at a lower CPU priority than the event loops, for the control plane's work: it runs the
/// runtime actor (`GatewayRuntime.unownedExecutor`, every apply, translating and compiling included)
/// and, in a cluster, `KubernetesMode` (status encoding) and, as their tasks' executor preference, the
/// reflectors (decoding every list page and watch event), the object cache, the status and event
/// writers, the report of each apply and the file provider. What serves a change goes before what
/// reports on one (`ControlPlaneQueue`).
///
/// At 10,000 routes a translation keeps a core busy for ~150 ms. On Swift's cooperative threads it
/// competed as an equal with the event loop sharing that core, and requests arriving meanwhile waited
/// for the scheduler: the p99 of a steady client tripled during reloads. At nice +10 the kernel gives
/// the event loops the core whenever they have work, and the control plane takes the rest. With only
/// the apply here, the decoding and status work around each change in a cluster (as much CPU again)
/// still ran on the cooperative pool at the event loops' priority, and the p99 during changes was
/// 2.4–3× idle. One thread for all of it, shared by the process, because a thread's priority cannot be
/// raised again without privileges, and the cooperative pool must keep its own. Leader election stays
/// on the pool: a Lease must be renewed however busy the proxy is.
public final class ControlPlaneThread: @unchecked Sendable {
    public static let shared = ControlPlaneThread()

    /// Guarded by `condition`.
    private var jobs = ControlPlaneQueue<@Sendable () -> Void>()
    private let condition = NSCondition()

    private init(niceness: Int32 = 10) {
        let thread = Thread { [self] in
            #if canImport(Glibc)
            // Linux keeps the nice value per thread: `who` 0 is the calling thread alone.
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness)
            #endif
            // Named from inside: set before `start()` the name does not reach the kernel, and `ps -L`,
            // `top -H` and perf showed the thread as one of Swift's pool (15 characters at most).
            Thread.current.name = "archway-control"
            let clock = ContinuousClock()
            while true {
                condition.lock()
                var job = jobs.next(at: clock.now)
                while job == nil {
                    condition.wait()
                    job = jobs.next(at: clock.now)
                }
                condition.unlock()
                job!()
            }
        }
        thread.start()
    }

    /// Queues `job` behind the others of its lane, without waiting for it.
    func post(later: Bool = false, _ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job, later: later, at: ContinuousClock.now)
        condition.signal()
        condition.unlock()
    }
}

/// Jobs run one at a time, as an actor's must; as the executor tasks prefer, their code outside any
/// actor (and in default actors) runs here too. Every job is run as isolated to this executor and
/// with it as task executor, the call for an executor that is both: so a hop between the actors that
/// run here is queued again rather than run inline, one more point where urgent work may go first.
extension ControlPlaneThread: SerialExecutor, TaskExecutor {
    public func enqueue(_ job: consuming ExecutorJob) {
        let later = ControlPlaneQueue<Void>.isLater(job.priority)
        let job = UnownedJob(job)
        post(later: later) {
            job.runSynchronously(isolatedTo: self.asUnownedSerialExecutor(), taskExecutor: self.asUnownedTaskExecutor())
        }
    }
}

/// The control-plane thread's two lanes. What makes a change served (decoding the watch event,
/// translating, compiling, swapping) goes first; what reports on it (the statuses of 10,000 routes
/// compared, encoded and written: as much work again) waits until nothing urgent is queued, so that
/// back-to-back changes are not served each behind the last one's report. Each lane keeps its order.
/// Reports are late under constant churn, never stalled: once the later lane has waited `patience`
/// (since it was last served, or since its first job came), it runs alone for `burst`, so that a
/// status write going back and forth between actors moves on, not one hop per `patience`.
struct ControlPlaneQueue<Job> {
    var patience: Duration = .milliseconds(250)
    var burst: Duration = .milliseconds(50)
    private var urgent: [Job?] = []
    private var waiting: [Job?] = []
    private var urgentHead = 0, waitingHead = 0
    /// When the later lane was last served, or got its first job while empty.
    private var laterClock: ContinuousClock.Instant?
    private var burstEnds: ContinuousClock.Instant?

    /// Jobs of tasks below medium priority (the `.utility` reports and writers) are the later lane's;
    /// those of tasks with no priority are not.
    static func isLater(_ priority: JobPriority) -> Bool {
        priority.rawValue != 0 && priority.rawValue < TaskPriority.medium.rawValue
    }

    var isEmpty: Bool { urgentHead == urgent.count && waitingHead == waiting.count }

    mutating func append(_ job: Job, later: Bool, at now: ContinuousClock.Instant) {
        if later {
            if waitingHead == waiting.count { laterClock = now }
            waiting.append(job)
        } else {
            urgent.append(job)
        }
    }

    /// The job to run now, or nil when both lanes are empty. A job leaves its slot as it is taken, so
    /// what it holds is let go of by whoever runs it, not under the caller's lock.
    mutating func next(at now: ContinuousClock.Instant) -> Job? {
        let hasUrgent = urgentHead < urgent.count
        if waitingHead < waiting.count, !hasUrgent || laterIsDue(at: now) {
            laterClock = now
            defer { compact() }
            return Self.take(&waiting, &waitingHead)
        }
        guard hasUrgent else { return nil }
        defer { compact() }
        return Self.take(&urgent, &urgentHead)
    }

    private mutating func laterIsDue(at now: ContinuousClock.Instant) -> Bool {
        if let burstEnds, now < burstEnds { return true }
        guard let laterClock, now - laterClock >= patience else { return false }
        burstEnds = now + burst
        return true
    }

    private static func take(_ lane: inout [Job?], _ head: inout Int) -> Job? {
        defer { lane[head] = nil; head += 1 }
        return lane[head]
    }

    /// Empties a lane once every job in it was taken (its array is reused, not shifted per job).
    private mutating func compact() {
        if urgentHead == urgent.count { urgent.removeAll(keepingCapacity: true); urgentHead = 0 }
        if waitingHead == waiting.count { waiting.removeAll(keepingCapacity: true); waitingHead = 0 }
    }
}
