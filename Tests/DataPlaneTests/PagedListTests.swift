import Foundation
import GatewayAPI
import Logging
import Providers
import Testing

/// Lists are read in pages, as client-go's pager reads them, so that a cluster's 10,000 routes are
/// never one answer decoded whole; a page whose snapshot expired leads to one list in one answer.
@Suite(.timeLimit(.minutes(1)))
struct PagedListTests {
    static let logger = Logger(label: "paged-list-test")

    /// An API server holding five HTTPRoutes.
    static func fiveRoutes() async throws -> FakeAPIServer {
        let server = FakeAPIServer()
        try await server.start()
        try server.apply(Manifests.join((1...5).map { Manifests.route("r\($0)", path: "/\($0)", service: "svc") }.joined(separator: "\n---\n")))
        return server
    }

    static func routeNames(_ cache: ObjectCache) async -> [String] {
        await cache.all().filter { $0.ref.kind == "HTTPRoute" }.map(\.ref.name)
    }

    @Test func aListLongerThanAPageArrivesWholePageByPage() async throws {
        let server = try await Self.fiveRoutes()
        defer { Task { await server.stop() } }
        let client = try KubeClient(connection: KubeConnection(server: server.url))
        defer { Task { await client.shutdown() } }

        let cache = try await KubernetesProvider.readObjects(client: client, kinds: [.httpRoute], pageSize: 2, logger: Self.logger)
        #expect(await Self.routeNames(cache) == ["r1", "r2", "r3", "r4", "r5"])
        #expect(await cache.load().resources.count == 5)
        let requests = server.listRequests("httproutes")
        #expect(requests.map(\.limit) == [2, 2, 2], "three pages of at most two")
        #expect(requests.map(\.continued) == [false, true, true])
    }

    /// r1 is deleted after the first page was read, and the snapshot then expires: the list in one
    /// answer must not keep r1 from the abandoned first page.
    @Test func aSnapshotExpiredBetweenPagesIsListedAgainInOneAnswer() async throws {
        let server = try await Self.fiveRoutes()
        defer { Task { await server.stop() } }
        let client = try KubeClient(connection: KubeConnection(server: server.url))
        defer { Task { await client.shutdown() } }
        server.expireListSnapshots()
        server.whileListing { server.delete(kind: "HTTPRoute", namespace: "default", name: "r1") }

        let cache = try await KubernetesProvider.readObjects(client: client, kinds: [.httpRoute], pageSize: 2, logger: Self.logger)
        #expect(await Self.routeNames(cache) == ["r2", "r3", "r4", "r5"], "the list is the unpaged answer's alone")
        let requests = server.listRequests("httproutes")
        #expect(requests.map(\.limit) == [2, 2, nil], "the first page, its expired continuation, then one unpaged list")
        #expect(requests.map(\.continued) == [false, true, false])
    }

    /// The watch starts from the version the pages were read at: a route created and one deleted
    /// while the later pages were being read are not in those pages (they come from the first
    /// page's snapshot), and the watch must bring both changes.
    @Test func theWatchAfterAPagedListSeesWhatChangedWhileItWasRead() async throws {
        let server = try await Self.fiveRoutes()
        defer { Task { await server.stop() } }
        server.whileListing {
            try server.apply(Manifests.route("r6", path: "/6", service: "svc"))
            server.delete(kind: "HTTPRoute", namespace: "default", name: "r5")
        }
        let client = try KubeClient(connection: KubeConnection(server: server.url))
        let provider = KubernetesProvider(client: client, kinds: [.httpRoute], listPageSize: 2, logger: Self.logger)
        defer { Task { await provider.stop(); await client.shutdown() } }
        let names = { (load: ManifestLoader.Result) in load.resources.map { $0.resource.metadata?.name ?? "" } }
        // r5 was the last object written before the list: its version is the snapshot's.
        let snapshotVersion = (server.object(kind: "HTTPRoute", namespace: "default", name: "r5")?["metadata"] as? [String: Any])?["resourceVersion"] as? String

        #expect(names(await provider.initialLoad()) == ["r1", "r2", "r3", "r4", "r5"], "the list is its first page's snapshot")
        var latest: [String] = []
        for await load in await provider.changes() {
            latest = names(load)
            if latest == ["r1", "r2", "r3", "r4", "r6"] { break }
        }
        #expect(latest == ["r1", "r2", "r3", "r4", "r6"])
        #expect(server.watchStarts.filter { $0.resource == "httproutes" }.first?.version == snapshotVersion,
                "the watch starts from the pages' snapshot, not from now (which would miss both changes)")
    }
}
