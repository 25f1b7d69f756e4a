import GatewayAPI

/// What an Ingress's F5 NGINX Ingress Controller annotations (`nginx.org/*`) ask for, read once for
/// both readings. The controller writes one nginx `server` per host with a `location` per path:
/// - Prefix and ImplementationSpecific paths are plain nginx prefix locations (`location /tea`, which
///   also matches /teapot), Exact ones `location = /tea`;
/// - `path-regex: case_sensitive | case_insensitive | exact` turns every path of the Ingress into
///   `location ~ "^PATH"`, `location ~* "^PATH"` or `location = PATH` (any other value changes nothing);
///   nginx then tries exact locations, then regex locations in the order written, then the longest prefix;
/// - `rewrites: serviceName=S rewrite=R;…`: the location path at the start of the URI is replaced by R
///   for paths to Service S (`rewrite "^LOCATION(.*)$" "R$1"`);
/// - `ssl-redirect` (default true) sends cleartext requests for a TLS host to https with 301;
///   `redirect-to-https` does so for requests whose X-Forwarded-Proto is `http` (behind a TLS-offloading load balancer);
/// - `hsts` adds Strict-Transport-Security to HTTPS responses;
/// - `proxy-set-headers` sets request headers (a name without a value passes the client's own, which
///   nginx does anyway), `proxy-hide-headers` removes response headers;
/// - `grpc-services`, `ssl-services`, `websocket-services` name Services spoken to with gRPC (HTTP/2),
///   TLS, or with Upgrade passed through;
/// - `listen-ports` / `listen-ports-ssl` replace the cleartext / TLS ports 80 / 443.
public struct NginxIncAnnotations: Sendable, Equatable {
    public static let prefix = IngressController.nginxInc.annotationPrefix

    public enum PathRegex: String, Sendable, Equatable {
        case caseSensitive = "case_sensitive"
        case caseInsensitive = "case_insensitive"
        case exact
    }

    public var pathRegex: PathRegex?
    /// The `path-regex` value when it is none of the three NIC knows (so it changes nothing).
    public var unknownPathRegex: String?
    /// Service name → the path that replaces the location's.
    public var rewrites: [String: String] = [:]
    public var sslRedirect = true
    public var redirectToHTTPS = false
    /// The Strict-Transport-Security value, when `hsts` is on.
    public var hsts: String?
    public var setHeaders: [HeaderPair] = []
    /// Names in `proxy-set-headers` without a value: nginx passes the client's header, as archway does.
    public var passedHeaders: [String] = []
    public var hideHeaders: [String] = []
    public var grpcServices: Set<String> = []
    public var sslServices: Set<String> = []
    public var websocketServices: Set<String> = []
    public var listenPorts: [Int]?
    public var listenPortsSSL: [Int]?

    public struct HeaderPair: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public init(_ ingress: Ingress) {
        func value(_ key: String) -> String? { ingress.annotation(Self.prefix + key)?.trimmingSpaces }
        func flag(_ key: String) -> Bool? { value(key).map { $0.lowercased() == "true" } }
        func names(_ key: String) -> [String] {
            (value(key) ?? "").split(separator: ",").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
        }
        func ports(_ key: String) -> [Int]? {
            let numbers = names(key).compactMap { Int($0) }.filter { (1...65535).contains($0) }
            return numbers.isEmpty ? nil : numbers
        }
        if let regex = value("path-regex") {
            pathRegex = PathRegex(rawValue: regex.lowercased())
            if pathRegex == nil { unknownPathRegex = regex }
        }
        for part in (value("rewrites") ?? "").split(separator: ";") {
            // "serviceName=tea-svc rewrite=/" (NIC's own syntax; spaces around the pair are allowed).
            var pairs: [String: String] = [:]
            for field in part.split(separator: " ") {
                let halves = field.split(separator: "=", maxSplits: 1)
                if halves.count == 2, pairs[String(halves[0])] == nil { pairs[String(halves[0])] = String(halves[1]) }
            }
            if let service = pairs["serviceName"], let path = pairs["rewrite"], !service.isEmpty, !path.isEmpty { rewrites[service] = path }
        }
        sslRedirect = flag("ssl-redirect") ?? true
        redirectToHTTPS = flag("redirect-to-https") ?? false
        if flag("hsts") == true {
            let maxAge = value("hsts-max-age").flatMap { Int($0) } ?? 2_592_000
            hsts = "max-age=\(maxAge)" + (flag("hsts-include-subdomains") == true ? "; includeSubDomains" : "")
        }
        for entry in names("proxy-set-headers") {
            if let colon = entry.firstIndex(of: ":") {
                let name = String(entry[..<colon]).trimmingSpaces
                let headerValue = String(entry[entry.index(after: colon)...]).trimmingSpaces
                if !name.isEmpty { setHeaders.append(HeaderPair(name: name, value: headerValue)) }
            } else {
                passedHeaders.append(entry)
            }
        }
        hideHeaders = names("proxy-hide-headers")
        grpcServices = Set(names("grpc-services"))
        sslServices = Set(names("ssl-services"))
        websocketServices = Set(names("websocket-services"))
        listenPorts = ports("listen-ports")
        listenPortsSSL = ports("listen-ports-ssl")
    }


    /// The location regex of a path under `path-regex` (nil when the path is not a regex location),
    /// as a path match of archway's routing table, which matches whole paths.
    public func locationRegex(_ path: String) -> String? {
        switch pathRegex {
        case .caseSensitive: "(?:" + path + ").*"
        case .caseInsensitive: "(?i)(?:" + path + ").*"
        case .exact, nil: nil
        }
    }
}
