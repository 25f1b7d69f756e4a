import ArchwayCore
import ArgumentParser
import BuildInfo
import DataPlane
import Foundation
import Logging
import NIOCore
import NIOPosix
import Observability
import Translator

@main
struct Archway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archway",
        abstract: "A Kubernetes Gateway API implementation: controller and proxy in one binary.",
        version: BuildInfo.current.line,
        subcommands: [Serve.self, Status.self, Check.self, Explain.self, Describe.self, Migrate.self, Inventory.self, SLO.self, RolloutCommand.self,
                      Echo.self, Version.self])
}

/// "HOST:PORT" or "PORT", for flags that take an address.
struct HostPort: ExpressibleByArgument, CustomStringConvertible {
    var host: String
    var port: Int

    /// As it is typed, so that `--help` shows defaults the way a user would write them.
    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    init?(argument: String) {
        if let port = Int(argument) {
            (host, self.port) = ("0.0.0.0", port)
            return
        }
        guard let colon = argument.lastIndex(of: ":"), let port = Int(argument[argument.index(after: colon)...]) else { return nil }
        var host = String(argument[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        (self.host, self.port) = (host.isEmpty ? "0.0.0.0" : host, port)
    }
}

/// `--port-map 80=18080` or `80=127.0.0.1:18080`.
struct PortMapping: ExpressibleByArgument {
    var listenerPort: Int
    var binding: HostPort

    init?(argument: String) {
        let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let listenerPort = Int(parts[0]), let binding = HostPort(argument: parts[1]) else { return nil }
        self.listenerPort = listenerPort
        self.binding = binding
    }
}

struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "A manifest file or a directory read recursively (repeatable).")
    var config: [String] = []

    @Option(name: .long, help: "Serve only Gateways whose GatewayClass names this controller.")
    var controllerName = Translator.defaultControllerName

    /// Every command but `serve --kubernetes` reads manifests, so each asks for them itself.
    func requireConfig() throws {
        if config.isEmpty { throw ValidationError("at least one --config PATH is required") }
    }

    @Option(name: .long, help: "Port Ingresses of archway's class are served on over HTTP (0: do not serve Ingresses).")
    var ingressHttpPort = 80

    @Option(name: .long, help: "Port Ingresses of archway's class are served on over HTTPS.")
    var ingressHttpsPort = 443

    @Option(name: .long, help: "IngressClass controller name whose Ingresses archway serves.")
    var ingressController = IngressServing.defaultController

    @Option(name: .long, help: "spec.loadBalancerClass of the LoadBalancer Services archway assigns addresses to from its AddressPools.")
    var loadBalancerClass = LoadBalancerServing.defaultClassName

    @Flag(name: .long, help: "Also assign addresses to LoadBalancer Services that name no loadBalancerClass (archway is the cluster's load balancer).")
    var defaultLoadBalancer = false

    var loadBalancerServing: LoadBalancerServing {
        LoadBalancerServing(className: loadBalancerClass, isDefault: defaultLoadBalancer)
    }

