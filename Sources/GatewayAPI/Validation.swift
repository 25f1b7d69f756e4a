/// The checks the Gateway API CRD schemas and CEL rules make at admission. In a cluster the API server
/// refuses such objects; in file mode archway refuses them the same way, with the field path.
public struct FieldProblem: Sendable, Equatable {
    public var field: String
    public var message: String
}

extension Resource {
    public func validationProblems() -> [FieldProblem] {
        var problems = Problems()
        if let meta = metadata {
            if meta.name.isEmpty { problems.add("metadata.name", "must not be empty") }
        }
        switch self {
        case .gatewayClass(let r):
            problems.require(r.spec.controllerName.contains("/"), "spec.controllerName", "must be a domain-prefixed path such as example.com/controller")
        case .gateway(let r): r.validate(into: &problems)
        case .listenerSet(let r): Gateway.validate(listeners: r.spec.listeners, into: &problems)
        case .httpRoute(let r): r.validate(into: &problems)
        case .backendTrafficPolicy(let r): r.validate(into: &problems)
        case .serviceLevelObjective(let r): r.validate(into: &problems)
        case .addressPool(let r): r.validate(into: &problems)
        case .acmeIssuer(let r): r.validate(into: &problems)
        case .rollout(let r): r.validate(into: &problems)
        case .frontendConfig(let r): r.validate(into: &problems)
        case .backendConfig(let r): r.validate(into: &problems)
        case .endpointSlice(let r):
            problems.require(["IPv4", "IPv6", "FQDN"].contains(r.addressType), "addressType", "must be IPv4, IPv6 or FQDN")
        case .service(let r):
            for (i, port) in (r.spec?.ports ?? []).enumerated() {
                problems.require((1...65535).contains(port.port), "spec.ports[\(i)].port", "must be between 1 and 65535")
            }
        default: break
        }
        return problems.items
    }
}

struct Problems {
    var items: [FieldProblem] = []
    mutating func add(_ field: String, _ message: String) { items.append(FieldProblem(field: field, message: message)) }
    mutating func require(_ condition: Bool, _ field: String, _ message: String) {
        if !condition { add(field, message) }
    }
}

/// RFC 1123 hostname, optionally with one leading `*.` label, as the Gateway API `Hostname` type.
public func isValidGatewayHostname(_ value: String) -> Bool {
    var host = Substring(value)
    if host.hasPrefix("*.") { host = host.dropFirst(2) }
    guard !host.isEmpty, host.count <= 253 else { return false }
    for label in host.split(separator: ".", omittingEmptySubsequences: false) {
        guard !label.isEmpty, label.count <= 63, label.first != "-", label.last != "-",
              label.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }) else { return false }
    }
    return !value.contains(":")
}

