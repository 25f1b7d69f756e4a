import Foundation
import GatewayAPI
import RoutingTable
import Testing
import Translator

/// An EndpointSlice-only change is applied by remaking the clusters of the Services it touched
/// (`ClusterSources.refreshing`) instead of translating again. That is right only if the result is
/// exactly what a full translation gives, and if no status depends on EndpointSlices: checked here
/// against full translations after each of many random EndpointSlice edits.
struct EndpointRefreshTests {
    /// Services behind HTTP and gRPC routes, weighted backendRefs, a mirror, an Ingress, a named
    /// targetPort, a BackendTLSPolicy (and a Gateway presenting a client certificate, so that Service's
    /// cluster has a per-Gateway copy), a BackendTrafficPolicy, a Service with no route.
    static let fixture = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: GatewayClass
        metadata: {name: archway}
        spec: {controllerName: archway.dev/gateway-controller}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: gw, namespace: apps}
        spec:
          gatewayClassName: archway
          listeners: [{name: http, protocol: HTTP, port: 80}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: mtls, namespace: apps}
        spec:
          gatewayClassName: archway
          listeners: [{name: http, protocol: HTTP, port: 8080}]
          tls: {backend: {clientCertificateRef: {group: "", kind: Secret, name: client}}}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: client, namespace: apps}
        type: kubernetes.io/tls
        stringData:
          tls.crt: "-----BEGIN CERTIFICATE-----\\nMIIBclient\\n-----END CERTIFICATE-----\\n"
          tls.key: "-----BEGIN PRIVATE KEY-----\\nMIIBclient\\n-----END PRIVATE KEY-----\\n"
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: api, namespace: apps}
        spec: {ports: [{name: http, port: 80, targetPort: web}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: canary, namespace: apps}
        spec: {ports: [{name: http, port: 80, targetPort: 8080}, {name: admin, port: 9000}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: grpc, namespace: apps}
        spec: {ports: [{name: grpc, port: 9000, targetPort: 9090}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: secure, namespace: apps}
        spec: {ports: [{name: https, port: 443}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: shadow, namespace: apps}
        spec: {ports: [{port: 80}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: legacy, namespace: apps}
        spec: {ports: [{name: http, port: 80, targetPort: 8000}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: unrouted, namespace: apps}
        spec: {ports: [{port: 80}]}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: split, namespace: apps}
        spec:
          parentRefs: [{name: gw}, {name: mtls}]
          rules:
          - matches: [{path: {type: PathPrefix, value: /api}}]
            backendRefs: [{name: api, port: 80, weight: 3}, {name: canary, port: 80, weight: 1}]
            filters: [{type: RequestMirror, requestMirror: {backendRef: {name: shadow, port: 80}}}]
          - matches: [{path: {type: PathPrefix, value: /secure}}]
            backendRefs: [{name: secure, port: 443}]
          - matches: [{path: {type: PathPrefix, value: /admin}}]
            backendRefs: [{name: canary, port: 9000}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: GRPCRoute
        metadata: {name: rpc, namespace: apps}
        spec:
          parentRefs: [{name: gw}]
          hostnames: [rpc.example]
          rules: [{backendRefs: [{name: grpc, port: 9000, weight: 2}, {name: api, port: 80, weight: 1}]}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: BackendTLSPolicy
        metadata: {name: secure, namespace: apps}
        spec:
          targetRefs: [{group: "", kind: Service, name: secure}]
          validation: {hostname: secure.example, wellKnownCACertificates: System}
        ---
        apiVersion: archway.dev/v1alpha1
        kind: BackendTrafficPolicy
        metadata: {name: canary, namespace: apps}
        spec:
          targetRefs: [{group: "", kind: Service, name: canary}]
          outlierDetection: {consecutive5xx: 5, baseEjectionTime: 30s}
        ---
        apiVersion: networking.k8s.io/v1
        kind: IngressClass
        metadata: {name: archway}
        spec: {controller: archway.dev/ingress-controller}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: old, namespace: apps}
        spec:
          ingressClassName: archway
          rules: [{host: old.example, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: legacy, port: {number: 80}}}}]}}]
        """

    static let services = ["api", "canary", "grpc", "secure", "shadow", "legacy", "unrouted"]
    static let portNames: [String?] = ["http", "web", "grpc", "https", "admin", nil]

    static var translator: Translator {
        var options = Translator.Options()
        options.ingress = IngressServing(httpPort: 8000, httpsPort: 8443)
        return Translator(options: options)
    }

    static func base() throws -> [Resource] {
        let loaded = ManifestLoader().parse(text: fixture, file: "fixture.yaml")
        #expect(loaded.errors.isEmpty, "\(loaded.errors)")
        return loaded.resources.map(\.resource)
    }

    /// Deterministic, so a failure replays: SplitMix64.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// An EndpointSlice as the test edits it; made into the real thing through its Codable form.
    struct Slice {
        var name: String
        var service: String
        var ports: [(name: String?, port: Int, appProtocol: String?)]?
        var endpoints: [(address: String, ready: Bool?)]

        var resource: Resource {
            get throws {
                var object: [String: Any] = [
                    "metadata": ["name": name, "namespace": "apps", "labels": [EndpointSlice.serviceNameLabel: service]],
                    "addressType": "IPv4",
                    "endpoints": endpoints.map { endpoint -> [String: Any] in
                        var entry: [String: Any] = ["addresses": [endpoint.address]]
                        if let ready = endpoint.ready { entry["conditions"] = ["ready": ready] }
                        return entry
                    },
                ]
                if let ports {
                    object["ports"] = ports.map { port -> [String: Any] in
                        var entry: [String: Any] = ["port": port.port]
                        if let name = port.name { entry["name"] = name }
                        if let appProtocol = port.appProtocol { entry["appProtocol"] = appProtocol }
                        return entry
                    }
                }
                let data = try JSONSerialization.data(withJSONObject: object)
                return .endpointSlice(try JSONDecoder().decode(EndpointSlice.self, from: data))
            }
        }
    }

    /// One random edit of the kinds EndpointSlice controllers make: endpoints added, removed, made
    /// ready or not; slices added and removed; ports renumbered, renamed, dropped, given an appProtocol.
    static func edit(_ slices: inout [Slice], using rng: inout SeededGenerator, counter: inout Int) -> String {
        func address() -> String { "10.0.\(Int.random(in: 0...3, using: &rng)).\(Int.random(in: 1...20, using: &rng))" }
        func ports() -> [(name: String?, port: Int, appProtocol: String?)] {
            (0..<Int.random(in: 1...2, using: &rng)).map { _ in
                (portNames.randomElement(using: &rng)!, [8080, 8443, 9090, 9000, 80].randomElement(using: &rng)!, nil)
            }
        }
        let choice = slices.isEmpty ? 0 : Int.random(in: 0...8, using: &rng)
        if choice == 0 {
            counter += 1
            let service = services.randomElement(using: &rng)!
            slices.append(Slice(name: "\(service)-\(counter)", service: service, ports: Bool.random(using: &rng) ? ports() : nil,
                                endpoints: [(address(), Bool.random(using: &rng) ? nil : true)]))
            return "add slice \(slices.last!.name)"
        }
        let index = Int.random(in: 0..<slices.count, using: &rng)
        let name = slices[index].name
        switch choice {
        case 1:
            slices.remove(at: index)
            return "remove slice \(name)"
        case 2, 3:
            slices[index].endpoints.append((address(), [nil, true, false].randomElement(using: &rng)!))
            return "add endpoint to \(name)"
        case 4:
            guard !slices[index].endpoints.isEmpty else { return "nothing to remove in \(name)" }
            slices[index].endpoints.remove(at: Int.random(in: 0..<slices[index].endpoints.count, using: &rng))
            return "remove endpoint from \(name)"
        case 5, 6:
            guard !slices[index].endpoints.isEmpty else { return "nothing to flip in \(name)" }
            let at = Int.random(in: 0..<slices[index].endpoints.count, using: &rng)
            slices[index].endpoints[at].ready = !(slices[index].endpoints[at].ready ?? true)
            return "flip ready in \(name)"
        case 7:
            slices[index].ports = Bool.random(using: &rng) ? ports() : nil
            return "change ports of \(name)"
        default:
            guard var first = slices[index].ports?.first else { return "no port to tag in \(name)" }
            first.appProtocol = [nil, "kubernetes.io/h2c", "http"].randomElement(using: &rng)!
            slices[index].ports![0] = first
            return "appProtocol of \(name)"
        }
    }

    @Test(arguments: [1, 2, 3] as [UInt64]) func refreshedTableIsExactlyAFullTranslation(seed: UInt64) throws {
        let base = try Self.base()
        let translator = Self.translator
        var rng = SeededGenerator(state: seed)
        var counter = 0
        var slices: [Slice] = []
        for service in Self.services {
            counter += 1
            slices.append(Slice(name: "\(service)-\(counter)", service: service, ports: nil, endpoints: [("10.1.0.\(counter)", true)]))
        }
        var snapshot = ResourceSnapshot(base + (try slices.map { try $0.resource }))
        let first = translator.translate(snapshot)
        #expect(first.statuses.httpRoutes.count == 1 && first.statuses.grpcRoutes.count == 1)
        #expect(first.table.clusters.keys.contains { $0.contains("@apps/mtls") }, "the TLS cluster has a per-Gateway copy")
        var table = first.table
        var tablesChanged = 0
        for step in 0..<150 {
            let edit = Self.edit(&slices, using: &rng, counter: &counter)
            let next = ResourceSnapshot(base + (try slices.map { try $0.resource }))
            let services = try #require(next.endpointChanges(since: snapshot), "step \(step) (\(edit)): only EndpointSlices changed")
            let full = translator.translate(next)
            let refreshed = first.clusters.refreshing(table, services: services, from: next)
            let differing = Set(refreshed.clusters.keys).union(full.table.clusters.keys).filter {
                refreshed.clusters[$0] != full.table.clusters[$0]
            }
            #expect(differing.isEmpty, "step \(step) (\(edit)): clusters \(differing.sorted()) differ from a full translation's")
            // Compared as Bools: a failure names the step and the clusters, not two whole tables.
            let sameTable = refreshed == full.table, sameStatuses = full.statuses == first.statuses
            #expect(sameTable, "step \(step) (\(edit)): the refreshed table differs from a full translation's")
            #expect(sameStatuses, "step \(step) (\(edit)): a status changed with EndpointSlices alone")
            guard sameTable && sameStatuses else { break }  // one failing step says it; the steps after it would repeat it
            if refreshed != table { tablesChanged += 1 }
            (snapshot, table) = (next, refreshed)
        }
        #expect(tablesChanged > 50, "most edits change what is served (\(tablesChanged) did)")
        #expect(table.clusters.values.contains { !$0.endpoints.isEmpty })
    }

    @Test func endpointChangesNamesTheServicesWhoseSlicesChangedAndNothingElse() throws {
        let base = try Self.base()
        let api = Slice(name: "api-1", service: "api", ports: [("web", 8080, nil)], endpoints: [("10.0.0.1", true)])
        let grpc = Slice(name: "grpc-1", service: "grpc", ports: nil, endpoints: [("10.0.0.2", true)])
        let before = ResourceSnapshot(base + [try api.resource, try grpc.resource])
        #expect(before.endpointChanges(since: before) == [])

        var moved = api
        moved.endpoints = [("10.0.0.9", true)]
        let after = ResourceSnapshot(base + [try moved.resource, try grpc.resource])
        #expect(after.endpointChanges(since: before) == [NamespacedName("apps", "api")])
        let gone = ResourceSnapshot(base + [try api.resource])
        #expect(gone.endpointChanges(since: before) == [NamespacedName("apps", "grpc")])

        // Anything but an EndpointSlice: a Service, a route, a runtime input of the translation.
        let edited = base.map { resource -> Resource in
            guard case .service(var service) = resource, service.metadata.name == "api" else { return resource }
            service.spec?.ports?[0].targetPort = .int(8081)
            return .service(service)
        }
        #expect(ResourceSnapshot(edited + [try api.resource, try grpc.resource]).endpointChanges(since: before) == nil)
        let fewer = base.filter { if case .grpcRoute = $0 { false } else { true } }
        #expect(ResourceSnapshot(fewer + [try api.resource, try grpc.resource]).endpointChanges(since: before) == nil)
        var progressed = before
        progressed.rolloutProgress[NamespacedName("apps", "r")] = RolloutProgress(phase: .Progressing, step: 1, stepStartedAt: "2026-01-01T00:00:00Z", fingerprint: "f")
        #expect(progressed.endpointChanges(since: before) == nil)
    }
}
