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
}
