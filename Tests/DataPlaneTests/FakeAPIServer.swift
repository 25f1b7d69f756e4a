import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Yams

/// A loopback HTTP server that answers as kube-apiserver does for the calls a controller makes:
/// lists with a resourceVersion (built-in kinds' items without apiVersion/kind, as the real server
/// sends them), chunked watch streams of ADDED/MODIFIED/DELETED/BOOKMARK/ERROR events resumable from a
/// version, 410 Expired once history is compacted, JSON merge-patch of the status subresource with
/// optimistic concurrency (409), and create/update/delete of Leases. Its table of kinds is its own, written
/// from the API reference and the Gateway API CRDs rather than from archway's, so a wrong path in
/// archway shows up as a 404: each kind is served at exactly the versions its CRD serves, with the
/// discovery documents that list them, and a request for any other version is answered 404 (see
/// KubernetesServedVersions.swift).
final class FakeAPIServer: @unchecked Sendable {
    /// A kubeconfig file for this server in `directory`, as a user has one (token, context, namespace default).
    func kubeconfig(in directory: URL) throws -> String {
        let path = directory.appendingPathComponent("kubeconfig").path
        try """
            apiVersion: v1
            kind: Config
            clusters: [{name: fake, cluster: {server: "\(url)"}}]
            users: [{name: tester, user: {token: test-token}}]
            contexts: [{name: fake, context: {cluster: fake, user: tester, namespace: default}}]
            current-context: fake
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }


    /// One request as RBAC sees it.
    struct Call: Hashable, CustomStringConvertible {
        var verb: String
        var group: String
        var version: String
        var resource: String
        var subresource: String?
        var namespace: String?
        var description: String { "\(verb) \(group.isEmpty ? "core" : group)/\(resource)\(subresource.map { "/" + $0 } ?? "")" }
    }

    private struct Watcher {
        var channel: any Channel
        var collection: Collection
        /// The version the watch asked for: its events show objects at that version.
        var version: String
        var namespace: String?
        var name: String?
    }

    private let lock = NIOLock()
    private var revision = 100
    private var objects: [Collection: [String: [String: Any]]] = [:]
    private var history: [(revision: Int, collection: Collection, type: String, object: [String: Any])] = []
    private var oldestKept = 0
    private var watchers: [ObjectIdentifier: Watcher] = [:]
    private var injectedConflicts = 0
    private var recordedCalls: [Call] = []
    /// Paged lists: the items each list saw when it began (the snapshot its pages are served from,
    /// as etcd serves them at the first page's revision), by continue-token id.
    private var listSnapshots: [Int: (kind: String, apiVersion: String, revision: Int, items: [[String: Any]], request: String)] = [:]
    private var expiredSnapshots = false
    /// Each list request in order: its resource, its `limit`, and whether it continued an earlier one.
    private var listPages: [(resource: String, limit: Int?, continued: Bool)] = []
    private var recordedPaths: [String] = []
    /// Read under the lock: tests read them while archway is still making requests.
    var calls: [Call] { lock.withLock { recordedCalls } }
    /// Every path asked for, discovery and unserved versions included, in order.
    var requestedPaths: [String] { lock.withLock { recordedPaths } }
    /// The kinds and the versions they are served at; its own lock, as it is read with `lock` held.
    private let served: NIOLockedValueBox<[Collection]>
    var collections: [Collection] { served.withLockedValue { $0 } }
    /// Successful status writes per "Kind namespace/name".
    private var statusWrites: [String: Int] = [:]
    private var statusPatchArrivals: [ContinuousClock.Instant] = []
    /// When each PATCH of a status subresource arrived (conflicting ones too), in order.
    var statusPatchTimes: [ContinuousClock.Instant] { lock.withLock { statusPatchArrivals } }
    /// The resourceVersion each watch request started from, in order.
    private(set) var watchStarts: [(resource: String, version: String)] = []

    /// Its own thread, so it outlives (and never depends on) the gateway under test.
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private var channel: (any Channel)?
    var port: Int { channel?.localAddress?.port ?? 0 }
    var url: String { "http://127.0.0.1:\(port)" }

    init(collections: [Collection] = FakeAPIServer.defaultCollections) {
        served = NIOLockedValueBox(collections)
    }

    func start() async throws {
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(FakeAPIHandler(server: self))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func stop() async {
        dropWatches()
        try? await channel?.close()
        try? await group.shutdownGracefully()
    }

    // MARK: Test controls

    /// Creates or replaces every object in the YAML (multi-document), emitting ADDED or MODIFIED.
    func apply(_ yaml: String) throws {
        for case let object as [String: Any] in try Yams.load_all(yaml: yaml) {
            guard let collection = collection(apiVersion: object["apiVersion"] as? String, kind: object["kind"] as? String) else {
                // What `kubectl apply` says when the CRD does not serve that version.
                throw HarnessError.timeout("fake API server: no matches for kind \"\(object["kind"] ?? "?")\" in version \"\(object["apiVersion"] ?? "?")\"")
            }
            lock.withLock {
                var object = object
                var metadata = object["metadata"] as? [String: Any] ?? [:]
                if collection.namespaced, metadata["namespace"] == nil { metadata["namespace"] = "default" }
                let key = Self.key(metadata)
                let existing = objects[collection]?[key]
                let existingMetadata = existing?["metadata"] as? [String: Any]
                let generation = (existingMetadata?["generation"] as? Int ?? 0) + 1
                metadata["generation"] = generation
                metadata["uid"] = existingMetadata?["uid"] ?? UUID().uuidString.lowercased()
                object["metadata"] = metadata
                if let status = existing?["status"], object["status"] == nil { object["status"] = status }
                store(object, in: collection, type: existing == nil ? "ADDED" : "MODIFIED")
            }
        }
    }

    /// Replaces an object's status as another client would (a new resourceVersion, a MODIFIED event);
    /// not counted as a status write.
    func setStatus(kind: String, namespace: String?, name: String, _ status: [String: Any]) {
        lock.withLock {
            guard let collection = collections.first(where: { $0.kind == kind }),
                  var object = objects[collection]?[Self.key(namespace: namespace, name: name)] else { return }
            object["status"] = status
            store(object, in: collection, type: "MODIFIED")
        }
    }

    func delete(kind: String, namespace: String?, name: String) {
        lock.withLock { deleteLocked(kind: kind, namespace: namespace, name: name) }
    }

    private func deleteLocked(kind: String, namespace: String?, name: String) {
        do {
            guard let collection = collections.first(where: { $0.kind == kind }),
                  let object = objects[collection]?.removeValue(forKey: Self.key(namespace: namespace, name: name)) else { return }
            revision += 1
            var deleted = object
            var metadata = deleted["metadata"] as? [String: Any] ?? [:]
            metadata["resourceVersion"] = "\(revision)"
            deleted["metadata"] = metadata
            emit(type: "DELETED", object: deleted, collection: collection)
        }
    }

    /// Serves `kind` at `versions` from now on, as a CRD upgrade does: the objects stay, watches on a
    /// version no longer served are closed, and asking for it is answered 404.
    func serve(_ kind: String, at versions: [String]) {
        served.withLockedValue { collections in
            for index in collections.indices where collections[index].kind == kind { collections[index].versions = versions }
        }
        let cut = lock.withLock {
            let stale = watchers.filter { $0.value.collection.kind == kind && !versions.contains($0.value.version) }
            for key in stale.keys { watchers[key] = nil }
            return stale.values.map(\.channel)
        }
        for channel in cut { channel.close(promise: nil) }
    }

    /// Closes every open watch, as an API server restart or a load balancer timeout does.
    func dropWatches() { dropWatches(thenLocked: {}) }

    /// Cuts every watch and, before any client can come back, makes `change` (with the lock held).
    private func dropWatches(thenLocked change: () -> Void) {
        let channels = lock.withLock {
            defer {
                watchers.removeAll()
                change()
            }
            return watchers.values.map(\.channel)
        }
        for channel in channels { channel.close(promise: nil) }
    }

    /// An API server restart that loses history: every watch is cut, the object is deleted while
    /// no one watches, and resuming from any older version gets 410 Expired. Only a re-list sees the deletion.
    func restartLosingHistory(deleting kind: String, namespace: String?, name: String) {
        dropWatches {
            deleteLocked(kind: kind, namespace: namespace, name: name)
            compactLocked()
        }
    }

    /// Forgets all history up to now: a watch resuming from an older version gets 410 Expired.
    func compact() { lock.withLock { compactLocked() } }

    private func compactLocked() {
        oldestKept = revision + 1
        history.removeAll()
    }

    /// Sends a BOOKMARK carrying the current resourceVersion to every watch.
    func bookmark() {
        lock.withLock {
            for watcher in watchers.values {
                let apiVersion = watcher.collection.apiVersion(watcher.version)
                send(["type": "BOOKMARK", "object": ["kind": watcher.collection.kind, "apiVersion": apiVersion,
                                                      "metadata": ["resourceVersion": "\(revision)"]]], to: watcher.channel)
            }
        }
    }

    /// When set, a request without `Authorization: Bearer <token>` gets 401, as a real API server answers.
    var requiredToken: String? {
        get { lock.withLock { requiredTokenValue } }
        set { lock.withLock { requiredTokenValue = newValue } }
    }
    private var requiredTokenValue: String?

    /// The next `count` status writes answer 409 Conflict, as if another writer got there first.
    func injectConflicts(_ count: Int) { lock.withLock { injectedConflicts = count } }

    func statusWriteCount(_ kind: String, _ namespace: String?, _ name: String) -> Int {
        lock.withLock { statusWrites["\(kind) \(Self.key(namespace: namespace, name: name))"] ?? 0 }
    }

    var totalStatusWrites: Int { lock.withLock { statusWrites.values.reduce(0, +) } }

    func object(kind: String, namespace: String?, name: String) -> [String: Any]? {
        lock.withLock {
            guard let collection = collections.first(where: { $0.kind == kind }) else { return nil }
            return objects[collection]?[Self.key(namespace: namespace, name: name)]
        }
    }

    /// The resource requests made for `resource` (a plural), by version.
    /// Every object of a kind (Events the controller created, say).
    func objects(kind: String) -> [[String: Any]] {
        lock.withLock { collections.first { $0.kind == kind }.map { Array((objects[$0] ?? [:]).values) } ?? [] }
    }

    func versionsAsked(for resource: String) -> Set<String> {
        lock.withLock { Set(recordedCalls.filter { $0.resource == resource }.map(\.version)) }
    }

    /// Lists begun for `resource` (the requests for their further pages not counted).
    func listCount(_ resource: String) -> Int { lock.withLock { listPages.filter { $0.resource == resource && !$0.continued }.count } }

    /// The list requests for `resource`, in order: each one's `limit` and whether it continued a list.
    func listRequests(_ resource: String) -> [(limit: Int?, continued: Bool)] {
        lock.withLock { listPages.filter { $0.resource == resource }.map { ($0.limit, $0.continued) } }
    }

    /// Makes `change` once, just before the next page of a paged list is answered: a change another
    /// client makes while archway reads a list.
    func whileListing(_ change: @escaping () throws -> Void) { lock.withLock { changeWhileListing = change } }
    private var changeWhileListing: (() throws -> Void)?

    /// From now on every continue token is too old, as after a compaction passed the list's
    /// snapshot: its next page is answered 410 Expired.
    func expireListSnapshots() { lock.withLock { expiredSnapshots = true } }

    /// The first `limit` items (all without a limit), and a continue token for the rest.
    private func page(of items: [[String: Any]], kind: String, apiVersion: String, path: String, query: [String: String]) -> Answer {
        guard let limit = Int(query["limit"] ?? ""), limit > 0, items.count > limit else {
            return Answer(status: .ok, body: ["kind": kind, "apiVersion": apiVersion, "metadata": ["resourceVersion": "\(revision)"], "items": items])
        }
        let id = listSnapshots.count + 1
        listSnapshots[id] = (kind, apiVersion, revision, items, Self.listRequest(path: path, query: query))
        return continued(id: id, from: 0, limit: limit)
    }

    /// What a continuation must ask for again: the same collection, namespace and selectors (the real
    /// server applies the continuing request's own; here a different one is refused, so that a client
    /// dropping its selectors after the first page is caught).
    private static func listRequest(path: String, query: [String: String]) -> String {
        "\(path)?\(query["fieldSelector"] ?? "")&\(query["labelSelector"] ?? "")"
    }

    private func continued(id: Int, from offset: Int, limit: Int) -> Answer {
        let snapshot = listSnapshots[id]!
        let end = min(offset + limit, snapshot.items.count)
        var metadata: [String: Any] = ["resourceVersion": "\(snapshot.revision)"]
        if end < snapshot.items.count {
            metadata["continue"] = Data("\(id):\(end)".utf8).base64EncodedString()
            metadata["remainingItemCount"] = snapshot.items.count - end
        }
        return Answer(status: .ok, body: ["kind": snapshot.kind, "apiVersion": snapshot.apiVersion, "metadata": metadata,
                                          "items": Array(snapshot.items[offset..<end])])
    }

    private func nextPage(token: String, path: String, query: [String: String]) -> Answer {
        let parts = Data(base64Encoded: token).map { String(decoding: $0, as: UTF8.self).split(separator: ":").compactMap { Int($0) } } ?? []
        guard parts.count == 2, let snapshot = listSnapshots[parts[0]], let limit = Int(query["limit"] ?? ""), limit > 0 else {
            return Self.failure(.badRequest, "BadRequest", "invalid continue token")
        }
        guard snapshot.request == Self.listRequest(path: path, query: query) else {
            return Self.failure(.badRequest, "BadRequest", "continue token was issued for another list: \(snapshot.request)")
        }
        if expiredSnapshots {
            return Self.failure(.gone, "Expired", "The provided continue parameter is too old to display a consistent list result. "
                                + "You can start a new list without the continue parameter.")
        }
        return continued(id: parts[0], from: parts[1], limit: limit)
    }

    var openWatches: Int { lock.withLock { watchers.count } }

    // MARK: Storage

    /// The collection of `kind`, if `apiVersion` is one of the versions it is served at.
    func collection(apiVersion: String?, kind: String?) -> Collection? {
        collections.first { collection in collection.kind == kind && collection.versions.contains { collection.apiVersion($0) == apiVersion } }
    }

    /// The object as a client asking for `version` sees it: the server converts between served
    /// versions, and the schemas archway reads are the same at each.
    private func shown(_ object: [String: Any], at version: String, of collection: Collection) -> [String: Any] {
        var object = object
        object["apiVersion"] = collection.apiVersion(version)
        return object
    }

    static func key(namespace: String?, name: String) -> String { "\(namespace ?? "")/\(name)" }
    static func key(_ metadata: [String: Any]) -> String {
        key(namespace: metadata["namespace"] as? String, name: metadata["name"] as? String ?? "")
    }

    /// Stores with a new resourceVersion and tells the watchers. Call with the lock held.
    private func store(_ object: [String: Any], in collection: Collection, type: String) {
        revision += 1
        var object = object
        var metadata = object["metadata"] as? [String: Any] ?? [:]
        metadata["resourceVersion"] = "\(revision)"
        metadata["creationTimestamp"] = metadata["creationTimestamp"] ?? "2026-11-22T00:00:00Z"
        object["metadata"] = metadata
        object["apiVersion"] = collection.apiVersion(collection.storedVersion)
        object["kind"] = collection.kind
        objects[collection, default: [:]][Self.key(metadata)] = object
        emit(type: type, object: object, collection: collection)
    }

    private func emit(type: String, object: [String: Any], collection: Collection) {
        history.append((revision, collection, type, object))
        let metadata = object["metadata"] as? [String: Any] ?? [:]
        for watcher in watchers.values where matches(watcher, collection: collection, metadata: metadata) {
            send(["type": type, "object": shown(object, at: watcher.version, of: collection)], to: watcher.channel)
        }
    }

    private func matches(_ watcher: Watcher, collection: Collection, metadata: [String: Any]) -> Bool {
        watcher.collection == collection
            && (watcher.namespace == nil || watcher.namespace == metadata["namespace"] as? String)
            && (watcher.name == nil || watcher.name == metadata["name"] as? String)
    }

    private func send(_ event: [String: Any], to channel: any Channel) {
        guard var data = try? JSONSerialization.data(withJSONObject: event) else { return }
        data.append(UInt8(ascii: "\n"))
        channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: data))), promise: nil)
    }

    // MARK: Requests

    struct Answer {
        var status: HTTPResponseStatus
        var body: [String: Any] = [:]
        /// A plain-text answer instead of JSON (the real server's "404 page not found").
        var text: String?
    }

    static func failure(_ status: HTTPResponseStatus, _ reason: String, _ message: String) -> Answer {
        Answer(status: status, body: ["kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure",
                                      "message": message, "reason": reason, "code": Int(status.code)])
    }

    /// Everything but the start of a watch.
    func handle(method: HTTPMethod, uri: String, body: Data, channel: any Channel) -> Answer? {
        guard let components = URLComponents(string: uri) else { return Self.failure(.badRequest, "BadRequest", "bad URI") }
        lock.withLock { recordedPaths.append(components.path) }
        if let discovery = discoveryAnswer(path: components.path) { return discovery }
        var segments = components.path.split(separator: "/").map(String.init)
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        let group: String
        let version: String
        if segments.first == "api", segments.count >= 2 {
            (group, version) = ("", segments[1])
            segments.removeFirst(2)
        } else if segments.first == "apis", segments.count >= 3 {
            (group, version) = (segments[1], segments[2])
            segments.removeFirst(3)
        } else {
            return Answer(status: .notFound, text: "404 page not found\n")
        }
        // A version no kind of the group serves has no handler at all; a served one without this resource is a NotFound Status.
        guard servedVersions(of: group).contains(version) else { return Answer(status: .notFound, text: "404 page not found\n") }
        var namespace: String?
        if segments.first == "namespaces", segments.count >= 3 {
            namespace = segments[1]
            segments.removeFirst(2)
        }
        guard let plural = segments.first,
              let collection = collections.first(where: { $0.group == group && $0.plural == plural && $0.versions.contains(version) }) else {
            return Self.failure(.notFound, "NotFound", "the server could not find the requested resource")
        }
        let name = segments.count > 1 ? segments[1] : nil
        let subresource = segments.count > 2 ? segments[2] : nil
        let watching = query["watch"] == "true" || query["watch"] == "1"
        let verb: String = switch method {
        case .GET: name != nil ? "get" : watching ? "watch" : "list"
        case .POST: "create"
        case .PUT: "update"
        case .PATCH: "patch"
        case .DELETE: "delete"
        default: "unknown"
        }
        if verb == "list", query["continue"] != nil, let change = lock.withLock({ () -> (() throws -> Void)? in
            defer { changeWhileListing = nil }
            return changeWhileListing
        }) {
            try? change()
        }
        let fieldName = query["fieldSelector"].flatMap { $0.hasPrefix("metadata.name=") ? String($0.dropFirst(14)) : nil }
        return lock.withLock { () -> Answer? in
            recordedCalls.append(Call(verb: verb, group: group, version: version, resource: plural, subresource: subresource, namespace: namespace))
            switch verb {
            case "list":
                if let token = query["continue"] {
                    listPages.append((plural, Int(query["limit"] ?? ""), true))
                    return nextPage(token: token, path: components.path, query: query)
                }
                listPages.append((plural, Int(query["limit"] ?? ""), false))
                let items = (objects[collection] ?? [:]).values
                    .filter { matches(Watcher(channel: channel, collection: collection, version: version, namespace: namespace, name: fieldName), collection: collection,
                                      metadata: $0["metadata"] as? [String: Any] ?? [:]) }
                    .sorted { Self.key($0["metadata"] as? [String: Any] ?? [:]) < Self.key($1["metadata"] as? [String: Any] ?? [:]) }
                    .map { item -> [String: Any] in
                        guard collection.builtIn else { return shown(item, at: version, of: collection) }
                        var item = item
                        item["apiVersion"] = nil
                        item["kind"] = nil
                        return item
                    }
                return page(of: items, kind: collection.kind + "List", apiVersion: collection.apiVersion(version), path: components.path, query: query)
            case "watch":
                startWatch(collection: collection, version: version, namespace: namespace, name: fieldName, from: query["resourceVersion"] ?? "0", channel: channel)
                return nil
            case "get":
                guard let object = objects[collection]?[Self.key(namespace: namespace, name: name!)] else {
                    return Self.failure(.notFound, "NotFound", "\(plural) \"\(name!)\" not found")
                }
                return Answer(status: .ok, body: shown(object, at: version, of: collection))
            case "create":
                guard var object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
                    return Self.failure(.badRequest, "BadRequest", "body is not a JSON object")
                }
                var metadata = object["metadata"] as? [String: Any] ?? [:]
                if collection.namespaced { metadata["namespace"] = namespace ?? "default" }
                if objects[collection]?[Self.key(metadata)] != nil {
                    return Self.failure(.conflict, "AlreadyExists", "\(plural) \"\(metadata["name"] ?? "")\" already exists")
                }
                object["metadata"] = metadata
                store(object, in: collection, type: "ADDED")
                return Answer(status: .created, body: shown(objects[collection]![Self.key(metadata)]!, at: version, of: collection))
            case "update", "patch":
                let key = Self.key(namespace: namespace, name: name ?? "")
                guard let existing = objects[collection]?[key] else { return Self.failure(.notFound, "NotFound", "\(plural) \"\(name ?? "")\" not found") }
                guard let patch = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
                    return Self.failure(.badRequest, "BadRequest", "body is not a JSON object")
                }
                let current = (existing["metadata"] as? [String: Any])?["resourceVersion"] as? String
                let sent = (patch["metadata"] as? [String: Any])?["resourceVersion"] as? String
                if subresource == "status", verb == "patch" { statusPatchArrivals.append(.now) }
                if subresource == "status", injectedConflicts > 0 {
                    injectedConflicts -= 1
                    return Self.failure(.conflict, "Conflict", "Operation cannot be fulfilled on \(plural) \"\(name!)\": the object has been modified; please apply your changes to the latest version and try again")
                }
                if let sent, sent != current {
                    return Self.failure(.conflict, "Conflict", "Operation cannot be fulfilled on \(plural) \"\(name!)\": the object has been modified; please apply your changes to the latest version and try again")
                }
                var updated: [String: Any]
                if subresource == "status" {
                    // The status subresource changes status only, whatever else the body says.
                    updated = existing
                    let merged = verb == "patch" ? Self.mergePatch(existing["status"] ?? [String: Any](), patch["status"] ?? NSNull())
                                                 : patch["status"] ?? NSNull()
                    updated["status"] = merged is NSNull ? nil : merged
                    statusWrites["\(collection.kind) \(key)", default: 0] += 1
                } else {
                    updated = verb == "patch" ? Self.mergePatch(existing, patch) as? [String: Any] ?? existing : patch
                    var metadata = updated["metadata"] as? [String: Any] ?? [:]
                    metadata["namespace"] = (existing["metadata"] as? [String: Any])?["namespace"]
                    updated["metadata"] = metadata
                }
                store(updated, in: collection, type: "MODIFIED")
                return Answer(status: .ok, body: shown(objects[collection]![key]!, at: version, of: collection))
            case "delete" where collection.kind == "Lease":
                guard objects[collection]?[Self.key(namespace: namespace, name: name ?? "")] != nil else {
                    return Self.failure(.notFound, "NotFound", "\(plural) \"\(name ?? "")\" not found")
                }
                deleteLocked(kind: collection.kind, namespace: namespace, name: name ?? "")
                return Answer(status: .ok, body: ["kind": "Status", "apiVersion": "v1", "status": "Success"])
            default:
                return Self.failure(.methodNotAllowed, "MethodNotAllowed", "not supported here")
            }
        }
    }

    /// RFC 7386 JSON merge patch.
    static func mergePatch(_ target: Any, _ patch: Any) -> Any {
        guard let patch = patch as? [String: Any] else { return patch }
        var result = target as? [String: Any] ?? [:]
        for (key, value) in patch {
            if value is NSNull { result[key] = nil } else { result[key] = mergePatch(result[key] ?? NSNull(), value) }
        }
        return result
    }

    /// Sends the head, the history after `from` (or 410 Expired), and registers for live events.
    /// Called with the lock held.
    private func startWatch(collection: Collection, version requested: String, namespace: String?, name: String?, from: String, channel: any Channel) {
        watchStarts.append((collection.plural, from))
        var head = HTTPResponseHead(version: .http1_1, status: .ok)
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Transfer-Encoding", value: "chunked")
        channel.writeAndFlush(HTTPServerResponsePart.head(head), promise: nil)
        let version = Int(from) ?? 0
        if version != 0, version < oldestKept - 1 {
            send(["type": "ERROR", "object": Self.failure(.gone, "Expired", "too old resource version: \(version) (\(oldestKept))").body], to: channel)
            channel.writeAndFlush(HTTPServerResponsePart.end(nil)).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        let watcher = Watcher(channel: channel, collection: collection, version: requested, namespace: namespace, name: name)
        for event in history where event.revision > version && matches(watcher, collection: event.collection,
                                                                         metadata: event.object["metadata"] as? [String: Any] ?? [:]) {
            send(["type": event.type, "object": shown(event.object, at: requested, of: collection)], to: channel)
        }
        watchers[ObjectIdentifier(channel)] = watcher
        channel.closeFuture.whenComplete { _ in
            self.lock.withLock { _ = self.watchers.removeValue(forKey: ObjectIdentifier(channel)) }
        }
    }
}

private final class FakeAPIHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let server: FakeAPIServer
    private var head: HTTPRequestHead?
    private var body = Data()

    init(server: FakeAPIServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = Data()
        case .body(let buffer):
            body.append(contentsOf: buffer.readableBytesView)
        case .end:
            guard let head else { return }
            let unauthorized = server.requiredToken.flatMap { token in
                head.headers.first(name: "authorization") == "Bearer \(token)" ? nil
                    : FakeAPIServer.failure(.unauthorized, "Unauthorized", "Unauthorized")
            }
            guard let answer = unauthorized ?? server.handle(method: head.method, uri: head.uri, body: body, channel: context.channel) else { return }
            let data = answer.text.map { Data($0.utf8) } ?? (try? JSONSerialization.data(withJSONObject: answer.body)) ?? Data()
            var response = HTTPResponseHead(version: .http1_1, status: answer.status)
            response.headers.add(name: "Content-Type", value: answer.text == nil ? "application/json" : "text/plain; charset=utf-8")
            response.headers.add(name: "Content-Length", value: "\(data.count)")
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: data)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
