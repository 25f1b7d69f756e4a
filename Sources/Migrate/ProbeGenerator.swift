import RoutingTable

/// One request both readings are asked about.
struct Probe: Hashable, CustomStringConvertible {
    var port: Int
    var host: String
    var path: String
    var headers: [String: String] = [:]

    var description: String {
        let extra = headers.sorted { $0.key < $1.key }.map { " [\($0.key): \($0.value)]" }.joined()
        return "\(port == 443 ? "https" : "http")://\(host)\(port == 80 || port == 443 ? "" : ":\(port)")\(path)\(extra)"
    }
}

/// The requests `migrate --verify` sends, derived from the matches of both routing tables (the
/// Ingresses' and the generated routes'), so a path only one side knows about is still asked:
/// - every host of every port either side listens on;
/// - for each path match, strings it matches (regexes walked by RegexSamples) and near-misses of
///   each: one character fewer, one more, a trailing slash added or removed, one character changed,
///   only the first segment, a deeper path, a query;
/// - upper-case, lower-case and capitalised variants on hosts where either side matches without case;
/// - for each header match (canary header and cookie), the values that match and one that does not,
///   on the paths of the matches that carry headers.
enum ProbeGenerator {
    static func probes(_ tables: [RoutingTable]) -> [Probe] {
        var hosts: [String: (ports: Set<Int>, routes: [HTTPRouteEntry])] = [:]
        var order: [String] = []
        for table in tables {
            for port in table.ports {
                for listener in port.listeners where listener.streamRoutes == nil {
                    for virtualHost in listener.virtualHosts {
                        let host = probeHost(virtualHost.hostname)
                        if hosts[host] == nil { order.append(host) }
                        hosts[host, default: ([], [])].ports.insert(port.port)
                        hosts[host, default: ([], [])].routes += virtualHost.routes
                    }
                }
            }
        }
        var probes: [Probe] = []
        var seen = Set<Probe>()
        for host in order {
            let (ports, routes) = hosts[host]!
            let anyCase = routes.contains { route in
                if case .regularExpression(let pattern) = route.match.path, pattern.contains("(?i") { return true }
                return route.match.headers.contains { $0.kind == .regularExpression && $0.value.contains("(?i") }
            }
            var paths = ["/"]
            var headerPaths: [String] = []
            var headerSets: [[String: String]] = []
            for route in routes {
                let derived = pathProbes(route.match.path, anyCase: anyCase)
                paths += derived
                guard !route.match.headers.isEmpty else { continue }
                headerPaths += derived
                for header in route.match.headers {
                    let values = header.kind == .exact ? [header.value] : RegexSamples.samples(header.value, limit: 4)
                    headerSets += (values + ["other"]).map { [header.name: $0] }
                }
            }
            for port in ports.sorted() {
                let requests = paths.map { (path: $0, headers: [String: String]()) }
                    + headerPaths.flatMap { path in headerSets.map { (path: path, headers: $0) } }
                for (path, headers) in requests {
                    let probe = Probe(port: port, host: host, path: path, headers: headers)
                    if seen.insert(probe).inserted { probes.append(probe) }
                }
            }
        }
        return probes
    }

    /// A host a request can carry for a virtual host's name.
    static func probeHost(_ hostname: String) -> String {
        if hostname == "*" { return "unlisted-host.example" }
        return hostname.hasPrefix("*.") ? "probe" + hostname.dropFirst() : hostname
    }

    /// Paths to ask about one path match: what it matches, and its near-misses.
    static func pathProbes(_ match: PathMatch, anyCase: Bool) -> [String] {
        let matching: [String]
        switch match {
        case .exact(let value): matching = [value]
        case .prefix(let value): matching = [value.isEmpty ? "/" : value, value + "/", value + "/deeper/page"]
        case .regularExpression(let pattern): matching = RegexSamples.samples(pattern)
        }
        var result: [String] = []
        for sample in matching {
            let path = sample.hasPrefix("/") ? sample : "/" + sample
            result += [path] + nearMisses(path)
            if anyCase { result += [path.uppercased(), path.lowercased(), capitalised(path)] }

        }
        result.append(matching.first.map { ($0.hasPrefix("/") ? $0 : "/" + $0) + "?q=1" } ?? "/?q=1")
        // As the data plane does before matching: one spelling per path, none it would refuse.
        var seen = Set<String>()
        return result.compactMap { path -> String? in
            let (bare, query) = PathRules.split(path)
            guard case .success(let normal) = PathNormalization.normalize(bare) else { return nil }
            let normalised = String(normal) + (query.map { "?" + $0 } ?? "")
            return seen.insert(normalised).inserted ? normalised : nil
        }
    }

    static func nearMisses(_ path: String) -> [String] {
        var misses: [String] = []
        if path.count > 1 { misses.append(String(path.dropLast())) }
        misses.append(path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path + "/")
        misses.append(path + "x")
        misses.append(path.hasSuffix("/") ? path + "deeper/page" : path + "/deeper/page")
        // One character off, in the middle of the path, where prefixes and alternatives differ.
        var characters = Array(path)
        if let index = characters.indices.dropFirst(characters.count / 2).first(where: { characters[$0].isLetter || characters[$0].isNumber })
            ?? characters.indices.last(where: { characters[$0].isLetter || characters[$0].isNumber }) {
            characters[index] = characters[index] == "q" ? "z" : "q"
            misses.append(String(characters))
        }
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        if segments.count > 1 { misses.append("/" + segments[0]) }
        return misses
    }

    /// "/Api/V2": each segment's first letter upper-cased, the case mistake people make.
    static func capitalised(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined(separator: "/")
    }
}
