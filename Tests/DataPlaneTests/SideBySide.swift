import ArchwayCore
import Foundation
import Testing
import Translator

/// One archway serving a provider's Ingresses as they are (side-by-side ports 8000/8443) and, converted
/// by `archway migrate --verify`, as Gateway API routes (80/443): what every provider's side-by-side
/// test sets up before asking both the same questions with curl.
struct SideBySide {
    enum Side: CaseIterable { case ingress, gateway }

    /// What a client sees, reduced to what the tests compare: the status, the Location with its port
    /// taken out (the two sides listen on different ports), the response headers asked for, and what
    /// the echo backend received.
    struct Response: Equatable {
        var status: String
        var location: String? = nil
        var headers: [String: String] = [:]
        var backend: String? = nil
        var path: String? = nil
        var requestHeaders: [String: String] = [:]
    }

    /// An IngressClass of archway's side-by-side controller: Ingresses of this class are served as written.
    static func ingressClass(_ name: String = "archway") -> String {
        "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: \(name)}\nspec: {controller: \(IngressServing.defaultController)}"
    }

    let harness: GatewayHarness
    let certificate: TestCertificate
    let migration: MigrationRun.Output
    private var ports: [Side: (http: Int, https: Int)] = [:]

    /// Writes `manifests` with a certificate for `hosts` in each Secret of `secrets`, converts them with
    /// `--verify` (expecting success), and starts archway serving both readings.
    init(_ harness: GatewayHarness, hosts: [String], secrets: [String], manifests: String,
         sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws {
        self.harness = harness
        let certificate = try TestCertificate(names: hosts, in: harness.directory)
        self.certificate = certificate
        try harness.write("ingresses.yaml", ([manifests] + secrets.map { certificate.secret($0) }).joined(separator: "\n---\n"))
        let converted = MigrationRun.migrate(inputs: [harness.directory.path], gatewayClass: "archway", gatewayNamespace: nil, json: false, verify: true)
        #expect(converted.exitCode == 0, "\(converted.stderr.joined(separator: "\n"))", sourceLocation: sourceLocation)
        migration = converted
        try harness.write("gateway.yaml", converted.stdout)
        harness.ingress = IngressServing(httpPort: 8000, httpsPort: 8443)
        harness.extraPortMap = [443: 0, 8000: 0, 8443: 0]
        try await harness.start()
        ports[.gateway] = (await harness.hostPort(80), await harness.hostPort(443))
        ports[.ingress] = (await harness.hostPort(8000), await harness.hostPort(8443))
    }

    /// The `verify:` summary line of the conversion.
    var verifySummary: String { migration.stderr.last { $0.hasPrefix("verify: ") && $0.contains(" probes") } ?? "(no verify summary)" }

    /// A real curl request to one side; `headers` and `requestHeaders` name what to keep of the
    /// response and of what the backend received.
    func request(_ side: Side, _ scheme: String, host: String, _ path: String, _ arguments: [String] = [],
                 headers: [String] = [], requestHeaders: [String] = []) async throws -> Response {
        let port = scheme == "https" ? ports[side]!.https : ports[side]!.http
        let output = try await ExternalTool.curlOffThePool(["-i", "--resolve", "\(host):\(port):127.0.0.1", "--cacert", certificate.path]
                                                           + arguments + ["\(scheme)://\(host):\(port)\(path)"]).body
        let (head, body) = output.range(of: "\r\n\r\n").map { (String(output[..<$0.lowerBound]), String(output[$0.upperBound...])) } ?? (output, "")
        let lines = head.components(separatedBy: "\r\n")
        var response = Response(status: lines.first.map { String($0.split(separator: " ")[1]) } ?? "?")
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased(), value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if name == "location" { response.location = value.replacing(#/:[0-9]+\//#, with: "/") }
            if headers.contains(name) { response.headers[name] = value }
        }
        if let echoed = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] {
            response.backend = echoed["name"] as? String
            response.path = echoed["path"] as? String
            let received = echoed["headers"] as? [String: String] ?? [:]
            for name in requestHeaders { response.requestHeaders[name] = received[name] }
        }
        return response
    }

    /// Asks both sides and expects `expected` from each.
    func expectBoth(_ scheme: String, host: String, _ path: String, _ arguments: [String] = [], headers: [String] = [], requestHeaders: [String] = [],
                    _ expected: Response, sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws {
        for side in Side.allCases {
            let response = try await request(side, scheme, host: host, path, arguments, headers: headers, requestHeaders: requestHeaders)
            #expect(response == expected, "\(scheme)://\(host)\(path) \(arguments) via the \(side == .ingress ? "Ingress as served" : "converted routes")",
                    sourceLocation: sourceLocation)
        }
    }
}
