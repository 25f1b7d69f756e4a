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
    private var jobs: [@Sendable () -> Void] = []
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
            while true {
                condition.lock()
                while jobs.isEmpty { condition.wait() }
                let job = jobs.removeFirst()
                condition.unlock()
                job()
            }
        }
        thread.start()
    }

    /// Queues `job` behind the others, without waiting for it.
    func post(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }
}

/// Jobs run one at a time, in order, as an actor's must; as the executor tasks prefer, their code
/// outside any actor (and in default actors) runs here too.
extension ControlPlaneThread: SerialExecutor, TaskExecutor {
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        post { job.runSynchronously(isolatedTo: self.asUnownedSerialExecutor(), taskExecutor: self.asUnownedTaskExecutor()) }
    }
}
