import Crypto
import Foundation
import GatewayAPI
import Logging

/// A `.status` the controller computed for one object.
public struct StatusUpdate: Sendable {
    public var ref: ObjectRef
    /// JSON of the status, conditions stamped with this moment as their transition time. With sorted
    /// keys, so that the same status is the same bytes (the writer skips what it already settled by
    /// comparing them; unsorted, it compares against the object each time instead).
    public let status: Data
    /// The digest of `status` without its condition timestamps: what the writer compares with the
    /// status it last settled. Made once with the update, which a publisher reuses while its status
    /// stays the same, so that a pass over 10,000 settled objects hashes none of them again.
    public let key: SHA256Digest
    public init(ref: ObjectRef, status: Data) {
        self.ref = ref
        self.status = status
        key = SHA256.hash(data: StatusWriter.withoutTimestamps(status))
    }
}

/// Writes statuses through the status subresource, and only those that changed.
///
/// "Changed" is decided against the status the object has now: a condition whose status did not flip
/// keeps its lastTransitionTime, route `parents` and policy `ancestors` entries of other controllers
/// are kept as they are, and if what remains equals what is there, nothing is sent. Writes carry the
/// resourceVersion they were computed from; on 409 Conflict the object is read again and the
/// comparison redone.
///
/// Every request it sends (each PATCH, and each read after a conflict) first takes a token of
/// `limiter`, so a change touching thousands of objects reaches the API server at the configured QPS
/// (after the initial burst) instead of all at once, as client-go's rate limiter spaces a controller's
/// requests.
///
/// Comparing costs two JSON parses and canonical encodings per object, which for ten thousand objects
/// that did not change is most of a publish. So the writer remembers, per object, the status it last
/// wrote or found already there (a digest of it) and the resourceVersion the object had then; an
/// object whose cached resourceVersion is still that one, with the same computed status, is skipped
/// without a look. Anyone else's change to the object (its status included) gives it a new
/// resourceVersion, so the writer's next pass (the next publish) compares it again and corrects it.
public actor StatusWriter {
    private let client: KubeClient
    private let cache: ObjectCache
    private let controllerName: String
    private let logger: Logger
    private let limiter: TokenBucket
    /// Per object: the digest of the computed status (`StatusUpdate.key`) last written or found in
    /// place, and the resourceVersion the object had once it was. A digest rather than the status: at
    /// 10,000 routes the statuses themselves were 6 MB more, held for a comparison.
    private var settled: [ObjectRef: (resourceVersion: String, status: SHA256Digest)] = [:]
    /// Writes that reached the API server, for logs and tests.
    public private(set) var writes = 0
    /// Objects compared against the cache (not skipped as already settled), for tests.
    public private(set) var comparisons = 0
    /// Requests sent (writes, and reads after a conflict).
    private var requests = 0

    public enum Outcome: Sendable, Equatable { case unchanged, written, gone, failed(String) }

    public init(client: KubeClient, cache: ObjectCache, controllerName: String, limiter: TokenBucket = TokenBucket(qps: 20, burst: 40),
                logger: Logger) {
        self.client = client
        self.cache = cache
        self.controllerName = controllerName
        self.limiter = limiter
        self.logger = logger
    }

    /// Writes `updates` in order. `superseded` is asked before each request: once it answers true (a
    /// newer set of statuses is waiting) the rest is left for that newer set, and only the objects
    /// dealt with so far have an outcome.
    @discardableResult
    public func write(_ updates: [StatusUpdate], until superseded: @Sendable () async -> Bool = { false }) async -> [ObjectRef: Outcome] {
        var outcomes: [ObjectRef: Outcome] = [:]
        var complete = true
        // The versions are read in one call while the pass has sent nothing: asked object by object
        // (and each status hashed again, which `StatusUpdate.key` now does once), a pass over 10,000
        // settled objects cost ~60 ms at normal priority, beside the event loops, on every change; now
        // ~15. Once a request has gone out, time passes at the API server's rate (minutes for a first
        // round), so each later object's version is read at its turn, as someone may have changed it.
        let versions = await cache.resourceVersions(of: updates.map(\.ref))
        let requestsBefore = requests
        for (update, versionAtStart) in zip(updates, versions) {
            let version = requests == requestsBefore ? versionAtStart : await cache.object(update.ref)?.resourceVersion
            guard !Task.isCancelled, let outcome = await write(update, version: version, superseded: superseded) else {
                complete = false
                break
            }
            outcomes[update.ref] = outcome
        }
        if complete, settled.count > updates.count {
            // Objects no longer given a status (deleted, most likely) are forgotten.
            let refs = Set(updates.map(\.ref))
            settled = settled.filter { refs.contains($0.key) }
        }
        let written = outcomes.values.filter { $0 == .written }.count
        if written > 0 { logger.info("status written", metadata: ["objects": "\(written)"]) }
        if !complete { logger.debug("status writes left for newer statuses", metadata: ["done": "\(outcomes.count)", "of": "\(updates.count)"]) }
        return outcomes
    }

    /// The outcome, or nil if the write was given up for newer statuses (or the task cancelled).
    /// `version`: the object's resourceVersion in the cache (nil: not in it).
    private func write(_ update: StatusUpdate, version: String?, superseded: @Sendable () async -> Bool) async -> Outcome? {
        guard let known = KubeKind.byKind[update.ref.kind] else { return .failed("no REST path known for \(update.ref.kind)") }
        let key = update.key
        if let version, let last = settled[update.ref], last.resourceVersion == version, last.status == key {
            return .unchanged
        }
        settled[update.ref] = nil
        var observed = await cache.object(update.ref)
        guard let desired = try? JSONSerialization.jsonObject(with: update.status) else { return .failed("status is not JSON") }
        comparisons += 1
        var path = ""
        for _ in 0..<5 {
            guard let current = observed else { return .gone }
            // Written at the version the object was read at: the one discovery found served.
            let kind = known.at(apiVersion: current.apiVersion)
            path = kind.objectPath(namespace: update.ref.namespace, name: update.ref.name) + "/status"
            let existing = current.status.flatMap { try? JSONSerialization.jsonObject(with: $0) }
            let merging = StatusMerge(controllerName: controllerName, keepsOthersConditions: update.ref.kind == "Service")
            let merged = merging.merge(desired, existing)
            if StatusMerge.canonical(merged) == StatusMerge.canonical(existing ?? [String: Any]()) {
                settled[update.ref] = (current.resourceVersion, key)
                return .unchanged
            }
            if await superseded() { return nil }
            do {
                let patch: [String: Any] = ["metadata": ["resourceVersion": current.resourceVersion], "status": merging.patch(merged, over: existing)]
                let body = try JSONSerialization.data(withJSONObject: patch)
                try await limiter.wait()
                requests += 1
                let response = try await client.send(.PATCH, path, body: body, contentType: "application/merge-patch+json")
                switch response.status {
                case 200, 201:
                    writes += 1
                    let object = response.object
                    let answered = (object?["metadata"] as? [String: Any])?["resourceVersion"] as? String
                    let status = (object?["status"]).flatMap { try? JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]) }
                    await cache.recordStatus(update.ref, resourceVersion: answered ?? current.resourceVersion, status: status)
                    // Settled only at the version the server says the written status has.
                    if let answered, status != nil { settled[update.ref] = (answered, key) }
                    return .written
                case 404:
                    return .gone
                case 409:
                    logger.debug("status write conflicted; reading the object again", metadata: ["object": "\(update.ref)"])
                    try await limiter.wait()
                    requests += 1
                    observed = try await fetch(kind: kind, ref: update.ref)
                default:
                    return .failed("PATCH \(path): HTTP \(response.status): \(response.message)")
                }
            } catch is CancellationError {
                return nil
            } catch {
                logger.warning("status write failed", metadata: ["object": "\(update.ref)", "error": "\(error)"])
                return .failed("\(error)")
            }
        }
        return .failed("PATCH \(path): still conflicting after 5 tries")
    }

    /// The status with every `lastTransitionTime` value left out. Each publish stamps its own moment
    /// into every condition, so two publishes of the same state never agree on it; and it never
    /// decides a write on its own, since a condition whose status did not flip keeps the time the
    /// object has. A string value cannot hold an unescaped quote, so the key cannot match inside one.
    static func withoutTimestamps(_ status: Data) -> Data {
        let marker = Data(#""lastTransitionTime":""#.utf8)
        var result = Data()
        result.reserveCapacity(status.count)
        var position = status.startIndex
        while let found = status.range(of: marker, in: position..<status.endIndex),
              let close = status[found.upperBound...].firstIndex(of: UInt8(ascii: "\"")) {
            result.append(status[position..<found.upperBound])
            position = close
        }
        result.append(status[position...])
        return result
    }

    private func fetch(kind: KubeKind, ref: ObjectRef) async throws -> CachedObject? {
        let response = try await client.send(.GET, kind.objectPath(namespace: ref.namespace, name: ref.name))
        guard response.status == 200, let object = response.object else { return nil }
        return CachedObject.decode(object, kind: kind)
    }
}

