import Foundation

/// A request to explain, as `archway explain` takes it: what a client would send, and where to.
public struct ExplainQuery: Codable, Sendable {
    public struct Header: Codable, Sendable, Equatable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }
    public var method: String
    /// `http://host[:port]/path?query` or `https://...`: the scheme says whether the listener is
    /// reached over TLS, the port which listener port (80 and 443 when none).
    public var url: String
    public var headers: [Header]
    /// The TLS server name (SNI) the client sends; default, for https, the URL's host.
    public var serverName: String?
    /// The client's address, as X-Forwarded-For and Forwarded would carry it.
    public var clientAddress: String
    /// The Gateway address the request is sent to, when the Gateway has one of its own; nil: the
    /// default bind address every Gateway without addresses shares.
    public var gatewayAddress: String?

    public init(method: String = "GET", url: String, headers: [Header] = [], serverName: String? = nil,
                clientAddress: String = "192.0.2.10", gatewayAddress: String? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.serverName = serverName
        self.clientAddress = clientAddress
        self.gatewayAddress = gatewayAddress
    }

    /// Only `url` is required: a tool (or the dashboard) sends what it knows.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(method: try container.decodeIfPresent(String.self, forKey: .method) ?? "GET",
                  url: try container.decode(String.self, forKey: .url),
                  headers: try container.decodeIfPresent([Header].self, forKey: .headers) ?? [],
                  serverName: try container.decodeIfPresent(String.self, forKey: .serverName),
                  clientAddress: try container.decodeIfPresent(String.self, forKey: .clientAddress) ?? "192.0.2.10",
                  gatewayAddress: try container.decodeIfPresent(String.self, forKey: .gatewayAddress))
    }
}

/// What the data plane would do with one request, phase by phase: the listener, every candidate
/// rule in precedence order and why it did or did not match, the route's filters and policies, the
/// backends, the request as the backend would see it, or the gateway's own answer.
public struct RequestExplanation: Codable, Sendable {
    public struct Listener: Codable, Sendable {
        /// "namespace/gateway/listener" for each Gateway listener sharing this hostname on the socket.
        public var names: [String]
        public var hostname: String?
        public var chosen: Bool
        public var why: String
    }
    public struct Candidate: Codable, Sendable {
        /// "namespace/name"
        public var route: String
        public var rule: Int
        public var match: Int
        public var virtualHost: String
        /// The match's conditions, as the route states them.
        public var conditions: String
        public var matched: Bool
        /// Why not, when it did not match.
        public var why: String?
    }
    public struct Backend: Codable, Sendable {
        public var name: String
        public var weight: Int
        /// Percent of requests it gets by weight.
        public var share: Double
        public var endpoints: [String]
        /// Endpoints health checks and outlier detection let requests go to now (live table only).
        public var usableEndpoints: Int?
        /// The answer it would give instead of forwarding (500 invalid backendRef, 503 no endpoints).
        public var refusal: Answer?
        /// The request as this backend would receive it.
        public var upstream: UpstreamRequest?
    }
    public struct UpstreamRequest: Codable, Sendable {
        public var requestLine: String
        public var headers: [ExplainQuery.Header]
    }
    public struct Answer: Codable, Sendable {
        public var status: Int
        public var message: String
        public var headers: [ExplainQuery.Header]
    }

    public var method: String
    public var url: String
    /// The listener socket the request reaches ("0.0.0.0:80", or a Gateway's own address).
    public var socket: String
    public var host: String
    public var path: String
    public var serverName: String?
    /// Whether this came from a running archway's table (with live health) or from manifests.
    public var source: String
    public var listeners: [Listener] = []
    public var candidates: [Candidate] = []
    /// "namespace/name rule R match M", the rule that matched.
    public var route: String?
    /// The route's filters, in the order they apply.
    public var filters: [String] = []
    /// The route's edge policies, in phase order.
    public var edgePolicies: [String] = []
    public var session: String?
    public var timeouts: String?
    public var retry: String?
    public var mirrors: [String] = []
    public var backends: [Backend] = []
    /// The gateway's own answer, when nothing is forwarded (404, 421, 301, 500, 503, CORS).
    public var answer: Answer?
    /// One line: where the request goes, or what it gets back.
    public var outcome: String = ""

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    /// The human form, section by section in the data plane's phase order.
    public func text() -> String {
        var lines = ["REQUEST   \(method) \(url)", "SOCKET    \(socket)  host \"\(host)\"  path \"\(path)\""
                        + (serverName.map { "  server name \"\($0)\"" } ?? ""), "SOURCE    \(source)", ""]
        lines.append("LISTENERS")
        if listeners.isEmpty { lines.append("  (no HTTP listener on \(socket))") }
        for listener in listeners {
            lines.append("  \(listener.chosen ? "→" : " ") \(listener.names.joined(separator: ", ")) (hostname \(listener.hostname ?? "*")): \(listener.why)")
        }
        if !candidates.isEmpty {
            lines += ["", "RULES (precedence order)"]
            for (index, candidate) in candidates.enumerated() {
                let verdict = candidate.matched ? "MATCHED" : "no: \(candidate.why ?? "")"
                lines.append("  \(index + 1). \(candidate.route) rule \(candidate.rule) match \(candidate.match) [vhost \(candidate.virtualHost)] "
                             + "\(candidate.conditions): \(verdict)")
            }
        }
        if let route {
            lines += ["", "ROUTE     \(route)"]
            for filter in filters { lines.append("  filter  \(filter)") }
            for policy in edgePolicies { lines.append("  policy  \(policy)") }
            if let session { lines.append("  session \(session)") }
            if let timeouts { lines.append("  timeouts \(timeouts)") }
            if let retry { lines.append("  retry   \(retry)") }
            for mirror in mirrors { lines.append("  mirror  \(mirror)") }
        }
        if !backends.isEmpty {
            lines += ["", "BACKENDS"]
            for backend in backends {
                let usable = backend.usableEndpoints.map { ", \($0) usable now" } ?? ""
                let endpoints = backend.endpoints.isEmpty ? "no endpoints" : backend.endpoints.joined(separator: " ")
                lines.append("  \(backend.name)  weight \(backend.weight) (\(Self.percent(backend.share)))  \(endpoints)\(usable)")
                if let refusal = backend.refusal { lines.append("    answers \(refusal.status): \(refusal.message)") }
                if let upstream = backend.upstream {
                    lines.append("    \(upstream.requestLine)")
                    for header in upstream.headers { lines.append("    \(header.name): \(header.value)") }
                }
            }
        }
        if let answer {
            lines += ["", "ANSWER    \(answer.status) \(answer.message)"]
            for header in answer.headers { lines.append("  \(header.name): \(header.value)") }
        }
        lines += ["", "OUTCOME   \(outcome)"]
        return lines.joined(separator: "\n") + "\n"
    }

    static func percent(_ share: Double) -> String {
        share == share.rounded() ? "\(Int(share))%" : String(format: "%.1f%%", share)
    }
}
