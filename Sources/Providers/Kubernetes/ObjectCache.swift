import Foundation
import GatewayAPI

/// One object as last seen from the API server: decoded for the translator (or the reasons it could
/// not be), plus what the status writer needs to compare and update it.
public struct CachedObject: Sendable {
    public var ref: ObjectRef
    public var apiVersion: String
    public var resourceVersion: String
    public var generation: Int64?
    /// Decoded and validated, as the translator sees it: without its resourceVersion (that is
    /// `resourceVersion`), which the API server bumps on every write, status-only ones included, and
    /// which would make a load after our own status writes differ from the one before them. The
    /// cache's loads share this one copy. Nil when the object is invalid (see `errors`).
    public var resource: Resource?
    public var errors: [ManifestError]
    /// `.status` as canonical JSON (sorted keys), nil when the object has none.
    public var status: Data?

    /// Decodes an object from a list or watch answer. Lists of built-in kinds leave `apiVersion` and
    /// `kind` out of their items; they are filled in from the collection being read.
    public static func decode(_ object: [String: Any], kind: KubeKind) -> CachedObject? {
        var object = object
        if object["apiVersion"] == nil { object["apiVersion"] = kind.apiVersion }
        if object["kind"] == nil { object["kind"] = kind.kind }
        guard let metadata = object["metadata"] as? [String: Any], let name = metadata["name"] as? String else { return nil }
        let namespace = kind.namespaced ? (metadata["namespace"] as? String ?? "default") : ""
        let ref = ObjectRef(kind: kind.kind, namespace: namespace, name: name)
        var cached = CachedObject(ref: ref, apiVersion: object["apiVersion"] as? String ?? kind.apiVersion,
                                  resourceVersion: metadata["resourceVersion"] as? String ?? "",
                                  generation: (metadata["generation"] as? NSNumber)?.int64Value, resource: nil, errors: [], status: nil)
        if let status = object["status"] {
            cached.status = try? JSONSerialization.data(withJSONObject: status, options: [.sortedKeys])
        }
        // Manifest decoding and validation are the file provider's: one set of rules and messages.
        let result = ManifestLoader().parse(json: object, file: "API server")
        cached.resource = result.resources.first.map { loaded in
            var resource = loaded.resource
            resource.clearResourceVersion()
            return resource
        }
        cached.errors = result.errors.map { var error = $0; error.location.document = 0; return error }
        return cached
    }
}