/// Merges a computed status into the one an object has, as JSON values.
struct StatusMerge {
    var controllerName: String
    /// On objects whose status others write too (a Service's), their conditions stay: only the types
    /// archway writes are replaced. On Gateway API objects every condition is the controller's.
    var keepsOthersConditions = false

    func merge(_ desired: Any, _ existing: Any?) -> Any {
        if let desired = desired as? [String: Any] {
            let existing = existing as? [String: Any] ?? [:]
            var result: [String: Any] = [:]
            for (key, value) in desired {
                switch key {
                case "parents": result[key] = mergeShared(value, existing[key], refKey: "parentRef")
                case "ancestors": result[key] = mergeShared(value, existing[key], refKey: "ancestorRef")
                case "conditions":
                    let ours = carryTransitionTimes(value, existing[key]) as? [[String: Any]] ?? []
                    let theirs = keepsOthersConditions
                        ? (existing[key] as? [[String: Any]] ?? []).filter { old in !ours.contains { Self.same($0["type"], old["type"]) } } : []
                    result[key] = theirs + ours
                default: result[key] = merge(value, existing[key])
                }
            }
            return result
        }
        if let desired = desired as? [[String: Any]] {
            // Lists of named things (listeners) match by name; anything else by position.
            let existing = existing as? [[String: Any]] ?? []
            return desired.enumerated().map { index, item in
                let match = item["name"].map { name in existing.first { Self.same($0["name"], name) } }
                    ?? (index < existing.count ? existing[index] : nil)
                return merge(item, match)
            }
        }
        return desired
    }

