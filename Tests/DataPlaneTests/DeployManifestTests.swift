@testable import ArchwayCore
import Foundation
import GatewayAPI
import Providers
import Translator
import Testing
import Yams

/// `deploy/` is what users `kubectl apply -k`: every manifest must be well-formed, RBAC must allow
/// exactly what the provider does, and archway's CRD schemas must accept what archway accepts.
@Suite(.timeLimit(.minutes(2)))
struct DeployManifestTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let deploy = root.appendingPathComponent("deploy")

    /// Every document of every YAML file kustomization.yaml lists, by file.
    static func documents() throws -> [(file: String, object: [String: Any])] {
        let kustomization = try #require(try Yams.load(yaml: String(contentsOf: deploy.appendingPathComponent("kustomization.yaml"), encoding: .utf8)) as? [String: Any])
        let files = kustomization["resources"] as? [String] ?? []
        var result: [(String, [String: Any])] = []
        for file in files {
            let text = try String(contentsOf: deploy.appendingPathComponent(file), encoding: .utf8)
            for case let object as [String: Any] in try Yams.load_all(yaml: text) { result.append((file, object)) }
        }
        return result
    }

    static func find(_ documents: [(file: String, object: [String: Any])], kind: String, name: String? = nil) -> [String: Any]? {
        documents.first { $0.object["kind"] as? String == kind && (name == nil || ($0.object["metadata"] as? [String: Any])?["name"] as? String == name) }?.object
    }

    @Test func manifestsAreCompleteAndConsistent() throws {
        let documents = try Self.documents()
        let known: [String: String] = [
            "Namespace": "v1", "ServiceAccount": "v1", "Service": "v1", "Deployment": "apps/v1",
            "ClusterRole": "rbac.authorization.k8s.io/v1", "ClusterRoleBinding": "rbac.authorization.k8s.io/v1",
            "Role": "rbac.authorization.k8s.io/v1", "RoleBinding": "rbac.authorization.k8s.io/v1",
            "CustomResourceDefinition": "apiextensions.k8s.io/v1", "GatewayClass": "gateway.networking.k8s.io/v1",
        ]
        for (file, object) in documents {
            let kind = object["kind"] as? String ?? "?"
            #expect(known[kind] == object["apiVersion"] as? String, "\(file): \(kind) has apiVersion \(object["apiVersion"] ?? "none")")
            #expect((object["metadata"] as? [String: Any])?["name"] != nil, "\(file): \(kind) has no name")
        }
        let gatewayClass = try #require(Self.find(documents, kind: "GatewayClass", name: "archway"))
        #expect((gatewayClass["spec"] as? [String: Any])?["controllerName"] as? String == Translator.defaultControllerName)

        // The Deployment runs `serve --kubernetes` with the admin endpoint on loopback (kubectl
        // port-forward reaches it) and the probes and metrics on a port of their own.
        let deployment = try #require(Self.find(documents, kind: "Deployment"))
        let pod = (((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any]) ?? [:]
        let container = try #require((pod["containers"] as? [[String: Any]])?.first)
        let args = container["args"] as? [String] ?? []
        #expect(Array(args.prefix(2)) == ["serve", "--kubernetes"])
        let admin = try #require(args.first { $0.hasPrefix("--admin=") })
        #expect(admin.hasPrefix("--admin=127.0.0.1:"), "the dashboard, /status and the controls stay on loopback: \(admin)")
        let metricsAddress = try #require(args.first { $0.hasPrefix("--metrics-address=") })
        let ports = Dictionary((container["ports"] as? [[String: Any]] ?? []).map { ($0["name"] as? String ?? "", $0["containerPort"] as? Int ?? 0) },
                               uniquingKeysWith: { first, _ in first })
        #expect(metricsAddress.hasSuffix(":\(ports["metrics"] ?? -1)"))
        #expect(ports["admin"] == nil, "the admin port is not exposed")
        for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
            let get = (container[probe] as? [String: Any])?["httpGet"] as? [String: Any]
            #expect(get?["path"] as? String == path && get?["port"] as? String == "metrics", "\(probe) must GET \(path) on the metrics port")
        }
        #expect(pod["serviceAccountName"] as? String == "archway")
        // Every listener port mapping lands on a declared container port, and the Service sends 80/443 there.
        let mappings = Dictionary(args.filter { $0.hasPrefix("--port-map=") }.map { arg -> (Int, Int) in
            let pair = arg.dropFirst("--port-map=".count).split(separator: "=")
            return (Int(pair[0]) ?? 0, Int(pair[1]) ?? 0)
        }, uniquingKeysWith: { first, _ in first })
        let service = try #require(Self.find(documents, kind: "Service", name: "archway"))
        let serviceSpec = service["spec"] as? [String: Any] ?? [:]
        #expect(serviceSpec["type"] as? String == "LoadBalancer")
        for port in serviceSpec["ports"] as? [[String: Any]] ?? [] {
            let listenerPort = port["port"] as? Int ?? 0
            let target = ports[port["targetPort"] as? String ?? ""]
            #expect(target != nil && mappings[listenerPort] == target, "Service port \(listenerPort) must reach the pod port archway maps listener port \(listenerPort) to")
        }
        #expect(Set(mappings.keys) == [80, 443])
        #expect(args.contains("--gateway-service=archway-system/archway"))
        // The container image recipe exists and builds the static binary the Deployment runs.
        let dockerfile = try String(contentsOf: Self.root.appendingPathComponent("Dockerfile"), encoding: .utf8)
        #expect(dockerfile.contains("--static-swift-stdlib") && dockerfile.contains("ENTRYPOINT"))
    }

    /// The permission rules, as (group, resource, verb) triples, with the namespace a Role limits them to.
    static func grants(_ documents: [(file: String, object: [String: Any])]) -> [(group: String, resource: String, verb: String, namespace: String?)] {
        var result: [(String, String, String, String?)] = []
        for (_, object) in documents where ["ClusterRole", "Role"].contains(object["kind"] as? String) {
            let namespace = object["kind"] as? String == "Role" ? (object["metadata"] as? [String: Any])?["namespace"] as? String : nil
            for rule in object["rules"] as? [[String: Any]] ?? [] {
                for group in rule["apiGroups"] as? [String] ?? [] {
                    for resource in rule["resources"] as? [String] ?? [] {
                        for verb in rule["verbs"] as? [String] ?? [] { result.append((group, resource, verb, namespace)) }
                    }
                }
            }
        }
        return result
    }

    @Test func rbacAllowsEveryCallTheProviderMakesAndNothingElse() async throws {
        let documents = try Self.documents()
        let grants = Self.grants(documents)
        #expect(!grants.contains { $0.group == "*" || $0.resource == "*" || $0.verb == "*" }, "no wildcards")

        // A run that exercises every kind of call: lists, watches, a referenced Secret and ConfigMap,
        // status patches (one conflicting, so the object is re-read), and the leader Lease.
        let harness = GatewayHarness()
        let server = try await KubernetesTests.cluster(group: harness)
        try server.apply(Manifests.join(
            Manifests.gateway(listeners: ["{name: http, protocol: HTTP, port: 80}",
                                          "{name: https, protocol: HTTPS, port: 443, tls: {certificateRefs: [{name: site-cert}]}}"]),
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: BackendTLSPolicy
            metadata: {name: svc-tls}
            spec:
              targetRefs: [{group: "", kind: Service, name: svc}]
              validation: {hostname: svc.example, caCertificateRefs: [{group: "", kind: ConfigMap, name: svc-ca}]}
            """))
        server.injectConflicts(1)
        harness.extraPortMap = [443: 0]
        let lease = NamespacedName("archway-system", "archway-leader")
        _ = try await KubernetesTests.replica(server, backends: harness, lease: lease,
                                              timing: .init(leaseDuration: .seconds(1), renewDeadline: .milliseconds(700), retryPeriod: .milliseconds(150)))
        try await KubernetesTests.waitUntil("statuses are written") { server.statusWriteCount("HTTPRoute", "default", "r") == 1 }
        // The missing certificate and CA rejected a listener and the policy: the leader writes Events.
        try await KubernetesTests.waitUntil("an Event is written") { !server.objects(kind: "Event").isEmpty }
        await harness.stop()
        await server.stop()

        let calls = Set(server.calls)
        for call in try Self.callsNotAllowed(calls) {
            Issue.record("deploy/rbac.yaml does not allow a call the provider made: \(call)")
        }
        for expected in ["list core/secrets", "watch core/configmaps", "patch gateway.networking.k8s.io/httproutes/status",
                         "get gateway.networking.k8s.io/gatewayclasses", "create coordination.k8s.io/leases", "update coordination.k8s.io/leases",
                         "create events.k8s.io/events"] {
            #expect(calls.contains { $0.description == expected }, "the run was meant to exercise \(expected)")
        }
        // Least privilege: nothing is granted that the provider has no call for.
        let possible = Self.possibleCalls()
        for grant in grants {
            #expect(possible.contains("\(grant.verb) \(grant.group.isEmpty ? "core" : grant.group)/\(grant.resource)"),
                    "deploy/rbac.yaml grants \(grant.verb) on \(grant.group)/\(grant.resource), which archway never does")
        }
    }

    /// The calls deploy/rbac.yaml does not grant.
    static func callsNotAllowed(_ calls: Set<FakeAPIServer.Call>) throws -> [FakeAPIServer.Call] {
        let grants = grants(try documents())
        return calls.filter { call in
            let subresource = call.resource + (call.subresource.map { "/" + $0 } ?? "")
            return !grants.contains { $0.group == call.group && $0.resource == subresource && $0.verb == call.verb
                && ($0.namespace == nil || $0.namespace == call.namespace) }
        }.sorted { $0.description < $1.description }
    }

    /// Every call the provider's code can make, from its own tables.
    static func possibleCalls() -> Set<String> {
        var calls: Set<String> = []
        func name(_ kind: KubeKind) -> String { "\(kind.group.isEmpty ? "core" : kind.group)/\(kind.plural)" }
        for kind in KubeKind.watchedWhole + [.secret, .configMap] {
            calls.insert("list \(name(kind))")
            calls.insert("watch \(name(kind))")
        }
        // Status: merge-patched, and the object read again after a conflict.
        for kind in ["GatewayClass", "Gateway", "ListenerSet", "HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute", "UDPRoute", "BackendTLSPolicy",
                     "BackendTrafficPolicy", "ServiceLevelObjective", "AddressPool", "ACMEIssuer", "Rollout", "Ingress", "Service"] + EdgePolicy.Kind.allCases.map(\.rawValue) {
            let kind = KubeKind.byKind[kind]!
            calls.insert("patch \(name(kind))/status")
            calls.insert("get \(name(kind))")
        }
        for verb in ["get", "create", "update"] { calls.insert("\(verb) \(name(.lease))") }
        // Layer-2 announcement (serve --announce --kubernetes): the replicas' membership Leases are
        // listed each round, and a replica deletes its own on shutdown and long-dead ones.
        for verb in ["list", "delete"] { calls.insert("\(verb) \(name(.lease))") }
        // ACME in a cluster: the leader reads and writes certificate Secrets and its account Secret.
        for verb in ["get", "create", "update"] { calls.insert("\(verb) \(name(.secret))") }
        // The leader's Events: created, and patched when the same thing happens again.
        for verb in ["create", "patch"] { calls.insert("\(verb) \(name(EventWriter.kind))") }
        return calls
    }

    @Test func crdSchemasAcceptWhatArchwayAccepts() throws {
        let documents = try Self.documents()
        var schemas: [String: [String: Any]] = [:]
        for (_, object) in documents where object["kind"] as? String == "CustomResourceDefinition" {
            let spec = object["spec"] as? [String: Any] ?? [:]
            let kind = (spec["names"] as? [String: Any])?["kind"] as? String ?? ""
            let version = (spec["versions"] as? [[String: Any]])?.first
            #expect((version?["subresources"] as? [String: Any])?["status"] != nil, "\(kind) needs the status subresource archway writes through")
            schemas[kind] = (version?["schema"] as? [String: Any])?["openAPIV3Schema"] as? [String: Any]
        }
        #expect(Set(schemas.keys) == Set(["BackendTrafficPolicy", "ServiceLevelObjective", "AddressPool", "ACMEIssuer", "Rollout"] + EdgePolicy.Kind.allCases.map(\.rawValue)))

        let sources = [Self.root.appendingPathComponent("examples/playbook/30-slos.yaml"),
                       Self.root.appendingPathComponent("Tests/TranslatorTests/Fixtures/21-backend-traffic-policies.yaml"),
                       Self.root.appendingPathComponent("Tests/TranslatorTests/Fixtures/22-service-level-objectives.yaml"),
                       Self.root.appendingPathComponent("Tests/TranslatorTests/Fixtures/23-edge-policies.yaml"),
                       Self.root.appendingPathComponent("Tests/TranslatorTests/Fixtures/140-address-pools.yaml"),
                       Self.root.appendingPathComponent("Tests/TranslatorTests/Fixtures/143-acme-issuers.yaml"),
                       Self.root.appendingPathComponent("Tests/TranslatorTests/Fixtures/144-rollouts.yaml")]
        var checked = 0
        var refusedByBoth = 0
        for source in sources {
            let text = try String(contentsOf: source, encoding: .utf8)
            let documents = try Yams.load_all(yaml: text).compactMap { $0 as? [String: Any] }
            for object in documents {
                guard let kind = object["kind"] as? String, let schema = schemas[kind] else { continue }
                let name = (object["metadata"] as? [String: Any])?["name"] as? String ?? "?"
                let json = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
                let loaderAccepts = ManifestLoader().parse(text: json, file: source.lastPathComponent).errors.isEmpty
                let schemaProblems = SchemaCheck.problems(object, schema: schema, path: "")
                if loaderAccepts {
                    #expect(schemaProblems.isEmpty, "\(source.lastPathComponent) \(kind) \(name): archway accepts it, the CRD refuses it: \(schemaProblems)")
                } else if !schemaProblems.isEmpty {
                    refusedByBoth += 1
                }
                checked += 1
            }
        }
        #expect(checked >= 8)
        #expect(refusedByBoth >= 2, "the schema catches malformed objects the loader also refuses (a bad window, a bad duration)")
    }
}

/// The structural-schema subset CRDs use: types, properties (unknown fields refused unless
/// x-kubernetes-preserve-unknown-fields), required, items, enum, bounds, lengths and patterns.
enum SchemaCheck {
    static func problems(_ value: Any, schema: [String: Any], path: String) -> [String] {
        var problems: [String] = []
        let here = path.isEmpty ? "(root)" : path
        if let options = schema["enum"] as? [Any], !options.contains(where: { "\($0)" == "\(value)" }) {
            problems.append("\(here): \(value) is not one of \(options)")
        }
        switch schema["type"] as? String {
        case "object":
            guard let object = value as? [String: Any] else { return ["\(here): expected an object"] }
            for key in schema["required"] as? [String] ?? [] where object[key] == nil { problems.append("\(here).\(key): required") }
            guard let properties = schema["properties"] as? [String: Any] else { return problems }
            for (key, item) in object {
                if let property = properties[key] as? [String: Any] {
                    problems += Self.problems(item, schema: property, path: path.isEmpty ? key : "\(path).\(key)")
                } else if schema["x-kubernetes-preserve-unknown-fields"] as? Bool != true {
                    problems.append("\(here).\(key): unknown field")
                }
            }
        case "array":
            guard let list = value as? [Any] else { return ["\(here): expected a list"] }
            if let min = schema["minItems"] as? Int, list.count < min { problems.append("\(here): fewer than \(min) items") }
            if let max = schema["maxItems"] as? Int, list.count > max { problems.append("\(here): more than \(max) items") }
            if let items = schema["items"] as? [String: Any] {
                for (index, item) in list.enumerated() { problems += Self.problems(item, schema: items, path: "\(here)[\(index)]") }
            }
        case "string":
            guard let text = value as? String else { return ["\(here): expected a string"] }
            if let min = schema["minLength"] as? Int, text.count < min { problems.append("\(here): shorter than \(min)") }
            if let max = schema["maxLength"] as? Int, text.count > max { problems.append("\(here): longer than \(max)") }
            if let pattern = schema["pattern"] as? String, text.range(of: pattern, options: .regularExpression) == nil {
                problems.append("\(here): \"\(text)\" does not match \(pattern)")
            }
        case "integer", "number":
            guard let number = (value as? Double) ?? (value as? Int).map(Double.init) else { return ["\(here): expected a number"] }
            if schema["type"] as? String == "integer", value is Double, number.rounded() != number { problems.append("\(here): expected an integer") }
            if let min = (schema["minimum"] as? Double) ?? (schema["minimum"] as? Int).map(Double.init) {
                let exclusive = schema["exclusiveMinimum"] as? Bool == true
                if exclusive ? number <= min : number < min { problems.append("\(here): below the minimum \(min)") }
            }
            if let max = (schema["maximum"] as? Double) ?? (schema["maximum"] as? Int).map(Double.init) {
                let exclusive = schema["exclusiveMaximum"] as? Bool == true
                if exclusive ? number >= max : number > max { problems.append("\(here): above the maximum \(max)") }
            }
        case "boolean":
            if !(value is Bool) { problems.append("\(here): expected a boolean") }
        default:
            break
        }
        return problems
    }
}
