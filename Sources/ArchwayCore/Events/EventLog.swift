import Foundation
import GatewayAPI
import NIOConcurrencyHelpers

/// The last events `serve` noticed, in memory and bounded: what `/events` serves and `archway
/// describe --admin` lists. A repeat of an event still held is counted on it, not added again.
public final class EventLog: Sendable {
    public let capacity: Int
    private let events = NIOLockedValueBox<[ArchwayEvent]>([])
    /// Events recorded since the last `takeNew()`: what the leader still has to write to the API server.
    private let unsent = NIOLockedValueBox<[ArchwayEvent]>([])

    public init(capacity: Int = 100) { self.capacity = capacity }

    public func record(_ event: ArchwayEvent) {
        let recorded = events.withLockedValue { events -> ArchwayEvent in
            var event = event
            if let index = events.firstIndex(where: { $0.identity == event.identity }) {
                let earlier = events.remove(at: index)
                event.count = earlier.count + 1
                event.firstTime = earlier.firstTime
            }
            events.append(event)
            if events.count > capacity { events.removeFirst(events.count - capacity) }
            return event
        }
        unsent.withLockedValue { unsent in
            unsent.removeAll { $0.identity == recorded.identity }
            unsent.append(recorded)
            if unsent.count > capacity { unsent.removeFirst(unsent.count - capacity) }
        }
    }

    /// Oldest first; only those about `object` when one is given.
    public func recent(regarding object: ObjectRef? = nil) -> [ArchwayEvent] {
        let all = events.withLockedValue { $0 }
        guard let object else { return all }
        return all.filter { $0.regards(object) }
    }

    /// The events recorded since the last call, each with its count so far.
    public func takeNew() -> [ArchwayEvent] { unsent.withLockedValue { taken in defer { taken = [] }; return taken } }

    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(recent()), as: UTF8.self)) ?? "[]"
    }

    /// A configuration change that could not be applied: one Warning per manifest error, about the
    /// object it names, with the file in the note.
    public func recordReloadFailure(_ errors: [ManifestError], reason: String = "ReloadFailed") {
        for error in errors {
            record(ArchwayEvent(type: .Warning, reason: reason, regarding: ArchwayEvent.object(named: error.object), note: error.description))
        }
    }
}
