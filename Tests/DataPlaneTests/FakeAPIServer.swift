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
/// optimistic concurrency (409), and create/update of Leases. Its table of kinds is its own, written
/// from the API reference rather than from archway's, so a wrong path in archway shows up as a 404.
final class FakeAPIServer: @unchecked Sendable {
    struct Collection: Hashable {
        var groupVersion: String
        var plural: String
        var kind: String
        var namespaced: Bool
        var builtIn: Bool
    }

    static let collections: [Collection] = [
        .init(groupVersion: "gateway.networking.k8s.io/v1", plural: "gatewayclasses", kind: "GatewayClass", namespaced: false, builtIn: false),
        .init(groupVersion: "gateway.networking.k8s.io/v1", plural: "gateways", kind: "Gateway", namespaced: true, builtIn: false),
        .init(groupVersion: "gateway.networking.k8s.io/v1", plural: "httproutes", kind: "HTTPRoute", namespaced: true, builtIn: false),
        .init(groupVersion: "gateway.networking.k8s.io/v1", plural: "grpcroutes", kind: "GRPCRoute", namespaced: true, builtIn: false),
        .init(groupVersion: "gateway.networking.k8s.io/v1alpha2", plural: "tcproutes", kind: "TCPRoute", namespaced: true, builtIn: false),
        .init(groupVersion: "gateway.networking.k8s.io/v1alpha2", plural: "tlsroutes", kind: "TLSRoute", namespaced: true, builtIn: false),
        .init(groupVersion: "gateway.networking.k8s.io/v1beta1", plural: "referencegrants", kind: "ReferenceGrant", namespaced: true, builtIn: false),
        .init(groupVersion: "gateway.networking.k8s.io/v1", plural: "backendtlspolicies", kind: "BackendTLSPolicy", namespaced: true, builtIn: false),
        .init(groupVersion: "archway.dev/v1alpha1", plural: "backendtrafficpolicies", kind: "BackendTrafficPolicy", namespaced: true, builtIn: false),
        .init(groupVersion: "v1", plural: "services", kind: "Service", namespaced: true, builtIn: true),
        .init(groupVersion: "discovery.k8s.io/v1", plural: "endpointslices", kind: "EndpointSlice", namespaced: true, builtIn: true),
        .init(groupVersion: "v1", plural: "namespaces", kind: "Namespace", namespaced: false, builtIn: true),
        .init(groupVersion: "v1", plural: "secrets", kind: "Secret", namespaced: true, builtIn: true),
        .init(groupVersion: "v1", plural: "configmaps", kind: "ConfigMap", namespaced: true, builtIn: true),
        .init(groupVersion: "networking.k8s.io/v1", plural: "ingresses", kind: "Ingress", namespaced: true, builtIn: true),
        .init(groupVersion: "networking.k8s.io/v1", plural: "ingressclasses", kind: "IngressClass", namespaced: false, builtIn: true),
        .init(groupVersion: "coordination.k8s.io/v1", plural: "leases", kind: "Lease", namespaced: true, builtIn: true),
        // UDPRoute and ServiceLevelObjective are left out on purpose: a cluster without those CRDs.
    ]

    /// One request as RBAC sees it.
    struct Call: Hashable, CustomStringConvertible {
        var verb: String
        var group: String
        var resource: String
        var subresource: String?
        var namespace: String?
        var description: String { "\(verb) \(group.isEmpty ? "core" : group)/\(resource)\(subresource.map { "/" + $0 } ?? "")" }
    }

    private struct Watcher {
        var channel: any Channel
        var collection: Collection
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
    private(set) var calls: [Call] = []
    /// Successful status writes per "Kind namespace/name".
    private var statusWrites: [String: Int] = [:]
    /// The resourceVersion each watch request started from, in order.
    private(set) var watchStarts: [(resource: String, version: String)] = []

    /// Its own thread, so it outlives (and never depends on) the gateway under test.
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private var channel: (any Channel)?
    var port: Int { channel?.localAddress?.port ?? 0 }
    var url: String { "http://127.0.0.1:\(port)" }

    init() {}

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
            guard let collection = Self.collection(apiVersion: object["apiVersion"] as? String, kind: object["kind"] as? String) else {
                throw HarnessError.timeout("fake API server: unknown kind \(object["kind"] ?? "?")")
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

    func delete(kind: String, namespace: String?, name: String) {
        lock.withLock { deleteLocked(kind: kind, namespace: namespace, name: name) }
    }

    private func deleteLocked(kind: String, namespace: String?, name: String) {
        do {
            guard let collection = Self.collections.first(where: { $0.kind == kind }),
                  let object = objects[collection]?.removeValue(forKey: Self.key(namespace: namespace, name: name)) else { return }
            revision += 1
            var deleted = object
            var metadata = deleted["metadata"] as? [String: Any] ?? [:]
            metadata["resourceVersion"] = "\(revision)"
            deleted["metadata"] = metadata
            emit(type: "DELETED", object: deleted, collection: collection)
        }
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
                let apiVersion = watcher.collection.groupVersion
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
            guard let collection = Self.collections.first(where: { $0.kind == kind }) else { return nil }
            return objects[collection]?[Self.key(namespace: namespace, name: name)]
        }
    }

    func listCount(_ resource: String) -> Int { lock.withLock { calls.filter { $0.verb == "list" && $0.resource == resource }.count } }

    var openWatches: Int { lock.withLock { watchers.count } }

    // MARK: Storage

