import Foundation
import GatewayAPI
import Logging

/// One event to write: what happened, to which object, and how often so far.
public struct KubeEvent: Sendable {
    public var regarding: ObjectRef
    /// Normal or Warning.
    public var type: String
    public var reason: String
    public var note: String
    public init(regarding: ObjectRef, type: String, reason: String, note: String) {
        self.regarding = regarding
        self.type = type
        self.reason = reason
        self.note = note
    }
}

/// Writes `events.k8s.io/v1` Events about the objects archway serves, as controllers do, so that
/// `kubectl describe` and `kubectl events` show archway's reload failures and rejections. Requests
/// share the status writer's rate limit, and a repeat (same reason, same object) updates the series
/// of the Event already written instead of adding one.
public actor EventWriter {
    public static let kind = KubeKind("events.k8s.io", "v1", "Event", "events")
    private let client: KubeClient
    private let controllerName: String
    private let instance: String
    private let limiter: TokenBucket
    private let logger: Logger
    /// The Events written, by reason and object: their name, namespace and count.
    private var written: [String: (name: String, namespace: String, count: Int)] = [:]

    public init(client: KubeClient, controllerName: String, instance: String, limiter: TokenBucket, logger: Logger) {
        self.client = client
        self.controllerName = controllerName
        self.instance = instance
        self.limiter = limiter
        self.logger = logger
    }

    public func write(_ events: [KubeEvent]) async {
        for event in events {
            do {
                try await write(event)
            } catch is CancellationError {
                return
            } catch {
                logger.warning("event not written", metadata: ["object": "\(event.regarding)", "reason": "\(event.reason)", "error": "\(error)"])
            }
        }
    }

    private func write(_ event: KubeEvent) async throws {
        let key = "\(event.reason) \(event.regarding)"
        let now = Self.microTime(Date())
        if let earlier = written[key] {
            let count = earlier.count + 1
            let patch: [String: Any] = ["note": String(event.note.prefix(1024)), "series": ["count": count, "lastObservedTime": now]]
            try await limiter.wait()
            let response = try await client.send(.PATCH, Self.kind.objectPath(namespace: earlier.namespace, name: earlier.name),
                                                 body: try JSONSerialization.data(withJSONObject: patch), contentType: "application/merge-patch+json")
            if (200..<300).contains(response.status) {
                written[key]?.count = count
                return
            }
            // Gone (Events expire after an hour by default): written afresh below.
            guard response.status == 404 else {
                throw KubeClient.RequestError(method: "PATCH", path: Self.kind.collectionPath(namespace: earlier.namespace), status: response.status,
                                              message: response.message)
            }
        }
        // Cluster-scoped objects' events go to `default`, as kubectl looks for them there.
        let namespace = event.regarding.namespace.isEmpty ? "default" : event.regarding.namespace
        let name = "\(event.regarding.name).\(String(UInt64.random(in: 0...UInt64.max), radix: 16))"
        var regarding: [String: Any] = ["kind": event.regarding.kind, "name": event.regarding.name,
                                        "apiVersion": KubeKind.byKind[event.regarding.kind]?.apiVersion ?? ""]
        if !event.regarding.namespace.isEmpty { regarding["namespace"] = event.regarding.namespace }
        let body: [String: Any] = [
            "apiVersion": Self.kind.apiVersion, "kind": "Event",
            "metadata": ["name": name, "namespace": namespace],
            "eventTime": now, "reportingController": controllerName, "reportingInstance": instance,
            "action": "Reconcile", "reason": event.reason, "note": String(event.note.prefix(1024)), "type": event.type,
            "regarding": regarding,
        ]
        try await limiter.wait()
        try await client.expectOK(.POST, Self.kind.collectionPath(namespace: namespace), body: try JSONSerialization.data(withJSONObject: body))
        // Bounded: a new Event now and then for an old repeat costs less than remembering every one.
        if written.count >= 4096 { written.removeAll() }
        written[key] = (name, namespace, 1)
    }

    /// `metav1.MicroTime`: RFC 3339 with exactly six fractional digits, which the API server requires.
    static func microTime(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        let whole = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: seconds))
        let micros = min(999_999, Int((date.timeIntervalSince1970 - seconds) * 1_000_000))
        return whole.dropLast() + "." + String(format: "%06d", micros) + "Z"
    }
}
