import GatewayAPI

/// What an Ingress's Kong Ingress Controller annotations (`konghq.com/*`) ask for, read once for both
/// readings. Kong makes a route per Ingress rule:
/// - paths: Prefix and Exact as the Ingress spec says (Kong writes them as `~/foo$` and `/foo/`);
///   ImplementationSpecific is Kong's own path, a plain string prefix, or a regular expression
///   anchored at the start when it begins with `/~` (`/~/api/v[0-9]+`);
/// - `methods` and `headers.NAME` add conditions (any listed method, any listed value; a value
///   starting `~*` is a regular expression);
/// - `strip-path: "true"` removes the matched path before proxying (what is left starts with "/");
/// - `host-aliases` adds hostnames to each rule's host;
/// - `protocols: https` refuses cleartext with `https-redirect-status-code` (426 unless set; 301,
///   302, 307 or 308 redirect instead); `protocols: http` serves cleartext only;
/// - `preserve-host: "false"` sends Kong's upstream name as Host instead of the client's;
/// - `plugins` names KongPlugins in the Ingress's namespace (KongPluginConversion reads them).
public struct KongAnnotations: Sendable, Equatable {
    public static let prefix = IngressController.kong.annotationPrefix

    public struct HeaderCondition: Sendable, Equatable {
        public var name: String
        /// Any of these; each exact, or a regular expression when written `~*…`.
        public var values: [String]
    }

    public var methods: [String] = []
    public var headers: [HeaderCondition] = []
    public var stripPath = false
    public var hostAliases: [String] = []
    /// nil: Kong's default, both.
    public var protocols: Set<String>?
    public var httpsRedirectCode = 426
    public var preserveHost = true
    public var plugins: [String] = []

    public init(_ ingress: Ingress) {
        func value(_ key: String) -> String? { ingress.annotation(Self.prefix + key)?.trimmingSpaces }
        func list(_ key: String) -> [String] {
            (value(key) ?? "").split(separator: ",").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
        }
        methods = list("methods").map { $0.uppercased() }
        for key in (ingress.metadata.annotations ?? [:]).keys.sorted() where key.hasPrefix(Self.prefix + "headers.") {
            // The key as written finds the values; the header name compares without case.
            let written = String(key.dropFirst(Self.prefix.count))
            let values = list(written)
            if written.count > "headers.".count, !values.isEmpty {
                headers.append(HeaderCondition(name: String(written.dropFirst("headers.".count)).lowercased(), values: values))
            }
        }
        stripPath = value("strip-path")?.lowercased() == "true"
        hostAliases = list("host-aliases")
        if value("protocols") != nil { protocols = Set(list("protocols").map { $0.lowercased() }) }
        httpsRedirectCode = value("https-redirect-status-code").flatMap { Int($0) } ?? 426
        preserveHost = value("preserve-host")?.lowercased() != "false"
        plugins = list("plugins")
    }

    /// Cleartext is refused or redirected: `protocols` lists https and not http.
    public var httpsOnly: Bool { protocols.map { $0.contains("https") && !$0.contains("http") } ?? false }
    /// TLS is not served: `protocols` lists http and not https.
    public var httpOnly: Bool { protocols.map { $0.contains("http") && !$0.contains("https") } ?? false }
    /// The redirect code for refused cleartext, nil when Kong answers it with a status of its own (426).
    public var redirectCode: Int? { [301, 302, 307, 308].contains(httpsRedirectCode) ? httpsRedirectCode : nil }

    /// An ImplementationSpecific path written `/~REGEX`: the regex; nil for a plain path.
    public static func regexPath(_ path: String) -> String? {
        path.hasPrefix("/~") ? String(path.dropFirst(2)) : nil
    }

    /// A header value as a match: `~*REGEX` is a regular expression (Kong matches it without case), else exact.
    public static func headerValue(_ value: String) -> (regex: Bool, value: String) {
        value.hasPrefix("~*") ? (true, "(?i)" + value.dropFirst(2)) : (false, value)
    }

}
