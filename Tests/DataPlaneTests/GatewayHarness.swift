import ArchwayCore
import DataPlane
import GatewayAPI
import Observability
import Translator
import Foundation
import Logging
import NIOCore
import NIOPosix

/// Real archway (in-process, same code as `archway serve`) in front of real echo backends, on loopback
/// ports chosen by the kernel, configured by manifest files in a temporary directory.
final class GatewayHarness: @unchecked Sendable {
    let directory: URL
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    private(set) var backendPorts: [String: Int] = [:]
    private var backendChannels: [any Channel] = []
    private(set) var runtime: GatewayRuntime!
    private(set) var port = 0
    private(set) var adminPort = 0
    /// Listener port → host port, beyond the default 80 and 8080 (both on a free port).
    var extraPortMap: [Int: Int] = [:]
    /// The loopback address every mapped listener port binds on (another replica may take 127.0.0.2).
    var portHost = "127.0.0.1"
    /// How ACME orders retry and poll.
    var acmeTiming = ACMEAutomation.Timing()
    /// Ingress serving; by default on 80/443, which the test Gateway's listener takes first.
    var ingress: IngressServing? = IngressServing()
    var limits = ClientLimits()
    /// Off: every HTTP/1 request takes the general path, to compare the two.
    var fastLane = true
    /// Access log file (nil: off).
    var accessLogPath: String?
    /// OTLP/JSON traces URL (nil: no export).
    var otlpEndpoint: String?
    /// Resources from an API server instead of the directory.
    var kubernetes: KubernetesMode?
    var gatewayService: NamespacedName?
    /// File mode's state directory (`serve --state-dir`); nil: memory only.
    var stateDirectory: String?

