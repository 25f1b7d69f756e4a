import GatewayAPI
import RoutingTable

/// What an Ingress's APISIX Ingress Controller annotations (`k8s.apisix.apache.org/*`) ask for, read
/// once for both readings. APISIX makes a route per Ingress path:
/// - Exact is the path itself; Prefix "/foo" is the URIs "/foo" and "/foo/*" (whole segments), and
///   Prefix "/foo/" is "/foo/" and "/foo/*", so "/foo" alone is not matched; ImplementationSpecific is
///   the path as APISIX's router reads it: exact, or a string prefix when it ends in "*";
/// - `use-regex: "true"` makes ImplementationSpecific paths regular expressions *searched* in the
///   path (lua-resty-expr's `~~`), not anchored unless the regex says `^`;
/// - `http-to-https` redirects every cleartext request with 301; otherwise `http-redirect` sends
///   every request to that URL with `http-redirect-code` (301 unless a code from 301 to 308);
/// - `rewrite-target` replaces the whole path; `rewrite-target-regex` with
///   `rewrite-target-regex-template` replaces the first match of the regex (both are needed);
/// - `http-allow-methods` (which wins when both are set) and `http-block-methods` answer other or
///   listed methods with 405;
/// - `enable-cors` with `cors-allow-origin / -headers / -methods` (each "*" unless set);
/// - `allowlist-source-range`, `blocklist-source-range` and `auth-type` (keyAuth / basicAuth against
///   ApisixConsumers) decide access; `enable-websocket` lets Upgrade through.
public struct APISIXAnnotations: Sendable, Equatable {
    public static let prefix = IngressController.apisix.annotationPrefix

    /// `rewrite-target-regex` and its template.
    public struct RegexRewrite: Sendable, Equatable {
        public var regex: String
        public var template: String
    }

    public var useRegex = false
    public var httpToHTTPS = false
    public var redirect: IngressIntent.FixedRedirect?
    public var rewriteTarget: String?
    public var regexRewrite: RegexRewrite?
    public var allowMethods: [String] = []
    public var blockMethods: [String] = []
    public var cors: CORSPolicy?
    public var allowSources: [String] = []
    public var blockSources: [String] = []
    public var authType: String?

    /// The methods Gateway API's HTTPRoute can match on.
    public static let standardMethods = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]

    public init(_ ingress: Ingress) {
        func value(_ key: String) -> String? { ingress.annotation(Self.prefix + key)?.trimmingSpaces }
        // The controller's GetBoolAnnotation: only "true" is true.
        func flag(_ key: String) -> Bool { value(key) == "true" }
        func list(_ key: String) -> [String] {
            (value(key) ?? "").split(separator: ",").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
        }
        useRegex = flag("use-regex")
        httpToHTTPS = flag("http-to-https")
        if !httpToHTTPS, let url = value("http-redirect"), !url.isEmpty {
            let code = value("http-redirect-code").flatMap { Int($0) } ?? 0
            redirect = IngressIntent.FixedRedirect(url: url, statusCode: (301...308).contains(code) ? code : 301)
        }
        rewriteTarget = value("rewrite-target").flatMap { $0.isEmpty ? nil : $0 }
        if let regex = value("rewrite-target-regex"), let template = value("rewrite-target-regex-template"), !regex.isEmpty {
            regexRewrite = RegexRewrite(regex: regex, template: template)
        }
        allowMethods = list("http-allow-methods").map { $0.uppercased() }
        blockMethods = allowMethods.isEmpty ? list("http-block-methods").map { $0.uppercased() } : []
        if flag("enable-cors") {
            func starred(_ key: String) -> [String] { list(key).isEmpty ? ["*"] : list(key) }
            // The cors plugin's defaults: no credentials, preflight answers cached 5 seconds.
            cors = CORSPolicy(allowOrigins: starred("cors-allow-origin"), allowCredentials: false, allowMethods: starred("cors-allow-methods"),
                              allowHeaders: starred("cors-allow-headers"), exposeHeaders: [], maxAge: 5)
        }
        allowSources = list("allowlist-source-range")
        blockSources = list("blocklist-source-range")
        authType = value("auth-type")
    }

    /// Access-control annotations the side-by-side serving does not enforce (full keys). A
    /// plugin-config-name's ApisixPluginConfig is not read, so its plugins cannot be told harmless:
    /// it is refused too, failing closed.
    public static let accessControlKeys = ["allowlist-source-range", "blocklist-source-range", "auth-type", "auth-uri", "plugin-config-name"]

    /// The methods a route is matched for: the allow list, or every standard method the block list
    /// leaves; nil when neither is set (any method).
    public var methods: [String]? {
        if !allowMethods.isEmpty { return allowMethods }
        if !blockMethods.isEmpty { return Self.standardMethods.filter { !blockMethods.contains($0) } }
        return nil
    }

    /// A use-regex path as a whole-path match of archway's routing table: APISIX searches the regex
    /// anywhere in the path, so anything may come before and after it (a `^` in it still anchors).
    public static func searchRegex(_ path: String) -> String { ".*(?:" + path + ").*" }

    /// `rewrite-target-regex` as archway's anchored rewrite: ngx.re.sub replaces the first match and
    /// keeps what is around it, so the text before and after become groups of their own. nil when
    /// the template would need more than nine groups.
    public var regexReplace: (pattern: String, template: String)? {
        guard let rewrite = regexRewrite else { return nil }
        let anchored = rewrite.regex.hasPrefix("^")
        let body = anchored ? String(rewrite.regex.dropFirst()) : rewrite.regex
        let groups = Self.captureGroups(body)
        let shift = anchored ? 0 : 1
        guard groups + shift + 1 <= 9 else { return nil }
        var template = anchored ? "" : "$1"
        var characters = Substring(rewrite.template)
        while let first = characters.first {
            characters = characters.dropFirst()
            if first == "$", let digit = characters.first?.wholeNumberValue {
                characters = characters.dropFirst()
                template += "$\(digit + shift)"
            } else {
                template.append(first)
            }
        }
        template += "$\(groups + shift + 1)"
        return ((anchored ? "" : "(.*?)") + "(?:" + body + ")(.*)", template)
    }

    /// Capturing groups in a regex: "(" not escaped and not followed by "?".
    static func captureGroups(_ regex: String) -> Int {
        var count = 0
        var escaped = false
        var characters = Array(regex)
        characters.append(" ")
        for (index, character) in characters.enumerated().dropLast() {
            if escaped { escaped = false; continue }
            if character == "\\" { escaped = true; continue }
            if character == "(" && characters[index + 1] != "?" { count += 1 }
        }
        return count
    }
}
