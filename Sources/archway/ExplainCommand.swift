import ArchwayCore
import ArgumentParser
import DataPlane
import Foundation
import RoutingTable

/// `archway explain URL`: which listener, route rule and backend a request would reach, and why
/// the others did not take it, from manifests or from a running archway's live table.
struct Explain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Explain where a request would go and why: listener, every candidate rule in precedence order, filters, policies, backends, or the gateway's own answer.",
        discussion: """
            Examples:
              archway explain --config examples/playbook http://shop.example.com/api/cart -H 'X-Canary: true'
              archway explain --admin 127.0.0.1:9901 https://api.example.com/v2/x -X POST -o json
            """)

    enum Format: String, ExpressibleByArgument { case text, json }

    @Argument(help: "The request's URL: http[s]://HOST[:PORT]/PATH[?QUERY]. The port is the listener port (80/443 when none).")
    var url: String

    @Option(name: [.customShort("X"), .long], help: "The request method.")
    var method = "GET"

    @Option(name: [.customShort("H"), .long], help: "A request header, 'Name: value' (repeatable; Host overrides the URL's).")
    var header: [String] = []

    @Option(name: .long, help: "The TLS server name (SNI) the client sends (default for https: the URL's host).")
    var serverName: String?

    @Option(name: .long, help: "The client's address, as X-Forwarded-For would carry it.")
    var clientAddress = "192.0.2.10"

    @Option(name: .long, help: "The Gateway address the request is sent to, for a Gateway with addresses of its own (default: the shared bind address).")
    var gatewayAddress: String?

    @OptionGroup var options: ConfigOptions

    @Option(name: .long, help: "Explain against a running archway's live table (its admin ADDR:PORT) instead of --config: endpoint health included.")
    var admin: HostPort?

    @Flag(name: .long, help: "Read the objects from the cluster (--kubeconfig, --kube-context) and explain against them, translated here as archway would.")
    var fromCluster = false

    @OptionGroup var cluster: ClusterConnectionOptions

    @Option(name: .shortAndLong, help: "text or json.")
    var output = Format.text

    func validate() throws {
        let sources = [!options.config.isEmpty, admin != nil, fromCluster].filter { $0 }.count
        if sources != 1 { throw ValidationError("give exactly one of --config PATH, --admin ADDR:PORT or --from-cluster") }
        guard url.lowercased().hasPrefix("http://") || url.lowercased().hasPrefix("https://") else {
            throw ValidationError("the URL must start with http:// or https://, got '\(url)'")
        }
        _ = try headers()
    }

    func headers() throws -> [ExplainQuery.Header] {
        try header.map { line in
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else {
                throw ValidationError("a header is 'Name: value', got '\(line)'")
            }
            return ExplainQuery.Header(name: String(line[..<colon]).trimmingCharacters(in: .whitespaces),
                                       value: String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
        }
    }

    func run() async throws {
        let query = ExplainQuery(method: method, url: url, headers: try headers(), serverName: serverName, clientAddress: clientAddress,
                                 gatewayAddress: gatewayAddress)
        let explanation: RequestExplanation
        var loadFailed = false
        if let admin {
            let json = String(decoding: try JSONEncoder().encode(query), as: UTF8.self)
            let encoded = json.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? json
            let document: Data
            do {
                document = try await AdminReader.get(host: admin.host, port: admin.port, path: "/explain?q=\(encoded)")
            } catch {
                // Its URL carries the whole request, escaped: said once, without it.
                throw AdminReader.Failure(description: "cannot explain against \(admin): \("\(error)".replacingOccurrences(of: encoded, with: "…"))")
            }
            explanation = try JSONDecoder().decode(RequestExplanation.self, from: document)
        } else {
            let (errors, offline) = fromCluster
                ? try await OfflineExplain.explain(query, connection: try cluster.connection(), controllerName: options.controllerName,
                                                   ingress: options.ingressServing)
                : try OfflineExplain.explain(query, paths: options.config, controllerName: options.controllerName, ingress: options.ingressServing)
            for error in errors { FileHandle.standardError.write(Data("error: \(error)\n".utf8)) }
            explanation = offline
            loadFailed = !errors.isEmpty
        }
        print(output == .json ? try explanation.json() : explanation.text(), terminator: "")
        // Something did not load: the explanation is of what did, and a script should know it.
        if loadFailed { throw ExitCode(1) }
    }
}
