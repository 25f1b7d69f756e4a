import Foundation
import GatewayAPI
@testable import RoutingTable
import Testing
import Translator

/// A translation given the last one's memo (`translate(_:reusing:)`) takes every HTTPRoute's and
/// GRPCRoute's part from it when neither the route nor anything else changed. That is right only if
/// the result is exactly what a translation from scratch gives: checked here on every fixture, after
/// each of a chain of random edits of routes (hostnames, rules, matches, parents, backends, age,
/// generation; added, copied, removed), of what they are translated with (a resource removed, a
/// listener's hostname changed) and of endpoints (an EndpointSlice added).
struct TranslationMemoTests {
    typealias SeededGenerator = EndpointRefreshTests.SeededGenerator

    @Test(arguments: FixtureTests.names)
    func randomEditsGiveWhatATranslationFromScratchGives(fixture: String) throws {
        let text = try String(contentsOf: FixtureTests.directory.appendingPathComponent(fixture), encoding: .utf8)
        var loaded = ManifestLoader().parse(text: text, file: fixture)
        var rng = SeededGenerator(state: fixture.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 })
        let translator = FixtureTests.translator
        let first = translator.translate(FixtureTests.snapshot(loaded))
        var memo = first.memo
        var compiled = try? CompiledTable(first.table)
        var edits: [String] = []
        for _ in 0..<20 {
            edits.append(Self.edit(&loaded.resources, using: &rng))
            let snapshot = FixtureTests.snapshot(loaded)
            let reused = translator.translate(snapshot, reusing: memo)
            let fresh = translator.translate(snapshot)
            let after = "\(fixture) after \(edits.joined(separator: "; "))"
            // Compared first, so that a failure names the edits rather than printing both values.
            let sameTable = reused.table == fresh.table, sameStatuses = reused.statuses == fresh.statuses
            let sameAttachments = reused.attachments == fresh.attachments, sameServed = reused.served == fresh.served
            #expect(sameTable, "table differs: \(after)")
            #expect(sameStatuses, "statuses differ: \(after)")
            #expect(sameAttachments, "attachments differ: \(after)")
            #expect(reused.certificates == fresh.certificates, "certificates differ: \(after)")
            #expect(sameServed, "served routes differ: \(after)")
            guard sameTable, sameStatuses else { return }
            memo = reused.memo
            // The data plane compiles the table reusing the one it replaces: the same routes, each at
            // its own slot, reaching this table's clusters.
            guard let fromScratch = try? CompiledTable(fresh.table) else { compiled = nil; continue }
            let reusing = try CompiledTable(reused.table, reusing: compiled)
            #expect(Self.shape(of: reusing) == Self.shape(of: fromScratch), "compiled routes differ: \(after)")
            for route in Self.reachableRoutes(of: reusing) {
                #expect(reusing.routesBySlot[route.slot] === route, "slot \(route.slot) is not \(route.origin): \(after)")
            }
            compiled = reusing
        }
    }

    /// The reuse is real: with nothing else changed, editing one route of many translates that route
    /// alone, and a change to what every route is translated with translates them all again.
    @Test func oneEditedRouteIsTheOnlyOneTranslatedAgain() throws {
        var text = """
            apiVersion: gateway.networking.k8s.io/v1
            kind: GatewayClass
            metadata: {name: archway}
            spec: {controllerName: archway.dev/gateway-controller}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: gw, namespace: default}
            spec:
              gatewayClassName: archway
              listeners: [{name: http, protocol: HTTP, port: 80}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: svc, namespace: default}
            spec: {ports: [{port: 80}]}
            """
        for i in 0..<50 {
            text += """

                ---
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {name: r\(i), namespace: default}
                spec:
                  parentRefs: [{name: gw}]
                  hostnames: [h\(i).example.com]
                  rules: [{backendRefs: [{name: svc, port: 80}]}]
                """
        }
        var loaded = ManifestLoader().parse(text: text, file: "routes.yaml")
        #expect(loaded.errors.isEmpty)
        let translator = FixtureTests.translator
        let first = translator.translate(FixtureTests.snapshot(loaded))
        #expect(first.routesTranslated == 50)
        #expect(translator.translate(FixtureTests.snapshot(loaded), reusing: first.memo).routesTranslated == 0)

        let edited = try #require(loaded.resources.firstIndex { $0.resource.ref.name == "r7" })
        guard case .httpRoute(var route) = loaded.resources[edited].resource else { Issue.record("r7 is not an HTTPRoute"); return }
        route.spec.hostnames = ["changed.example.com"]
        loaded.resources[edited].resource = .httpRoute(route)
        let second = translator.translate(FixtureTests.snapshot(loaded), reusing: first.memo)
        #expect(second.routesTranslated == 1)
        #expect(second.table == translator.translate(FixtureTests.snapshot(loaded)).table)
        let hosts = second.table.ports.flatMap(\.listeners).flatMap(\.virtualHosts).map(\.hostname)
        #expect(hosts.contains("changed.example.com") && !hosts.contains("h7.example.com"))

        // New endpoints for the Service change its cluster, not any route: the next edit is one route again.
        var rng = SeededGenerator(state: 7)
        let service = try #require(loaded.resources.compactMap { if case .service(let service) = $0.resource { service } else { nil } }.first)
        loaded.resources.append(LoadedResource(location: .init(file: "memo", document: 0),
                                               resource: try #require(Self.endpointSlice(for: service, using: &rng))))
        route.spec.hostnames = ["changed-again.example.com"]
        loaded.resources[edited].resource = .httpRoute(route)
        let afterEndpoints = translator.translate(FixtureTests.snapshot(loaded), reusing: second.memo)
        #expect(afterEndpoints.routesTranslated == 1)
        #expect(afterEndpoints.table == translator.translate(FixtureTests.snapshot(loaded)).table)
        #expect(afterEndpoints.table.clusters.values.contains { !$0.endpoints.isEmpty })

        // The Gateway now says it holds the address it was given, as file mode carries it into the
        // next apply: only the pools read that, so the next edit is still one route.
        let gatewayIndex = try #require(loaded.resources.firstIndex { $0.resource.kind == "Gateway" })
        guard case .gateway(var gateway) = loaded.resources[gatewayIndex].resource else { Issue.record("no Gateway"); return }
        let given = afterEndpoints.statuses.gateways[gateway.metadata.namespacedName]?.addresses ?? []
        #expect(!given.isEmpty)
        gateway.status = Gateway.ObservedStatus(addresses: given)
        loaded.resources[gatewayIndex].resource = .gateway(gateway)
        route.spec.hostnames = ["changed-once-more.example.com"]
        loaded.resources[edited].resource = .httpRoute(route)
        let afterAddresses = translator.translate(FixtureTests.snapshot(loaded), reusing: afterEndpoints.memo)
        #expect(afterAddresses.routesTranslated == 1)
        #expect(afterAddresses.table == translator.translate(FixtureTests.snapshot(loaded)).table)
        #expect(afterAddresses.statuses == translator.translate(FixtureTests.snapshot(loaded)).statuses)

        // The Service every route forwards to is gone: every route's ResolvedRefs changes.
        loaded.resources.removeAll { $0.resource.kind == "Service" }
        let third = translator.translate(FixtureTests.snapshot(loaded), reusing: afterAddresses.memo)
        #expect(third.routesTranslated == 50)
        #expect(third.statuses == translator.translate(FixtureTests.snapshot(loaded)).statuses)
    }

    /// Every compiled virtual host's routes, in order, with what they forward to; a target must be
    /// this table's own cluster.
    static func shape(of table: CompiledTable) -> [String] {
        table.compiledListeners.keys.sorted().flatMap { socket in
            table.compiledListeners[socket]!.flatMap { listener in
                listener.hosts.flatMap { host in
                    host.routes.map { route -> String in
                        var targets: [String] = []
                        if case .forward(let choice) = route.action {
                            for target in choice.targets {
                                switch target.target {
                                case .cluster(let cluster):
                                    targets.append(table.clusters[cluster.id] === cluster ? cluster.id : "\(cluster.id) (another table's)")
                                case .invalid(let reason): targets.append("invalid: \(reason)")
                                }
                            }
                        }
                        return "\(socket) #\(listener.ordinal) \(host.hostname): \(route.origin) \(route.match) → \(targets)"
                    }
                }
            }
        }
    }

    static func reachableRoutes(of table: CompiledTable) -> [CompiledRoute] {
        table.compiledListeners.values.flatMap { $0.flatMap { $0.hosts.flatMap(\.routes) } }
    }

    /// One random edit; says what it did.
    static func edit(_ resources: inout [LoadedResource], using rng: inout SeededGenerator) -> String {
        let routes = resources.indices.filter { if case .httpRoute = resources[$0].resource { true } else { false } }
        let grpcRoutes = resources.indices.filter { if case .grpcRoute = resources[$0].resource { true } else { false } }
        let others = resources.indices.filter { !routes.contains($0) && !grpcRoutes.contains($0) }
        let choice = Int.random(in: 0...13, using: &rng)
        switch choice {
        case 0...4 where !routes.isEmpty:
            let index = routes.randomElement(using: &rng)!
            guard case .httpRoute(var route) = resources[index].resource else { return "none" }
            let what = editRoute(&route, using: &rng)
            resources[index].resource = .httpRoute(route)
            return "HTTPRoute \(route.metadata.name): \(what)"
        case 5 where !grpcRoutes.isEmpty:
            let index = grpcRoutes.randomElement(using: &rng)!
            guard case .grpcRoute(var route) = resources[index].resource else { return "none" }
            switch Int.random(in: 0...2, using: &rng) {
            case 0: route.spec.hostnames = (route.spec.hostnames ?? []) + ["memo.example.com"]
            case 1: route.spec.rules = route.spec.rules.map { Array($0.dropLast()) }
            default: route.metadata.creationTimestamp = "2030-01-01T00:00:00Z"
            }
            resources[index].resource = .grpcRoute(route)
            return "GRPCRoute \(route.metadata.name) edited"
        case 6 where !routes.isEmpty || !grpcRoutes.isEmpty:
            let index = (routes + grpcRoutes).randomElement(using: &rng)!
            let name = resources[index].resource.ref.name
            resources.remove(at: index)
            return "route \(name) removed"
        case 7 where !routes.isEmpty:
            guard case .httpRoute(var route) = resources[routes.randomElement(using: &rng)!].resource else { return "none" }
            let original = route.metadata.name
            route.metadata.name += "-copy"
            route.metadata.creationTimestamp = Bool.random(using: &rng) ? "2000-01-01T00:00:00Z" : nil
            if Bool.random(using: &rng) { _ = editRoute(&route, using: &rng) }
            resources.append(LoadedResource(location: .init(file: "memo", document: 0), resource: .httpRoute(route)))
            return "HTTPRoute \(original) copied"
        case 8 where !others.isEmpty:
            let index = others.randomElement(using: &rng)!
            let removed = resources[index].resource.ref
            resources.remove(at: index)
            return "\(removed.kind) \(removed.name) removed"
        case 9:
            for index in others {
                guard case .gateway(var gateway) = resources[index].resource, !gateway.spec.listeners.isEmpty else { continue }
                let listener = Int.random(in: 0..<gateway.spec.listeners.count, using: &rng)
                gateway.spec.listeners[listener].hostname = gateway.spec.listeners[listener].hostname == nil ? "*.example.com" : nil
                resources[index].resource = .gateway(gateway)
                return "Gateway \(gateway.metadata.name) listener \(listener) hostname changed"
            }
            return "no Gateway to edit"
        case 12:
            // What a Gateway says it held (a cluster's status, file mode's carried-over addresses):
            // the address pools keep it first.
            for index in others {
                guard case .gateway(var gateway) = resources[index].resource else { continue }
                let held = Bool.random(using: &rng) ? nil : [Gateway.Address(type: "IPAddress", value: "10.0.0.\(Int.random(in: 1...3, using: &rng))")]
                gateway.status = held.map { Gateway.ObservedStatus(addresses: $0) }
                resources[index].resource = .gateway(gateway)
                return "Gateway \(gateway.metadata.name) status addresses \(held?.map(\.value) ?? [])"
            }
            return "no Gateway to edit"
        case 10, 11:
            let services = resources.compactMap { if case .service(let service) = $0.resource { service } else { nil } }
            guard let service = services.randomElement(using: &rng), let slice = endpointSlice(for: service, using: &rng) else { return "no Service" }
            resources.append(LoadedResource(location: .init(file: "memo", document: 0), resource: slice))
            return "EndpointSlice for Service \(service.metadata.name) added"
        default:
            return "nothing changed"
        }
    }

    /// A ready endpoint for a Service, on a random address and its first port's target.
    static func endpointSlice(for service: Service, using rng: inout SeededGenerator) -> Resource? {
        let object: [String: Any] = [
            "metadata": ["name": "\(service.metadata.name)-memo-\(Int.random(in: 0...999_999, using: &rng))",
                         "namespace": service.metadata.namespace ?? "default",
                         "labels": [EndpointSlice.serviceNameLabel: service.metadata.name]],
            "addressType": "IPv4",
            "endpoints": [["addresses": ["10.9.\(Int.random(in: 0...9, using: &rng)).\(Int.random(in: 1...99, using: &rng))"]]],
        ]
        guard let data = try? JSONSerialization.data(withJSONObject: object),
              let slice = try? JSONDecoder().decode(EndpointSlice.self, from: data) else { return nil }
        return .endpointSlice(slice)
    }

    static func editRoute(_ route: inout HTTPRoute, using rng: inout SeededGenerator) -> String {
        switch Int.random(in: 0...7, using: &rng) {
        case 0:
            route.spec.hostnames = Bool.random(using: &rng) ? nil : (route.spec.hostnames ?? []) + ["memo.example.com"]
            return "hostnames"
        case 1:
            guard var rules = route.spec.rules, !rules.isEmpty else { return "no rules" }
            if rules.count > 1, Bool.random(using: &rng) { rules.removeLast() } else { rules.append(rules[0]) }
            route.spec.rules = rules
            return "rules"
        case 2:
            guard let rule = route.spec.rules?.indices.randomElement(using: &rng),
                  let match = route.spec.rules?[rule].matches?.indices.randomElement(using: &rng) else { return "no match" }
            route.spec.rules?[rule].matches?[match].path = .init(type: .PathPrefix, value: "/memo-edit")
            return "a path"
        case 3:
            guard var parents = route.spec.parentRefs, let parent = parents.indices.randomElement(using: &rng) else { return "no parent" }
            parents[parent].sectionName = parents[parent].sectionName == nil ? "nonexistent" : nil
            route.spec.parentRefs = parents
            return "a parent's sectionName"
        case 4:
            guard let rule = route.spec.rules?.indices.randomElement(using: &rng),
                  let ref = route.spec.rules?[rule].backendRefs?.indices.randomElement(using: &rng) else { return "no backendRef" }
            if Bool.random(using: &rng) {
                route.spec.rules?[rule].backendRefs?[ref].name = "memo-missing"
            } else {
                route.spec.rules?[rule].backendRefs?[ref].weight = Int.random(in: 0...5, using: &rng)
            }
            return "a backendRef"
        case 5:
            route.metadata.generation = (route.metadata.generation ?? 1) + 1
            return "generation"
        case 6:
            route.metadata.creationTimestamp = Bool.random(using: &rng) ? "1999-01-01T00:00:00Z" : "2031-01-01T00:00:00Z"
            return "creation time"
        default:
            route.metadata.labels = ["environment": "memo"]
            return "labels"
        }
    }
}
