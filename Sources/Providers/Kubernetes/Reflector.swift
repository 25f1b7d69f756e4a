import Foundation
import GatewayAPI
import Logging
import NIOCore

/// Keeps one query's share of the `ObjectCache` equal to the API server's: list, then watch from the
/// list's resourceVersion. A dropped watch resumes from the last version seen (bookmarks keep it
/// fresh); 410 Gone means the server no longer has that version, so the query is listed again.
/// Each list reads the kind at the version discovery says is served, and a watch answered 404 (a CRD
/// upgrade stopped serving that version) leads to a new discovery and list.
/// Failures back off exponentially, from half a second to thirty.
struct Reflector: Sendable {
    struct Query: Sendable, Hashable, CustomStringConvertible {
        var kind: KubeKind
        var namespace: String?
        var fieldSelector: String?
        var labelSelector: String?

        var id: String { description }
        var description: String {
            var text = kind.kind + (namespace.map { " in \($0)" } ?? "")
            if let fieldSelector { text += " where \(fieldSelector)" }
            if let labelSelector { text += " labelled \(labelSelector)" }
            return text
        }

        /// One named Secret or ConfigMap (a `metadata.name` field selector in its namespace).
        init?(naming ref: ObjectRef) {
            guard let kind = KubeKind.byKind[ref.kind] else { return nil }
            self.init(kind: kind, namespace: ref.namespace, fieldSelector: "metadata.name=\(ref.name)")
        }

        init(kind: KubeKind, namespace: String? = nil, fieldSelector: String? = nil, labelSelector: String? = nil) {
            self.kind = kind
            self.namespace = namespace
            self.fieldSelector = fieldSelector
            self.labelSelector = labelSelector
        }

        var selectors: [(String, String)] {
            var query: [(String, String)] = []
            if let fieldSelector { query.append(("fieldSelector", fieldSelector)) }
            if let labelSelector { query.append(("labelSelector", labelSelector)) }
            return query
        }
    }

    let client: KubeClient
    let discovery: APIDiscovery
    let query: Query
    let cache: ObjectCache
    let logger: Logger
    /// How long the server keeps one watch open before we start the next; real clients pick 5–10 min.
    var watchSeconds = 300
    var notFoundRetry: Duration = .seconds(30)
    /// Items per list page; client-go's pager asks for 500.
    var pageSize = 500

    private struct Gone: Error {}
    /// The version being watched is no longer served.
    private struct NoLongerServed: Error {}

    /// What a list found: the version it read and where to watch from.
    struct Listed {
        var kind: KubeKind
        var resourceVersion: String
    }