    var ingressServing: IngressServing? {
        ingressHttpPort == 0 ? nil : IngressServing(controllerName: ingressController, httpPort: ingressHttpPort, httpsPort: ingressHttpsPort)
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the Gateways described by the manifests, reloading them on change.")

    @OptionGroup var options: ConfigOptions

    @Option(name: .long, help: "Bind a listener port elsewhere: LISTENER_PORT=[HOST:]PORT (repeatable).")
    var portMap: [PortMapping] = []

    @Option(name: .long, help: "Admin endpoint address (/metrics, /healthz, /readyz).")
    var admin = HostPort(argument: "127.0.0.1:9901")!

    @Option(name: .long, help: "Also serve /metrics, /healthz and /readyz alone on ADDR:PORT (for Prometheus and the kubelet), so --admin can stay on loopback.")
    var metricsAddress: HostPort?

    @Option(name: .long, help: "A file holding the bearer token that state-changing admin calls (archway rollout promote, ...) must present unless they come from loopback; in a cluster, mount it from a Secret.")
    var adminTokenFile: String?

    @Option(name: .long, help: "Address unmapped listener ports bind on.")
    var bindAddress = "0.0.0.0"

    @Option(name: .long, help: "Seconds to let in-flight requests finish after SIGTERM.")
    var drainTimeout = 30

    @Option(name: .long, help: "Event-loop threads (default: one per core this process may run on).")
    var threads = CPUAffinity.usableCores

    @Option(name: .long, help: "Access log: one JSON line per request, to stdout or appended to PATH (default: off).")
    var accessLog: String?

    @Option(name: .long, help: "Export a server span per request to this OTLP/HTTP traces URL (e.g. http://127.0.0.1:4318/v1/traces).")
    var otlpEndpoint: String?

    @Option(name: .long, help: "OTLP encoding: http/protobuf or http/json.")
    var otlpProtocol = "http/protobuf"

    @Option(name: .long, help: "Most open client connections across all listeners; more are closed at accept (0: no limit).")
    var maxConnections = 0

    @Option(name: .long, help: "Largest request body in bytes; larger ones get 413 (0: no limit).")
    var maxRequestBody = 0

    @Option(name: .long, help: "Largest request head (request line and header fields) in bytes; larger ones get 431.")
    var maxHeaderBytes = 64 * 1024

    @Option(name: .long, help: "Most header fields in a request; more get 431.")
    var maxHeaderCount = 100

    @Option(name: .long, help: "Seconds a client has to send a complete request head (408, then close).")
    var headerTimeout = 10.0

    @Option(name: .long, help: "Seconds a keep-alive connection may wait for its next request.")
    var idleTimeout = 60.0

    @Option(name: .long, help: "File mode: a directory (outside --config) where archway keeps what must outlive a restart, such as the addresses its AddressPools gave.")
    var stateDir: String?

    @OptionGroup var cluster: KubernetesOptions

    @OptionGroup var layer2: AnnounceOptions

    func validate() throws {
        if !cluster.kubernetes { try options.requireConfig() }
        if cluster.kubernetes, !options.config.isEmpty { throw ValidationError("--kubernetes reads resources from the API server; drop --config") }
        if cluster.kubernetes, stateDir != nil { throw ValidationError("--state-dir is for file mode: with --kubernetes what must outlive a restart is on the objects' status") }
        if let stateDir {
            do { _ = try StateDirectory(path: stateDir, configPaths: options.config) } catch { throw ValidationError("\(error)") }
        }
        guard headerTimeout > 0, idleTimeout > 0 else { throw ValidationError("--header-timeout and --idle-timeout must be above 0") }
        guard maxHeaderBytes > 0, maxHeaderCount > 0, maxConnections >= 0, maxRequestBody >= 0 else {
            throw ValidationError("size and count limits must not be negative (0 turns --max-connections and --max-request-body off)")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "archway")
        logger.logLevel = .info
        var runtimeOptions = GatewayRuntime.Options(configPaths: options.config)
        runtimeOptions.controllerName = options.controllerName
        runtimeOptions.adminHost = admin.host
        runtimeOptions.adminPort = admin.port
        runtimeOptions.metricsAddress = metricsAddress.map { ($0.host, $0.port) }
        if let adminTokenFile {
            do {
                runtimeOptions.adminToken = try String(contentsOfFile: adminTokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                throw ValidationError("--admin-token-file \(adminTokenFile): \(error.localizedDescription)")
            }
            guard runtimeOptions.adminToken?.isEmpty == false else { throw ValidationError("--admin-token-file \(adminTokenFile) is empty") }
        }
        runtimeOptions.bindHost = bindAddress
        runtimeOptions.drainTimeout = .seconds(Int64(drainTimeout))
        runtimeOptions.eventLoopThreads = threads
        runtimeOptions.ingress = options.ingressServing
        runtimeOptions.loadBalancers = options.loadBalancerServing
        if let otlpEndpoint {
            guard ["http/protobuf", "http/json"].contains(otlpProtocol) else { throw ValidationError("--otlp-protocol must be http/protobuf or http/json") }
            do {
                runtimeOptions.tracing = try OTLPTracing(endpoint: otlpEndpoint, json: otlpProtocol == "http/json")
            } catch {
                throw ValidationError("--otlp-endpoint: \(error)")
            }
        }
        if let accessLog {
            do {
                runtimeOptions.accessLog = try AccessLogWriter(destination: accessLog)
            } catch {
                throw ValidationError("--access-log: \(error)")
            }
        }
        runtimeOptions.limits.maxConnections = maxConnections
        runtimeOptions.limits.maxRequestBodyBytes = maxRequestBody > 0 ? maxRequestBody : nil
        runtimeOptions.limits.maxHeaderBytes = maxHeaderBytes
        runtimeOptions.limits.maxHeaderCount = maxHeaderCount
        runtimeOptions.limits.headerTimeout = .nanoseconds(Int64(headerTimeout * 1e9))
        runtimeOptions.limits.idleTimeout = .nanoseconds(Int64(idleTimeout * 1e9))
        // An escape hatch rather than a tuning knob: off, every request takes the general path.
        runtimeOptions.fastLane = ProcessInfo.processInfo.environment["ARCHWAY_FAST_LANE"] != "off"
        for mapping in portMap {
            runtimeOptions.portMap[mapping.listenerPort] = .init(host: mapping.binding.host, port: mapping.binding.port)
        }
        if cluster.kubernetes {
            runtimeOptions.kubernetes = try cluster.mode(controllerName: options.controllerName, logger: logger)
            runtimeOptions.gatewayService = try cluster.gatewayServiceName()
        }
        runtimeOptions.announcement = layer2.announcement
        runtimeOptions.stateDirectory = try stateDir.map { try StateDirectory(path: $0, configPaths: options.config) }
        let runtime = GatewayRuntime(options: runtimeOptions, logger: logger)
        try await ServeService.runUntilSignalled(runtime, logger: logger)
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the Gateway API status archway computes for the manifests.")

    enum Format: String, ExpressibleByArgument { case table, json, yaml }

    @OptionGroup var options: ConfigOptions

    @Option(name: .shortAndLong, help: "table, json or yaml.")
    var output = Format.table

    @Option(name: .long, help: "Read the live status from a running archway's admin endpoint (ADDR:PORT) instead of --config: it knows serve's flags and the ports it could bind.")
    var admin: HostPort?

    @OptionGroup var cluster: ClusterSource

    func validate() throws {
        let sources = [!options.config.isEmpty, admin != nil, cluster.fromCluster].filter { $0 }.count
        guard sources == 1 else { throw ValidationError("give one of --config PATH, --admin ADDR or --from-cluster") }
    }

    func run() async throws {
        if cluster.fromCluster {
            let (source, errors) = try await cluster.read(controllerName: options.controllerName, ingress: options.ingressServing)
            for error in errors { FileHandle.standardError.write(Data("error: \(error)\n".utf8)) }
            return try printReport(source.report)
        }
        if let admin {
            let document = try await AdminReader.get(host: admin.host, port: admin.port, path: "/status?o=\(output.rawValue)")
            print(String(decoding: document, as: UTF8.self), terminator: output == .json ? "\n" : "")
            // Which addresses this replica announces on the LAN (serve --announce), under the table.
            if output == .table, let announcements = try? await AdminReader.get(host: admin.host, port: admin.port, path: "/announcements"),
               let table = AddressAnnouncement.Report.table(json: announcements) {
                print("\n" + table, terminator: "")
            }
            return
        }
        let (errors, report) = StatusReport.compute(paths: options.config, controllerName: options.controllerName,
                                                        ingress: options.ingressServing)
        for error in errors {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        }
        try printReport(report)
    }

    private func printReport(_ report: StatusReport) throws {
        switch output {
        case .table: print(report.table(), terminator: "")
        case .json: print(try report.json())
        case .yaml: print(try report.yaml(), terminator: "")
        }
    }
}

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Validate the manifests without serving: exit 1 if anything is wrong.")

    @OptionGroup var options: ConfigOptions

    func validate() throws { try options.requireConfig() }

    func run() async throws {
        let check = ConfigCheck(paths: options.config, controllerName: options.controllerName, ingress: options.ingressServing)
        for problem in check.problems { print(problem) }
        if !check.problems.isEmpty { throw ExitCode(1) }
        print("ok: every resource is valid and accepted")
    }
}

struct Echo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run small echo backends (for the bundled example and tests): each answers with JSON naming itself.")

    @Argument(help: "NAME=HOST:PORT, one per backend.")
    var backends: [String]

    func run() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        for backend in backends {
            let parts = backend.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let address = HostPort(argument: parts[1]) else {
                throw ValidationError("expected NAME=HOST:PORT, got \(backend)")
            }
            _ = try await EchoServer.start(name: parts[0], host: address.host, port: address.port, group: group)
            print("echo backend \(parts[0]) listening on \(address.host):\(address.port)")
        }
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
}