    static func collection(apiVersion: String?, kind: String?) -> Collection? {
        collections.first { $0.groupVersion == apiVersion && $0.kind == kind }
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
        object["apiVersion"] = collection.groupVersion
        object["kind"] = collection.kind
        objects[collection, default: [:]][Self.key(metadata)] = object
        emit(type: type, object: object, collection: collection)
    }

    private func emit(type: String, object: [String: Any], collection: Collection) {
        history.append((revision, collection, type, object))
        let metadata = object["metadata"] as? [String: Any] ?? [:]
        for watcher in watchers.values where matches(watcher, collection: collection, metadata: metadata) {
            send(["type": type, "object": object], to: watcher.channel)
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
        var body: [String: Any]
    }

    static func failure(_ status: HTTPResponseStatus, _ reason: String, _ message: String) -> Answer {
        Answer(status: status, body: ["kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure",
                                      "message": message, "reason": reason, "code": Int(status.code)])
    }

    /// Everything but the start of a watch.
    func handle(method: HTTPMethod, uri: String, body: Data, channel: any Channel) -> Answer? {
        guard let components = URLComponents(string: uri) else { return Self.failure(.badRequest, "BadRequest", "bad URI") }
        var segments = components.path.split(separator: "/").map(String.init)
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        let groupVersion: String
        if segments.first == "api", segments.count >= 2 {
            groupVersion = segments[1]
            segments.removeFirst(2)
        } else if segments.first == "apis", segments.count >= 3 {
            groupVersion = segments[1] + "/" + segments[2]
            segments.removeFirst(3)
        } else {
            return Self.failure(.notFound, "NotFound", "the server could not find the requested resource")
        }
        var namespace: String?
        if segments.first == "namespaces", segments.count >= 3 {
            namespace = segments[1]
            segments.removeFirst(2)
        }
        guard let plural = segments.first,
              let collection = Self.collections.first(where: { $0.groupVersion == groupVersion && $0.plural == plural }) else {
            return Self.failure(.notFound, "NotFound", "the server could not find the requested resource")
        }
        let name = segments.count > 1 ? segments[1] : nil
        let subresource = segments.count > 2 ? segments[2] : nil
        let group = groupVersion.contains("/") ? String(groupVersion.split(separator: "/")[0]) : ""
        let watching = query["watch"] == "true" || query["watch"] == "1"
        let verb: String = switch method {
        case .GET: name != nil ? "get" : watching ? "watch" : "list"
        case .POST: "create"
        case .PUT: "update"
        case .PATCH: "patch"
        case .DELETE: "delete"
        default: "unknown"
        }
        let fieldName = query["fieldSelector"].flatMap { $0.hasPrefix("metadata.name=") ? String($0.dropFirst(14)) : nil }
        return lock.withLock { () -> Answer? in
            calls.append(Call(verb: verb, group: group, resource: plural, subresource: subresource, namespace: namespace))
            switch verb {
            case "list":
                let items = (objects[collection] ?? [:]).values
                    .filter { matches(Watcher(channel: channel, collection: collection, namespace: namespace, name: fieldName), collection: collection,
                                      metadata: $0["metadata"] as? [String: Any] ?? [:]) }
                    .sorted { Self.key($0["metadata"] as? [String: Any] ?? [:]) < Self.key($1["metadata"] as? [String: Any] ?? [:]) }
                    .map { item -> [String: Any] in
                        guard collection.builtIn else { return item }
                        var item = item
                        item["apiVersion"] = nil
                        item["kind"] = nil
                        return item
                    }
                return Answer(status: .ok, body: ["kind": collection.kind + "List", "apiVersion": collection.groupVersion,
                                                  "metadata": ["resourceVersion": "\(revision)"], "items": items])
            case "watch":
                startWatch(collection: collection, namespace: namespace, name: fieldName, from: query["resourceVersion"] ?? "0", channel: channel)
                return nil
            case "get":
                guard let object = objects[collection]?[Self.key(namespace: namespace, name: name!)] else {
                    return Self.failure(.notFound, "NotFound", "\(plural) \"\(name!)\" not found")
                }
                return Answer(status: .ok, body: object)
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
                return Answer(status: .created, body: objects[collection]![Self.key(metadata)]!)
            case "update", "patch":
                let key = Self.key(namespace: namespace, name: name ?? "")
                guard let existing = objects[collection]?[key] else { return Self.failure(.notFound, "NotFound", "\(plural) \"\(name ?? "")\" not found") }
                guard let patch = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
                    return Self.failure(.badRequest, "BadRequest", "body is not a JSON object")
                }
                let current = (existing["metadata"] as? [String: Any])?["resourceVersion"] as? String
                let sent = (patch["metadata"] as? [String: Any])?["resourceVersion"] as? String
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
                return Answer(status: .ok, body: objects[collection]![key]!)
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
    private func startWatch(collection: Collection, namespace: String?, name: String?, from: String, channel: any Channel) {
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
        let watcher = Watcher(channel: channel, collection: collection, namespace: namespace, name: name)
        for event in history where event.revision > version && matches(watcher, collection: event.collection,
                                                                         metadata: event.object["metadata"] as? [String: Any] ?? [:]) {
            send(["type": event.type, "object": event.object], to: channel)
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
            let data = (try? JSONSerialization.data(withJSONObject: answer.body)) ?? Data()
            var response = HTTPResponseHead(version: .http1_1, status: answer.status)
            response.headers.add(name: "Content-Type", value: "application/json")
            response.headers.add(name: "Content-Length", value: "\(data.count)")
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: data)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