    /// Runs until cancelled. `synced` is called once, after the first list (or when the kind turns out
    /// not to be installed), so the provider knows when its first snapshot is complete.
    func run(synced: @escaping @Sendable () async -> Void) async {
        var didSync = false
        func markSynced() async {
            if !didSync {
                didSync = true
                await synced()
            }
        }
        var listed: Listed?
        var backoff: Duration = .milliseconds(500)
        var reportedMissing = false
        while !Task.isCancelled {
            do {
                if listed == nil {
                    listed = try await list()
                    if listed == nil {
                        if !reportedMissing {
                            logger.warning("kind served by no version of its API group; install its CRD to use it",
                                           metadata: ["kind": "\(query.kind.kind)", "group": "\(query.kind.group)"])
                            reportedMissing = true
                        }
                        await markSynced()
                        try await Task.sleep(for: notFoundRetry)
                        continue
                    }
                    reportedMissing = false
                    if listed!.kind.version != query.kind.version {
                        logger.info("kind read at the version its CRD serves, not archway's first choice", metadata: [
                            "kind": "\(query.kind.kind)", "version": "\(listed!.kind.apiVersion)"])
                    }
                    await markSynced()
                }
                listed!.resourceVersion = try await watch(listed!.kind, from: listed!.resourceVersion)
                backoff = .milliseconds(500)
            } catch is Gone {
                logger.info("watch expired (410 Gone); listing again", metadata: ["query": "\(query)"])
                listed = nil
            } catch is NoLongerServed {
                logger.info("version no longer served; discovering the served one and listing again",
                            metadata: ["query": "\(query)", "version": "\(listed?.kind.apiVersion ?? "")"])
                listed = nil
                await discovery.forget(group: query.kind.group)
                // Bounded like any failure: a server that lists a version but will not watch it must not be hammered.
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(30))
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                logger.warning("API server request failed; retrying", metadata: [
                    "query": "\(query)", "error": "\(error)", "retry_in": "\(backoff)"])
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(30))
            }
        }
    }

    /// Lists the query at the version the server serves and replaces its share of the cache.
    /// nil: an optional kind that no version serves (its CRD is not installed).
    ///
    /// The list is read in pages of `pageSize` items, as client-go's pager does, and each page is
    /// decoded before the next is asked for: at 10,000 routes the whole list's JSON (hundreds of MB once
    /// Foundation has parsed it) is never alive at once, and no page nears the client's size cap.
    /// The server serves every page from the first page's snapshot. When that snapshot has been
    /// compacted away between two pages (410 Expired on a continue token), the list starts over
    /// unpaged, as client-go's `FullListIfExpired` does: a consistent list is worth the one large
    /// answer, and paging again could expire again on a busy server. (Should that answer pass the size
    /// cap, the list fails, and `run` lists again in pages after its back-off.)
    func list() async throws -> Listed? {
        guard let kind = try await discovery.served(query.kind) else {
            if query.kind.optional { return nil }
            throw KubeClient.RequestError(method: "GET", path: "/apis/\(query.kind.group)", status: 404,
                                          message: "no served version of \(query.kind.group) has \(query.kind.plural)")
        }
        let path = kind.collectionPath(namespace: query.namespace)
        var objects: [CachedObject] = []
        var limit: Int? = pageSize
        var continueToken: String?
        var resourceVersion = ""
        while true {
            var parameters = query.selectors
            if let limit { parameters.append(("limit", "\(limit)")) }
            if let continueToken { parameters.append(("continue", continueToken)) }
            let response = try await client.send(.GET, path, query: parameters)
            if response.status == 404, query.kind.optional { return nil }
            if response.status == 410 {
                guard continueToken != nil else { throw Gone() }
                logger.info("list snapshot expired between pages; listing again in one answer", metadata: [
                    "query": "\(query)", "items_read": "\(objects.count)"])
                (objects, limit, continueToken) = ([], nil, nil)
                continue
            }
            guard response.status == 200, let body = response.object else {
                throw KubeClient.RequestError(method: "GET", path: path, status: response.status, message: response.message)
            }
            let items = body["items"] as? [[String: Any]] ?? []
            objects += items.compactMap { CachedObject.decode($0, kind: kind) }
            let metadata = body["metadata"] as? [String: Any]
            // Every page carries the snapshot's version; the watch starts from it.
            if let version = metadata?["resourceVersion"] as? String, !version.isEmpty { resourceVersion = version }
            guard limit != nil, let next = metadata?["continue"] as? String, !next.isEmpty else { break }
            continueToken = next
        }
        await cache.replace(query: query.id, with: objects)
        return Listed(kind: kind, resourceVersion: resourceVersion)
    }

    /// Applies watch events until the server ends the stream; returns the last resourceVersion seen.
    private func watch(_ kind: KubeKind, from start: String) async throws -> String {
        var resourceVersion = start
        let path = kind.collectionPath(namespace: query.namespace)
        let parameters = query.selectors + [
            ("watch", "true"), ("resourceVersion", start), ("allowWatchBookmarks", "true"), ("timeoutSeconds", "\(watchSeconds)"),
        ]
        let (status, lines) = try await client.watch(path, query: parameters, timeout: .seconds(Int64(watchSeconds + 30)))
        if status == 410 { throw Gone() }
        if status == 404 { throw NoLongerServed() }
        guard status == 200 else {
            var message = ""
            for try await line in lines { message += String(decoding: line.prefix(200), as: UTF8.self) }
            throw KubeClient.RequestError(method: "GET", path: path + "?watch", status: status, message: message)
        }
        for try await line in lines {
            guard let event = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
                  let type = event["type"] as? String, let object = event["object"] as? [String: Any] else {
                logger.warning("unreadable watch event skipped", metadata: ["query": "\(query)", "line": "\(String(decoding: line.prefix(200), as: UTF8.self))"])
                continue
            }
            let version = (object["metadata"] as? [String: Any])?["resourceVersion"] as? String
            switch type {
            case "ADDED", "MODIFIED":
                if let cached = CachedObject.decode(object, kind: kind) { await cache.upsert(query: query.id, cached) }
            case "DELETED":
                if let cached = CachedObject.decode(object, kind: kind) { await cache.delete(query: query.id, cached.ref) }
            case "BOOKMARK":
                break
            case "ERROR":
                // A metav1.Status: 410 (Expired/Gone) is the usual one, sent when our version was compacted away.
                if (object["code"] as? NSNumber)?.intValue == 410 { throw Gone() }
                throw KubeClient.RequestError(method: "GET", path: path + "?watch", status: (object["code"] as? NSNumber)?.intValue ?? 0,
                                              message: object["message"] as? String ?? "watch error")
            default:
                logger.warning("unknown watch event type skipped", metadata: ["type": "\(type)"])
            }
            if let version { resourceVersion = version }
        }
        return resourceVersion
    }
}
