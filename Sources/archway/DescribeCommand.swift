import ArchwayCore
import ArgumentParser
import Foundation
import GatewayAPI
import Translator

/// `--from-cluster` with the connection flags `inventory` has: for `status` and `describe`.
struct ClusterSource: ParsableArguments {
    @Flag(name: .long, help: "Read the objects and the status archway wrote on them from the cluster (--kubeconfig, --kube-context).")
    var fromCluster = false

    @OptionGroup var connection: ClusterConnectionOptions

    func read(controllerName: String, ingress: IngressServing?, eventsRegarding target: ObjectRef? = nil) async throws -> (source: DescribeSource, errors: [String]) {
        do {
            return try await ClusterStatus.read(connection: try connection.connection(), controllerName: controllerName, ingress: ingress,
                                                eventsRegarding: target)
        } catch let error as ValidationError {
            throw error
        } catch {
            throw ValidationError("cannot read the cluster: \(error)")
        }
    }
}

struct Describe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show one object: its status, the routes attached, the policies that apply and which wins, the ReferenceGrants it relies on, and its events.",
        discussion: "KIND/NAME as kubectl takes it: gateway/web, httproute/shop, gw/web (kinds are case-insensitive). Read from --config, a running archway (--admin) or --from-cluster.")

    enum Format: String, ExpressibleByArgument { case text, json }

    @Argument(help: "KIND/NAME, e.g. gateway/web or httproute/shop.")
    var object: String

    @Option(name: .shortAndLong, help: "The object's namespace (default: default).")
    var namespace: String?

    @Option(name: .long, help: "For a Gateway: only this listener and the routes attached to it.")
    var listener: String?

    @OptionGroup var options: ConfigOptions

    @Option(name: .long, help: "Read from a running archway's admin endpoint (ADDR:PORT): its live status and recent events.")
    var admin: HostPort?

    @OptionGroup var cluster: ClusterSource

    @Option(name: .shortAndLong, help: "text or json.")
    var output = Format.text

    func validate() throws {
        let sources = [!options.config.isEmpty, admin != nil, cluster.fromCluster].filter { $0 }.count
        guard sources == 1 else { throw ValidationError("give one of --config PATH, --admin ADDR or --from-cluster") }
    }

    func run() async throws {
        let kind: String, name: String
        do { (kind, name) = try DescribedKind.parse(object) } catch { throw ValidationError(error.description) }
        let report: DescribeReport
        do {
            if let admin {
                report = try await fromAdmin(admin, kind: kind, name: name)
            } else {
                let source: DescribeSource
                if cluster.fromCluster {
                    let target = ObjectRef(kind: kind, namespace: DescribedKind.isClusterScoped(kind) ? "" : namespace ?? "default", name: name)
                    source = try await cluster.read(controllerName: options.controllerName, ingress: options.ingressServing, eventsRegarding: target).source
                } else {
                    source = DescribeSource.offline(paths: options.config, controllerName: options.controllerName, ingress: options.ingressServing)
                }
                report = try source.describe(kind: kind, namespace: namespace, name: name, listener: listener)
            }
        } catch let error as DescribeError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(1)
        }
        print(output == .json ? try report.json() : report.text(), terminator: output == .json ? "\n" : "")
    }

    private func fromAdmin(_ admin: HostPort, kind: String, name: String) async throws -> DescribeReport {
        var query = "kind=\(kind)&name=\(Self.escaped(name))"
        if let namespace { query += "&namespace=\(Self.escaped(namespace))" }
        if let listener { query += "&listener=\(Self.escaped(listener))" }
        let (status, body) = try await AdminReader.fetch(host: admin.host, port: admin.port, path: "/describe?" + query)
        guard status == 200 else {
            throw DescribeError(String(decoding: body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return try JSONDecoder().decode(DescribeReport.self, from: body)
    }

    static func escaped(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-._~"))) ?? text }
}
