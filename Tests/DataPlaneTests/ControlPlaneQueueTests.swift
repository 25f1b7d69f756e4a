@testable import ArchwayCore
import Testing

/// The control-plane thread's lanes, without the thread: what makes a change served runs before what
/// reports on the last one, each lane in its order, and a report never waits forever.
struct ControlPlaneQueueTests {
    @Test func urgentJobsGoFirstAndEachLaneKeepsItsOrder() {
        var queue = ControlPlaneQueue<String>()
        let now = ContinuousClock.now
        queue.append("report 1", later: true, at: now)
        queue.append("decode", later: false, at: now)
        queue.append("report 2", later: true, at: now)
        queue.append("apply", later: false, at: now)
        var order: [String] = []
        while let job = queue.next(at: now) { order.append(job) }
        #expect(order == ["decode", "apply", "report 1", "report 2"])
        #expect(queue.isEmpty)
    }

    @Test func aReportThatWaitedItsPatienceGoesBeforeUrgentWork() {
        var queue = ControlPlaneQueue<String>()
        queue.patience = .seconds(1)
        let start = ContinuousClock.now
        queue.append("report", later: true, at: start)
        queue.append("apply 1", later: false, at: start)
        queue.append("apply 2", later: false, at: start)
        #expect(queue.next(at: start + .milliseconds(500)) == "apply 1")
        #expect(queue.next(at: start + .seconds(1)) == "report", "waited a second: its turn despite urgent work")
        #expect(queue.next(at: start + .seconds(1)) == "apply 2")
        #expect(queue.next(at: start + .seconds(1)) == nil)
        // The lanes are reused once emptied.
        queue.append("apply 3", later: false, at: start + .seconds(2))
        #expect(queue.next(at: start + .seconds(2)) == "apply 3")
    }

    /// Under urgent work that never pauses, the later lane runs alone for a burst once it has waited its
    /// patience: a status write hopping between actors moves several steps, not one per patience.
    @Test func aDueLaterLaneRunsForABurst() {
        var queue = ControlPlaneQueue<String>()
        queue.patience = .milliseconds(250)
        queue.burst = .milliseconds(50)
        let start = ContinuousClock.now
        for index in 1...3 { queue.append("apply \(index)", later: false, at: start) }
        queue.append("write 1", later: true, at: start)
        #expect(queue.next(at: start + .milliseconds(100)) == "apply 1")
        #expect(queue.next(at: start + .milliseconds(250)) == "write 1")
        // The write's next hop, queued as the first one ran, goes within the burst...
        queue.append("write 2", later: true, at: start + .milliseconds(260))
        #expect(queue.next(at: start + .milliseconds(270)) == "write 2")
        // ...and once the burst is over, urgent work goes first again until the next patience.
        queue.append("write 3", later: true, at: start + .milliseconds(310))
        #expect(queue.next(at: start + .milliseconds(320)) == "apply 2")
        #expect(queue.next(at: start + .milliseconds(400)) == "apply 3")
        #expect(queue.next(at: start + .milliseconds(410)) == "write 3", "nothing urgent left")
    }

    /// The lanes follow task priorities: utility and background tasks are the later lane's; medium,
    /// higher and unspecified ones are urgent.
    @Test func taskPrioritiesChooseTheLane() {
        #expect(ControlPlaneQueue<Void>.isLater(JobPriority(rawValue: TaskPriority.utility.rawValue)))
        #expect(ControlPlaneQueue<Void>.isLater(JobPriority(rawValue: TaskPriority.background.rawValue)))
        #expect(!ControlPlaneQueue<Void>.isLater(JobPriority(rawValue: TaskPriority.medium.rawValue)))
        #expect(!ControlPlaneQueue<Void>.isLater(JobPriority(rawValue: TaskPriority.high.rawValue)))
        #expect(!ControlPlaneQueue<Void>.isLater(JobPriority(rawValue: 0)))
    }
}