/// Every object the reflectors hold, by the query that brought it. A query's relist replaces its
/// whole share, so objects deleted while a watch was down disappear too.
public actor ObjectCache {
    private var objects: [ObjectRef: CachedObject] = [:]
    /// The objects' order (nil once an object came or went): at 10,000 objects a load is then a walk,
    /// not a sort.
    private var order: [ObjectRef]?
    /// The last load's resources, and where each object sits in them: an edited object replaces its
    /// own entry, so that the load after one change is not a walk over every object again. Nil once
    /// an object came or went, or became valid or invalid.
    private var lastLoaded: (resources: [LoadedResource], positions: [ObjectRef: Int])?
    /// Objects with errors: the only ones a load looks up for them.
    private var invalid: Set<ObjectRef> = []
    private var byQuery: [String: Set<ObjectRef>] = [:]
    private var changeContinuations: [AsyncStream<Void>.Continuation] = []
    /// Counts changes the translator would see; status-only updates do not count.
    public private(set) var revision = 0

    public init() {}

    /// A signal after each change the translator would see. Signals coalesce: one pending is enough.
    public func changes() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        changeContinuations.append(continuation)
        return stream
    }

    private func changed() {
        revision += 1
        for continuation in changeContinuations { continuation.yield() }
    }

    func replace(query: String, with list: [CachedObject]) {
        let previous = byQuery[query] ?? []
        var significant = false
        var current: Set<ObjectRef> = []
        for object in list {
            current.insert(object.ref)
            significant = store(object) || significant
        }
        for ref in previous.subtracting(current) where remove(ref) { significant = true }
        byQuery[query] = current
        if significant { changed() }
    }

    func upsert(query: String, _ object: CachedObject) {
        byQuery[query, default: []].insert(object.ref)
        if store(object) { changed() }
    }

    func delete(query: String, _ ref: ObjectRef) {
        byQuery[query]?.remove(ref)
        if remove(ref) { changed() }
    }

    /// Forgets a query's objects (its watch was stopped: nothing references them any more).
    func drop(query: String) {
        let refs = byQuery.removeValue(forKey: query) ?? []
        var significant = false
        for ref in refs where remove(ref) { significant = true }
        if significant { changed() }
    }

    /// Stores and tells whether the translator's view changed. An object edited into something
    /// invalid keeps its last valid version for the translator: what was serving keeps serving, and
    /// the errors are reported next to it.
    private func store(_ object: CachedObject) -> Bool {
        var object = object
        let oldView = objects[object.ref]?.resource
        // An invalid object (no resource) keeps its last valid view. Unchanged for the translator (our
        // own status write coming back, say): hold the copy the loads and the served snapshot hold, not
        // a second one decoded from the event.
        let viewChanged = object.resource.map { $0 != oldView } ?? false
        if !viewChanged { object.resource = oldView }
        let old = objects.updateValue(object, forKey: object.ref)
        if old == nil { order = nil }
        if viewChanged {
            if let resource = object.resource, let position = lastLoaded?.positions[object.ref] {
                lastLoaded?.resources[position] = Self.loaded(resource, from: object.ref)
            } else {
                lastLoaded = nil
            }
        }
        if object.errors.isEmpty { invalid.remove(object.ref) } else { invalid.insert(object.ref) }
        guard let old else { return true }
        return viewChanged || old.errors != object.errors
    }

    /// An object as a load gives it, located as the file provider locates a manifest.
    private static func loaded(_ resource: Resource, from ref: ObjectRef) -> LoadedResource {
        LoadedResource(location: SourceLocation(file: "API server \(ref)", document: 0), resource: resource)
    }

    private func remove(_ ref: ObjectRef) -> Bool {
        guard objects.removeValue(forKey: ref) != nil else { return false }
        order = nil
        lastLoaded = nil
        invalid.remove(ref)
        return true
    }

    public func object(_ ref: ObjectRef) -> CachedObject? { objects[ref] }
    /// Each object's resourceVersion (nil for one not held), in the order asked.
    func resourceVersions(of refs: [ObjectRef]) -> [String?] { refs.map { objects[$0]?.resourceVersion } }
    /// Every object held, in kind, namespace and name order.
    public func all() -> [CachedObject] { objects.values.sorted { $0.ref < $1.ref } }

    /// Records a write's answer at once, so the next write uses the new resourceVersion.
    func recordStatus(_ ref: ObjectRef, resourceVersion: String, status: Data?) {
        objects[ref]?.resourceVersion = resourceVersion
        objects[ref]?.status = status
    }

    /// Everything, as the file provider would have loaded it: valid resources and located errors.
    /// Each as the translator sees it (no resourceVersion), so that a load after our own status
    /// writes compares equal, object for object, to the one before them.
    public func load() -> ManifestLoader.Result {
        let order = self.order ?? objects.keys.sorted()
        self.order = order
        if lastLoaded == nil {
            var resources: [LoadedResource] = [], positions: [ObjectRef: Int] = [:]
            resources.reserveCapacity(objects.count)
            positions.reserveCapacity(objects.count)
            for ref in order {
                guard let resource = objects[ref]?.resource else { continue }
                positions[ref] = resources.count
                resources.append(Self.loaded(resource, from: ref))
            }
            lastLoaded = (resources, positions)
        }
        var result = ManifestLoader.Result(resources: lastLoaded?.resources ?? [], errors: [])
        if !invalid.isEmpty {
            for ref in order where invalid.contains(ref) { result.errors += objects[ref]?.errors ?? [] }
        }
        return result
    }
}
