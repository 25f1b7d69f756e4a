import Foundation
import GatewayAPI
import Logging
import Providers
import Translator

/// What `archway status --from-cluster` and `describe --from-cluster` read: the Gateway API objects
/// and archway's own, with the `.status` the leading archway wrote on them.
public enum ClusterStatus {
    /// Every kind archway serves from, but EndpointSlices (numerous, and without a status of archway's)
    /// and other controllers' Ingress extensions.
    static var kinds: [KubeKind] {
        KubeKind.watchedWhole.filter { $0 != .endpointSlice && !KubeKind.ingressExtensions.contains($0) }
    }

    /// Reads the cluster once. `eventsRegarding`: also the Events about that object.
    public static func read(connection: KubeConnection, controllerName: String, ingress: IngressServing? = IngressServing(),
                            eventsRegarding target: ObjectRef? = nil,
                            logger: Logger = Logger(label: "archway")) async throws -> (source: DescribeSource, errors: [String]) {
        let client = try KubeClient(connection: connection)
        do {
            let cache = try await KubernetesProvider.readObjects(client: client, kinds: kinds, logger: logger)
            let objects = await cache.all()
            let load = await cache.load()
            var events: [ArchwayEvent] = []
            if let target { events = try await readEvents(client: client, regarding: target) }
            await client.shutdown()
            // Translated here too, for what no status says: which listeners each route took and which
            // policies reach it (the same translation the controller runs on the same objects).
            let translation = OfflineTranslation(load: load, controllerName: controllerName, ingress: ingress)
            let report = statusReport(objects, snapshot: translation.snapshot, controllerName: controllerName)
            let source = DescribeSource(origin: "the cluster (\(connection.server))", resources: load.resources.map(\.resource),
                                        snapshot: translation.snapshot, report: report, attachments: translation.result.attachments,
                                        translator: translation.translator, events: events)
            return (source, load.errors.map(\.description))
        } catch {
            await client.shutdown()
            throw error
        }
    }