    /// The merge patch that turns `existing` into `merged`: a field archway no longer reports (the
    /// challenges an ACMEIssuer is done with, say) is sent as null, or the merge patch would keep it
    /// and every later comparison would find a difference to write again. A Service's other fields
    /// are not archway's to remove.
    func patch(_ merged: Any, over existing: Any?) -> Any {
        guard !keepsOthersConditions, var result = merged as? [String: Any], let existing = existing as? [String: Any] else { return merged }
        for (key, old) in existing {
            if let new = result[key] { result[key] = patch(new, over: old) } else { result[key] = NSNull() }
        }
        return result
    }

    /// Entries of other controllers stay, in place; ours are replaced by the computed ones.
    private func mergeShared(_ desired: Any, _ existing: Any?, refKey: String) -> [Any] {
        let ours = desired as? [[String: Any]] ?? []
        let theirs = (existing as? [[String: Any]] ?? []).filter { $0["controllerName"] as? String != controllerName }
        let previous = (existing as? [[String: Any]] ?? []).filter { $0["controllerName"] as? String == controllerName }
        return theirs + ours.map { entry in merge(entry, previous.first { Self.same($0[refKey], entry[refKey]) }) }
    }

    /// A condition that did not change status keeps the moment it last did.
    private func carryTransitionTimes(_ desired: Any, _ existing: Any?) -> Any {
        let old = existing as? [[String: Any]] ?? []
        return (desired as? [[String: Any]] ?? []).map { condition in
            var condition = condition
            if let previous = old.first(where: { Self.same($0["type"], condition["type"]) }),
               Self.same(previous["status"], condition["status"]), let time = previous["lastTransitionTime"] {
                condition["lastTransitionTime"] = time
            }
            return condition
        }
    }

    static func same(_ a: Any?, _ b: Any?) -> Bool { canonical(a ?? NSNull()) == canonical(b ?? NSNull()) }

    /// Sorted-key JSON with empty lists and nulls left out, so `{}` and `{"parents": []}` compare equal.
    static func canonical(_ value: Any) -> Data {
        (try? JSONSerialization.data(withJSONObject: ["v": pruned(value)], options: [.sortedKeys])) ?? Data()
    }

    private static func pruned(_ value: Any) -> Any {
        if let object = value as? [String: Any] {
            var result: [String: Any] = [:]
            for (key, item) in object {
                if item is NSNull { continue }
                if let list = item as? [Any], list.isEmpty { continue }
                result[key] = pruned(item)
            }
            return result
        }
        if let list = value as? [Any] { return list.map(pruned) }
        return value
    }
}
