import ArchwayCore
import ArgumentParser
import Foundation
import GatewayAPI
import Logging
import Providers

/// Where the API server is: a kubeconfig, or the pod's service account.
struct ClusterConnectionOptions: ParsableArguments {
    @Option(name: .long, help: "A kubeconfig file (token, client certificate or exec plugin); default: the pod's service account, else $KUBECONFIG, else ~/.kube/config.")
    var kubeconfig: String?

    @Option(name: .long, help: "The kubeconfig context to use (default: its current-context).")
    var kubeContext: String?

    func connection() throws -> KubeConnection {
        do {
            return try KubeConnection.resolve(kubeconfig: kubeconfig, context: kubeContext)
        } catch {
            throw ValidationError("cannot reach the API server: \(error)")
        }
    }
}

/// `serve --kubernetes` and its connection, election and Service options.
struct KubernetesOptions: ParsableArguments {
    @Flag(name: .long, help: "Read resources from the Kubernetes API server (in-cluster credentials, or --kubeconfig) and write status back.")
    var kubernetes = false

    @OptionGroup var connectionOptions: ClusterConnectionOptions

    @Option(name: .long, help: "NAMESPACE/NAME of the Service in front of archway; Gateways report its load-balancer addresses.")
    var gatewayService: String?

    @Option(name: .long, help: "NAMESPACE/NAME of the coordination.k8s.io Lease that elects the status writer (default: archway's namespace/archway-leader; 'none': no election).")
    var leaderElectionLease: String?

    @Option(name: .long, help: "This replica's identity in the Lease (default: $POD_NAME, else the host name).")
    var leaderIdentity: String?

    @Option(name: .long, help: "Watch every Secret and ConfigMap with these labels instead of only the ones resources reference.")
    var secretLabelSelector: String?

    @Option(name: .long, help: "Milliseconds to gather a burst of API events into one routing-table update.")
    var debounceMs = 50

    @Option(name: .long, help: "Status writes sent to the API server per second at most, once the burst is spent (client-go's QPS).")
    var kubeApiQps: Double = 20

    @Option(name: .long, help: "Status writes that may go at once after a quiet spell (client-go's Burst).")
    var kubeApiBurst = 40

    func validate() throws {
        guard kubeApiQps > 0, kubeApiQps.isFinite else { throw ValidationError("--kube-api-qps must be a positive number, got \(kubeApiQps)") }
        guard kubeApiBurst >= 1 else { throw ValidationError("--kube-api-burst must be at least 1, got \(kubeApiBurst)") }
    }

    static func namespacedName(_ text: String, flag: String) throws -> NamespacedName {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { throw ValidationError("\(flag) must be NAMESPACE/NAME, got '\(text)'") }
        return NamespacedName(String(parts[0]), String(parts[1]))
    }

    func gatewayServiceName() throws -> NamespacedName? {
        try gatewayService.map { try Self.namespacedName($0, flag: "--gateway-service") }
    }

    func mode(controllerName: String, logger: Logger) throws -> KubernetesMode {
        let connection = try connectionOptions.connection()
        let environment = ProcessInfo.processInfo.environment
        let identity = leaderIdentity ?? environment["POD_NAME"] ?? ProcessInfo.processInfo.hostName
        let lease: NamespacedName? = switch leaderElectionLease {
        case "none": nil
        case nil: NamespacedName(connection.namespace, "archway-leader")
        case let text?: try Self.namespacedName(text, flag: "--leader-election-lease")
        }
        var options = KubernetesMode.Options(connection: connection, lease: lease, identity: identity)
        options.apiQPS = kubeApiQps
        options.apiBurst = kubeApiBurst
        options.secretLabelSelector = secretLabelSelector
        options.debounce = .milliseconds(debounceMs)
        do {
            return try KubernetesMode(options: options, controllerName: controllerName, logger: logger)
        } catch {
            throw ValidationError("cannot set up the API server client: \(error)")
        }
    }
}