    /// The statuses as written on the objects: archway's parts of them (its controller's parent and
    /// ancestor entries), and for each object without any, why.
    static func statusReport(_ objects: [CachedObject], snapshot: ResourceSnapshot, controllerName: String) -> StatusReport {
        let ourClasses = Set(snapshot.gatewayClasses.filter { $0.spec.controllerName == controllerName }.map(\.metadata.name))
        let ourGateways = Set(snapshot.gateways.filter { ourClasses.contains($0.spec.gatewayClassName) }.map(\.metadata.namespacedName))
        var items: [StatusReport.Item] = []
        var noStatus: [String: String] = [:]
        let pending = "not reconciled yet: archway has written no status on it"
        for object in objects {
            guard let resource = object.resource, let meta = resource.metadata else { continue }
            let json = object.status.flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] } ?? [:]
            var status: StatusReport.Status?
            var why = pending
            switch resource {
            case .gatewayClass(let gatewayClass):
                if gatewayClass.spec.controllerName == controllerName {
                    status = decode(GatewayClassStatus.self, json, defaults: ["conditions": []]).map { .gatewayClass($0) }
                } else {
                    why = "its controllerName is \(gatewayClass.spec.controllerName), not archway's (\(controllerName))"
                }
            case .gateway(let gateway):
                if ourClasses.contains(gateway.spec.gatewayClassName) {
                    status = decode(GatewayStatus.self, json, defaults: ["addresses": [], "conditions": [], "listeners": []]).map { .gateway($0) }
                } else {
                    why = "its class \(gateway.spec.gatewayClassName) is not archway's"
                }
            case .listenerSet(let set):
                if let parent = set.parentGateway, ourGateways.contains(parent) {
                    status = decode(ListenerSetStatus.self, json, defaults: ["conditions": [], "listeners": []]).map { .listenerSet($0) }
                } else {
                    why = "its parent is not a Gateway of archway's class"
                }
            case .httpRoute, .grpcRoute, .streamRoute:
                if var route = decode(RouteStatus.self, json, defaults: ["parents": []]) {
                    route.parents.removeAll { $0.controllerName != controllerName }
                    if !route.parents.isEmpty { status = .route(route) }
                }
                let parents = routeParents(resource)
                let namespace = meta.namespace ?? "default"
                if !parents.contains(where: { ourGateways.contains(NamespacedName($0.namespace ?? namespace, $0.name)) }) {
                    why = "no parentRef names a Gateway of archway's class"
                }
            case .backendTLSPolicy, .backendTrafficPolicy, .edgePolicy:
                if var policy = decode(PolicyStatus.self, json, defaults: ["ancestors": []]) {
                    policy.ancestors.removeAll { $0.controllerName != controllerName }
                    if !policy.ancestors.isEmpty { status = .policy(policy) }
                }
            case .serviceLevelObjective:
                status = (json["conditions"] as? [Any]).flatMap { decode([Condition].self, $0) }.map { .conditions($0) }
            case .addressPool:
                status = decode(AddressPoolStatus.self, json, defaults: ["conditions": [], "total": "0", "used": 0, "free": "0", "assignments": []])
                    .map { .addressPool($0) }
            case .acmeIssuer:
                status = decode(ACMEIssuerStatus.self, json, defaults: ["conditions": [], "certificates": []]).map { .acmeIssuer($0) }
            case .rollout:
                status = decode(RolloutStatus.self, json, defaults: ["conditions": []]).map { .rollout($0) }
            default:
                continue
            }
            let item = StatusReport.Item(apiVersion: object.apiVersion, kind: resource.kind,
                                         metadata: .init(name: meta.name, namespace: meta.namespace, generation: object.generation), status: status)
            if status == nil { noStatus[item.ref.description] = why }
            items.append(item)
        }
        let order = ["GatewayClass", "Gateway", "ListenerSet", "HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute", "UDPRoute", "BackendTLSPolicy",
                     "BackendTrafficPolicy"]
        func rank(_ kind: String) -> Int { order.firstIndex(of: kind) ?? order.count }
        items.sort { (rank($0.kind), $0.kind, $0.metadata.namespace ?? "", $0.metadata.name) < (rank($1.kind), $1.kind, $1.metadata.namespace ?? "", $1.metadata.name) }
        return StatusReport(items: items, noStatus: noStatus)
    }

    private static func routeParents(_ resource: Resource) -> [ParentReference] {
        switch resource {
        case .httpRoute(let route): route.spec.parentRefs ?? []
        case .grpcRoute(let route): route.spec.parentRefs ?? []
        case .streamRoute(let route): route.spec.parentRefs ?? []
        default: []
        }
    }

    /// The status decoded with the lists an API server may leave out (empty) filled in, at the top and
    /// in each listener, parent and ancestor; nil when it is not of that shape.
    static func decode<T: Decodable>(_ type: T.Type, _ json: [String: Any], defaults: [String: Any]) -> T? {
        var filled = json
        for (key, value) in defaults where filled[key] == nil { filled[key] = value }
        let nested: [String: [String: Any]] = [
            "listeners": ["supportedKinds": [], "attachedRoutes": 0, "conditions": []],
            "parents": ["conditions": []], "ancestors": ["conditions": []],
        ]
        for (key, entryDefaults) in nested {
            guard let list = filled[key] as? [[String: Any]] else { continue }
            filled[key] = list.map { entry in
                var entry = entry
                for (field, value) in entryDefaults where entry[field] == nil { entry[field] = value }
                return entry
            }
        }
        return decode(type, filled)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ json: Any) -> T? {
        guard let data = try? JSONSerialization.data(withJSONObject: json) else { return nil }
        return try? JSONDecoder().decode(type, from: data)
    }

    /// The `events.k8s.io/v1` Events about one object, oldest first: every controller's, not only archway's.
    static func readEvents(client: KubeClient, regarding target: ObjectRef) async throws -> [ArchwayEvent] {
        let namespace = target.namespace.isEmpty ? "default" : target.namespace
        let response = try await client.expectOK(.GET, EventWriter.kind.collectionPath(namespace: namespace))
        let items = response.object?["items"] as? [[String: Any]] ?? []
        var events: [ArchwayEvent] = []
        for item in items {
            guard let regarding = item["regarding"] as? [String: Any], regarding["kind"] as? String == target.kind,
                  regarding["name"] as? String == target.name, (regarding["namespace"] as? String ?? "") == target.namespace else { continue }
            let series = item["series"] as? [String: Any]
            var event = ArchwayEvent(type: item["type"] as? String == "Warning" ? .Warning : .Normal, reason: item["reason"] as? String ?? "",
                                     regarding: target, note: item["note"] as? String ?? "")
            event.count = (series?["count"] as? Int) ?? (item["deprecatedCount"] as? Int) ?? 1
            event.firstTime = Self.seconds(item["eventTime"] as? String ?? "")
            event.lastTime = Self.seconds(series?["lastObservedTime"] as? String ?? item["eventTime"] as? String ?? "")
            events.append(event)
        }
        return events.sorted { $0.lastTime < $1.lastTime }
    }

    /// MicroTime to the seconds `describe` shows ages from.
    static func seconds(_ microTime: String) -> String {
        guard let dot = microTime.firstIndex(of: ".") else { return microTime }
        return String(microTime[..<dot]) + "Z"
    }
}