/// RFC 9110 token: what a header name (and so a cookie name) may be made of.
public func isValidHeaderName(_ name: String) -> Bool {
    !name.isEmpty && name.utf8.allSatisfy { byte in
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}

extension Gateway {
    func validate(into problems: inout Problems) {
        Self.validate(listeners: spec.listeners, into: &problems)
    }

    /// The schema's listener rules, which a ListenerSet's `ListenerEntry` shares with a Gateway's listener.
    static func validate(listeners: [Listener], into problems: inout Problems) {
        problems.require(!listeners.isEmpty && listeners.count <= 64, "spec.listeners", "must have between 1 and 64 entries")
        var names = Set<String>()
        for (i, listener) in listeners.enumerated() {
            let field = "spec.listeners[\(i)]"
            problems.require(names.insert(listener.name).inserted, field + ".name", "duplicate listener name \"\(listener.name)\"")
            problems.require((1...65535).contains(listener.port), field + ".port", "must be between 1 and 65535")
            if let hostname = listener.hostname {
                problems.require(isValidGatewayHostname(hostname), field + ".hostname", "invalid hostname \"\(hostname)\"")
            }
            if ["HTTP", "TCP", "UDP"].contains(listener.protocol) {
                problems.require(listener.tls == nil, field + ".tls", "must not be set for protocol \(listener.protocol)")
            }
            if listener.protocol == "HTTPS" {
                problems.require(listener.tls != nil, field + ".tls", "is required for protocol HTTPS")
            }
            if let from = listener.allowedRoutes?.namespaces, from.from == .Selector {
                problems.require(from.selector != nil, field + ".allowedRoutes.namespaces.selector", "is required when from is Selector")
            }
        }
    }
}

extension HTTPRoute {
    func validate(into problems: inout Problems) {
        for (i, hostname) in (spec.hostnames ?? []).enumerated() {
            problems.require(isValidGatewayHostname(hostname), "spec.hostnames[\(i)]", "invalid hostname \"\(hostname)\"")
        }
        problems.require((spec.parentRefs ?? []).count <= 32, "spec.parentRefs", "must have at most 32 entries")
        for (r, rule) in (spec.rules ?? []).enumerated() {
            let ruleField = "spec.rules[\(r)]"
            for (m, match) in (rule.matches ?? []).enumerated() {
                let field = "\(ruleField).matches[\(m)]"
                if let path = match.path, let value = path.value {
                    if path.type != .RegularExpression {
                        problems.require(value.hasPrefix("/"), field + ".path.value", "must be an absolute path starting with \"/\"")
                        problems.require(!value.contains("//") && !value.contains("/./") && !value.contains("/../")
                                         && !value.contains("#") && !value.hasSuffix("/..") && !value.hasSuffix("/."),
                                         field + ".path.value", "must not contain '//', '/./', '/../' or '#'")
                    }
                }
                for (h, header) in (match.headers ?? []).enumerated() {
                    problems.require(isValidHeaderName(header.name), "\(field).headers[\(h)].name", "invalid header name \"\(header.name)\"")
                }
                let headerNames = (match.headers ?? []).map { $0.name.lowercased() }
                problems.require(Set(headerNames).count == headerNames.count, field + ".headers", "header names must be unique within a match")
                let queryNames = (match.queryParams ?? []).map(\.name)
                problems.require(Set(queryNames).count == queryNames.count, field + ".queryParams", "query parameter names must be unique within a match")
            }
            for (f, filter) in (rule.filters ?? []).enumerated() {
                filter.validate(field: "\(ruleField).filters[\(f)]", rule: rule, into: &problems)
            }
            for (b, backend) in (rule.backendRefs ?? []).enumerated() {
                let field = "\(ruleField).backendRefs[\(b)]"
                if let weight = backend.weight {
                    problems.require((0...1_000_000).contains(weight), field + ".weight", "must be between 0 and 1000000")
                }
                if let port = backend.port {
                    problems.require((1...65535).contains(port), field + ".port", "must be between 1 and 65535")
                }
                if (backend.kind ?? "Service") == "Service" && (backend.group ?? "").isEmpty {
                    problems.require(backend.port != nil, field + ".port", "is required when referring to a Service")
                }
                for (f, filter) in (backend.filters ?? []).enumerated() {
                    filter.validate(field: "\(field).filters[\(f)]", rule: rule, into: &problems)
                }
            }
            for (name, value) in [("request", rule.timeouts?.request), ("backendRequest", rule.timeouts?.backendRequest)] {
                if let value {
                    problems.require(parseGatewayDuration(value) != nil, "\(ruleField).timeouts.\(name)",
                                     "\"\(value)\" is not a Gateway API duration (e.g. 10s, 1m30s, 500ms)")
                }
            }
            if let request = rule.timeouts?.request.flatMap(parseGatewayDuration),
               let backend = rule.timeouts?.backendRequest.flatMap(parseGatewayDuration), request > 0 {
                problems.require(backend <= request, "\(ruleField).timeouts.backendRequest", "must not be longer than timeouts.request")
            }
            if let retry = rule.retry {
                for code in retry.codes ?? [] where !(400...599).contains(code) {
                    problems.add("\(ruleField).retry.codes", "\(code) is not a 4xx or 5xx status code")
                }
                if let attempts = retry.attempts { problems.require(attempts >= 0, "\(ruleField).retry.attempts", "must not be negative") }
                if let backoff = retry.backoff {
                    problems.require(parseGatewayDuration(backoff) != nil, "\(ruleField).retry.backoff",
                                     "\"\(backoff)\" is not a Gateway API duration (e.g. 100ms, 1s)")
                }
            }
            let redirects = (rule.filters ?? []).filter { $0.type == "RequestRedirect" }.count
            let rewrites = (rule.filters ?? []).filter { $0.type == "URLRewrite" }.count
            problems.require(redirects == 0 || rewrites == 0, ruleField + ".filters", "RequestRedirect and URLRewrite cannot be used together")
            problems.require(redirects <= 1 && rewrites <= 1, ruleField + ".filters", "RequestRedirect and URLRewrite may appear at most once")
            for type in ["RequestHeaderModifier", "ResponseHeaderModifier"] {
                problems.require((rule.filters ?? []).filter { $0.type == type }.count <= 1, ruleField + ".filters", "\(type) may appear at most once")
            }
        }
    }
}

extension HTTPRoute.Filter {
    func validate(field: String, rule: HTTPRoute.Rule, into problems: inout Problems) {
        let configured: [(String, Bool)] = [
            ("RequestHeaderModifier", requestHeaderModifier != nil), ("ResponseHeaderModifier", responseHeaderModifier != nil),
            ("RequestRedirect", requestRedirect != nil), ("URLRewrite", urlRewrite != nil), ("CORS", cors != nil), ("RequestMirror", requestMirror != nil),
            ("ExtensionRef", extensionRef != nil),
        ]
        for (type, present) in configured {
            if type == self.type {
                let key = type == "CORS" ? "cors" : type.prefix(1).lowercased() + type.dropFirst()
                problems.require(present, field, "filter of type \(type) needs its \(key) field")
            } else if present {
                problems.add(field, "field for \(type) must not be set on a filter of type \(self.type)")
            }
        }
        if let mirror = requestMirror {
            problems.require(mirror.percent == nil || mirror.fraction == nil, field + ".requestMirror", "percent and fraction cannot both be set")
            if let percent = mirror.percent { problems.require((0...100).contains(percent), field + ".requestMirror.percent", "must be between 0 and 100") }
            if let fraction = mirror.fraction {
                let denominator = fraction.denominator ?? 100
                problems.require(denominator > 0 && (0...denominator).contains(fraction.numerator), field + ".requestMirror.fraction",
                                 "numerator must be between 0 and the denominator, which must be above 0")
            }
        }
        if let cors {
            for origin in cors.allowOrigins ?? [] where !CORSOrigin.isValidPattern(origin) {
                problems.add(field + ".cors.allowOrigins", "\"\(origin)\" is not \"*\" or scheme://host[:port] (the host may start with \"*.\")")
            }
            for name in (cors.allowMethods ?? []) + (cors.allowHeaders ?? []) + (cors.exposeHeaders ?? []) where name != "*" && !isValidHeaderName(name) {
                problems.add(field + ".cors", "\"\(name)\" is not a valid method or header name")
            }
            if let maxAge = cors.maxAge, maxAge < 1 { problems.add(field + ".cors.maxAge", "must be at least 1 second") }
        }
        for modifier in [requestHeaderModifier, responseHeaderModifier].compactMap({ $0 }) {
            let pairs = (modifier.set ?? []) + (modifier.add ?? [])
            for name in pairs.map(\.name) + (modifier.remove ?? []) where !isValidHeaderName(name) {
                problems.add(field, "invalid header name \"\(name)\"")
            }
            // The data plane writes configured values as they are: refuse anything that could split a header.
            for pair in pairs where pair.value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }) {
                problems.add(field, "header \(pair.name): value must not contain CR, LF or NUL")
            }
        }
        if let code = requestRedirect?.statusCode {
            problems.require([301, 302, 303, 307, 308].contains(code), field + ".requestRedirect.statusCode", "must be 301, 302, 303, 307 or 308")
        }
        if let port = requestRedirect?.port {
            problems.require((1...65535).contains(port), field + ".requestRedirect.port", "must be between 1 and 65535")
        }
        for (name, hostname) in [("requestRedirect", requestRedirect?.hostname), ("urlRewrite", urlRewrite?.hostname)] {
            if let hostname {
                problems.require(isValidGatewayHostname(hostname) && !hostname.hasPrefix("*"), "\(field).\(name).hostname", "invalid hostname \"\(hostname)\"")
            }
        }
        for (name, modifier) in [("requestRedirect", requestRedirect?.path), ("urlRewrite", urlRewrite?.path)] {
            guard let modifier else { continue }
            let path = "\(field).\(name).path"
            switch modifier.type {
            case .ReplaceFullPath:
                problems.require(modifier.replaceFullPath != nil, path + ".replaceFullPath", "is required when type is ReplaceFullPath")
                problems.require(modifier.replacePrefixMatch == nil, path + ".replacePrefixMatch", "must not be set when type is ReplaceFullPath")
            case .ReplacePrefixMatch:
                problems.require(modifier.replacePrefixMatch != nil, path + ".replacePrefixMatch", "is required when type is ReplacePrefixMatch")
                problems.require(modifier.replaceFullPath == nil, path + ".replaceFullPath", "must not be set when type is ReplacePrefixMatch")
                let matches = rule.matches ?? []
                // An omitted match list defaults to one PathPrefix "/" match, as the API server fills it in.
                let prefixOnly = matches.isEmpty || (matches.count == 1 && (matches[0].path?.type ?? .PathPrefix) == .PathPrefix)
                problems.require(prefixOnly, path, "ReplacePrefixMatch needs exactly one match with a PathPrefix path")
            }
        }
    }
}

/// The Gateway API `Duration` (GEP-2257): one to four `<number><unit>` parts, units h, m, s, ms,
/// numbers of at most five digits. Returns milliseconds.
public func parseGatewayDuration(_ text: String) -> Int? {
    var total = 0
    var parts = 0
    var rest = Substring(text)
    while !rest.isEmpty {
        let digits = rest.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 5, let number = Int(digits) else { return nil }
        rest = rest.dropFirst(digits.count)
        let multiplier: Int
        if rest.hasPrefix("ms") { multiplier = 1; rest = rest.dropFirst(2) }
        else if rest.hasPrefix("h") { multiplier = 3_600_000; rest = rest.dropFirst() }
        else if rest.hasPrefix("m") { multiplier = 60_000; rest = rest.dropFirst() }
        else if rest.hasPrefix("s") { multiplier = 1000; rest = rest.dropFirst() }
        else { return nil }
        total += number * multiplier
        parts += 1
    }
    return (1...4).contains(parts) ? total : nil
}
