import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One thread, at a lower CPU priority than the event loops, for the control plane's work: it runs the
/// runtime actor (`GatewayRuntime.unownedExecutor`, every apply, translating and compiling included)
/// and, in a cluster, `KubernetesMode` (status encoding) and, as their tasks' executor preference, the
/// reflectors (decoding every list page and watch event), the object cache, the status and event
/// writers and the rejection tracking.
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
/// actor (and in default actors) runs here too. Jobs of tasks below medium priority (the reports of
/// an apply: status items, rejection events, status and event writes) wait in the later lane.
extension ControlPlaneThread: SerialExecutor, TaskExecutor {
    public func enqueue(_ job: consuming ExecutorJob) {
        let priority = job.priority.rawValue
        let job = UnownedJob(job)
        post(later: priority != 0 && priority < TaskPriority.medium.rawValue) {
            job.runSynchronously(isolatedTo: self.asUnownedSerialExecutor(), taskExecutor: self.asUnownedTaskExecutor())
        }
    }
}

/// The control-plane thread's two lanes. What makes a change served (decoding the watch event,
/// translating, compiling, swapping) goes first; what reports on it (the statuses of 10,000 routes
/// compared, encoded and written: as much work again) waits until nothing urgent is queued, so that
/// back-to-back changes are not served each behind the last one's report. Each lane keeps its order,
/// and a later job that has waited `patience` goes first, so reports are late under constant churn,
/// never lost.
struct ControlPlaneQueue<Job> {
    var patience: Duration = .seconds(1)
    private var urgent: [Job] = []
    private var waiting: [(job: Job, since: ContinuousClock.Instant)] = []
    private var urgentHead = 0, waitingHead = 0

    var isEmpty: Bool { urgentHead == urgent.count && waitingHead == waiting.count }

    mutating func append(_ job: Job, later: Bool, at now: ContinuousClock.Instant) {
        if later { waiting.append((job, now)) } else { urgent.append(job) }
    }

    /// The job to run now, or nil when both lanes are empty.
    mutating func next(at now: ContinuousClock.Instant) -> Job? {
        let hasUrgent = urgentHead < urgent.count
        if waitingHead < waiting.count, !hasUrgent || now - waiting[waitingHead].since >= patience {
            defer { waitingHead += 1; compact() }
            return waiting[waitingHead].job
        }
        guard hasUrgent else { return nil }
        defer { urgentHead += 1; compact() }
        return urgent[urgentHead]
    }

    /// Drops the jobs already taken once a lane is empty (its array is reused, not shifted per job).
    private mutating func compact() {
        if urgentHead == urgent.count { urgent.removeAll(keepingCapacity: true); urgentHead = 0 }
        if waitingHead == waiting.count { waiting.removeAll(keepingCapacity: true); waitingHead = 0 }
    }
}