    init() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("archway-test-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// Starts an echo backend that answers with `name`.
    func startBackend(_ name: String) async throws {
        let channel = try await EchoServer.start(name: name, host: "127.0.0.1", port: 0, group: group)
        backendChannels.append(channel)
        backendPorts[name] = channel.localAddress!.port!
    }

    /// Starts an echo backend per name, each the one endpoint of a Service of that name; returns
    /// those Services' manifests.
    func startBackendServices(_ names: String...) async throws -> String {
        var services: [String] = []
        for name in names {
            try await startBackend(name)
            services.append(Manifests.service(name, targetPort: backendPorts[name]!))
        }
        return services.joined(separator: "\n---\n")
    }

    func stopBackend(_ name: String) async throws {
        guard let port = backendPorts[name], let index = backendChannels.firstIndex(where: { $0.localAddress?.port == port }) else { return }
        try await backendChannels.remove(at: index).close()
    }

    func read(_ file: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
    }

    func write(_ file: String, _ yaml: String) throws {
        // Write then rename, as editors and `kubectl`-style tools do: the watcher never sees half a file.
        let target = directory.appendingPathComponent(file)
        let temporary = directory.appendingPathComponent(".\(file).tmp")
        try yaml.write(to: temporary, atomically: false, encoding: .utf8)
        guard rename(temporary.path, target.path) == 0 else { throw HarnessError.timeout("rename failed: \(errno)") }
    }

    /// The most common setup: Gateway `gw`, one echo backend `svc`, and route `r` sending every
    /// request to it. Started and ready.
    static func startWithOneRoute() async throws -> GatewayHarness {
        let harness = GatewayHarness()
        try await harness.startBackend("svc")
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(), Manifests.service("svc", targetPort: harness.backendPorts["svc"]!),
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: r}
            spec:
              parentRefs: [{name: gw}]
              rules: [{backendRefs: [{name: svc, port: 80}]}]
            """))
        try await harness.start()
        return harness
    }

    func start() async throws {
        var options = GatewayRuntime.Options(configPaths: [directory.path])
        options.portMap = [80: .init(host: portHost, port: 0), 8080: .init(host: portHost, port: 0)]
        for (listenerPort, hostPort) in extraPortMap { options.portMap[listenerPort] = .init(host: portHost, port: hostPort) }
        options.acmeTiming = acmeTiming
        options.ingress = ingress
        options.limits = limits
        options.fastLane = fastLane
        options.accessLog = try accessLogPath.map { try AccessLogWriter(destination: $0) }
        options.tracing = try otlpEndpoint.map { try OTLPTracing(endpoint: $0, json: true, exportDelay: .milliseconds(100)) }
        options.adminHost = "127.0.0.1"
        options.adminPort = 0
        options.pollInterval = .milliseconds(50)
        options.eventLoopThreads = 2
        options.drainTimeout = .seconds(5)
        options.kubernetes = kubernetes
        options.gatewayService = gatewayService
        options.stateDirectory = try stateDirectory.map { try StateDirectory(path: $0, configPaths: [directory.path]) }
        var logger = Logger(label: "archway-test", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = ProcessInfo.processInfo.environment["ARCHWAY_TEST_LOG"] == nil ? .critical : .debug
        runtime = GatewayRuntime(options: options, logger: logger)
        try await runtime.start()
        port = await runtime.localAddress(listenerPort: 80)?.port ?? 0
        adminPort = await runtime.adminAddress!.port!
        let runtime = self.runtime!
        watcher = Task { await runtime.watch() }
    }

    private var watcher: Task<Void, Never>?

    /// The loopback port a listener port is bound to (listed in `extraPortMap` with 0 before start),
    /// on the default address or on a Gateway's own `address`.
    func hostPort(_ listenerPort: Int, address: String? = nil) async -> Int {
        await runtime.localAddress(listenerPort: listenerPort, address: address)?.port ?? 0
    }

    /// A connection to port 80 of a Gateway's own address.
    func client(address: String) async throws -> TestHTTPClient {
        try await TestHTTPClient.connect(host: address, port: await hostPort(80, address: address), group: group)
    }

    /// `archway status -o json`'s items, from the admin endpoint.
    func statusItems() async throws -> [[String: Any]] {
        let json = try await AdminReader.get(host: "127.0.0.1", port: adminPort, path: "/status")
        return (try JSONSerialization.jsonObject(with: Data(json)) as? [String: Any])?["items"] as? [[String: Any]] ?? []
    }

    /// Waits until the runtime has applied `generation` configurations (or fails after 10 s).
    func waitForGeneration(atLeast generation: Int) async throws {
        for _ in 0..<200 {
            if await runtime.generation >= generation { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw HarnessError.timeout("configuration generation \(generation) never applied")
    }

    func client() async throws -> TestHTTPClient {
        try await TestHTTPClient.connect(host: portHost, port: port, group: group)
    }

    /// One request on a fresh connection.
    func send(_ uri: String, host: String, headers: [(String, String)] = []) async throws -> TestHTTPClient.Response {
        try await send(.GET, uri, host: host, headers: headers)
    }

    func send(_ method: NIOHTTP1Method, _ uri: String, host: String, headers: [(String, String)] = []) async throws -> TestHTTPClient.Response {
        let client = try await client()
        defer { Task { await client.close() } }
        return try await client.request(method, uri, host: host, headers: headers)
    }

    func stop() async {
        watcher?.cancel()
        await runtime?.shutdown()
        for channel in backendChannels { try? await channel.close() }
        group.shutdownGracefully(queue: .global()) { _ in }
        try? FileManager.default.removeItem(at: directory)
    }
}

typealias NIOHTTP1Method = NIOHTTP1.HTTPMethod
import NIOHTTP1

enum HarnessError: Error { case timeout(String) }

/// Manifest text for tests, in the shapes users write.
enum Manifests {
    /// GatewayClass `archway` and Gateway `gw`. `listeners` are flow-style YAML listener entries; the
    /// default is one HTTP listener on port 80 taking routes from the namespaces `from` says.
    static func gateway(namespace: String = "default", from: String = "All", listeners: [String]? = nil) -> String {
        let entries = listeners ?? ["{name: http, protocol: HTTP, port: 80, allowedRoutes: {namespaces: {from: \(from)}}}"]
        return """
        apiVersion: gateway.networking.k8s.io/v1
        kind: GatewayClass
        metadata: {name: archway}
        spec: {controllerName: archway.dev/gateway-controller}
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata: {name: gw, namespace: \(namespace)}
        spec:
          gatewayClassName: archway
          listeners:
        \(entries.map { "  - " + $0 }.joined(separator: "\n"))
        """
    }

    /// A Service `name` on port 80 whose one ready endpoint is 127.0.0.1:`targetPort`; `protocol`
    /// (TCP when omitted, as in Kubernetes) is set on both the Service and the EndpointSlice port.
    static func service(_ name: String, namespace: String = "default", targetPort: Int, ready: Bool = true,
                        protocol proto: String? = nil) -> String {
        let protocolField = proto.map { ", protocol: \($0)" } ?? ""
        return """
        apiVersion: v1
        kind: Service
        metadata: {name: \(name), namespace: \(namespace)}
        spec: {ports: [{name: http, port: 80, targetPort: \(targetPort)\(protocolField)}]}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: \(name)-1, namespace: \(namespace), labels: {kubernetes.io/service-name: \(name)}}
        addressType: IPv4
        ports: [{name: http, port: \(targetPort)\(protocolField)}]
        endpoints:
        - addresses: [127.0.0.1]
          conditions: {ready: \(ready)}
        """
    }

    /// HTTPRoute `name` on Gateway `gw`: one rule matching PathPrefix `path`, to Service `service`
    /// port 80; `ruleFields` are further YAML lines of that rule (timeouts, retry, filters).
    static func route(_ name: String, path: String, service: String, ruleFields: String = "") -> String {
        """
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: \(name)}
        spec:
          parentRefs: [{name: gw}]
          rules:
          - matches: [{path: {type: PathPrefix, value: \(path)}}]
            backendRefs: [{name: \(service), port: 80}]
        \(ruleFields.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        """
    }

    /// IngressClass `name` whose controller is `controller` (archway's by default).
    static func ingressClass(_ name: String = "archway", controller: String = "archway.dev/ingress-controller") -> String {
        "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: \(name)}\nspec: {controller: \(controller)}"
    }

    /// Ingress `name` of class `className`: every path of `host` to Service `service` port 80;
    /// `annotations` are flow-style mapping entries ("key: value, key: value").
    static func ingress(_ name: String, host: String, service: String, annotations: String = "", className: String = "archway") -> String {
        """
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: \(name)
          annotations: {\(annotations)}
        spec:
          ingressClassName: \(className)
          rules:
          - host: \(host)
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: \(service), port: {number: 80}}}}]}
        """
    }

    static func join(_ documents: String...) -> String { documents.joined(separator: "\n---\n") + "\n" }
}

extension TestHTTPClient.Response {
    /// The echo backend's JSON answer.
    var echo: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:] }
    var echoName: String? { echo["name"] as? String }
    var echoHeaders: [String: String] { echo["headers"] as? [String: String] ?? [:] }
}
