import GatewayAPI
import RoutingTable
import Translator
import Yams

/// APISIX Ingress Controller's paths, rewrites, methods and CORS as Gateway API (what APISIX does
/// with them is in APISIXAnnotations).
extension PathConversion {
    static func apisix(_ path: Ingress.Path, _ annotations: APISIXAnnotations) -> PathConversion {
        let value = path.path ?? "/"
        var conversion: PathConversion
        switch path.pathType {
        case .Exact:
            conversion = PathConversion(matches: [.exact(value)])
        case .Prefix:
            conversion = PathConversion(matches: [.prefix(value)])
            if value.hasSuffix("/") && value != "/" {
                conversion.accepted = [(.prefixWithoutSlash(String(value.dropLast())),
                                        "PathPrefix \(value) also matches \(value.dropLast()), which APISIX (URIs \(value) and \(value)*) leaves to the host's other paths")]
            }
        case .ImplementationSpecific where annotations.useRegex:
            // Searching "/" finds it in every path: that is PathPrefix "/", which every implementation supports.
            conversion = PathConversion(matches: [value == "/" ? .prefix("/") : .regex(APISIXAnnotations.searchRegex(value))])
        case .ImplementationSpecific where value.hasSuffix("*"):
            let stem = String(value.dropLast())
            conversion = PathConversion(matches: [stem == "/" ? .prefix("/") : .regex(Translator.escapeRegex(stem) + ".*")])
        case .ImplementationSpecific:
            conversion = PathConversion(matches: [.exact(value)])
        }
        if let target = annotations.rewriteTarget {
            conversion.rewrite = .fullPath(target)
        } else if let rewrite = annotations.regexRewrite {
            let (prefixRewrite, lost) = apisixPrefixRewrite(rewrite, path: path)
            conversion.rewrite = prefixRewrite
            if let lost { conversion.accepted.append((.pathNotRewritten, lost)) }
        }
        return conversion
    }

    /// rewrite-target-regex as a ReplacePrefixMatch, when it is one: on a Prefix path P, the regex
    /// `^P(.*)` with template `R$1` (R not ending in "/"), or `^P/(.*)` with `R/$1`. The second
    /// leaves P itself unrewritten in APISIX (the regex needs the slash): said as a lost rewrite.
    private static func apisixPrefixRewrite(_ rewrite: APISIXAnnotations.RegexRewrite, path: Ingress.Path) -> (Rewrite?, String?) {
        let value = path.path ?? "/"
        let stem = value.hasSuffix("/") ? String(value.dropLast()) : value
        var body = rewrite.regex.hasPrefix("^") ? String(rewrite.regex.dropFirst()) : rewrite.regex
        if body.hasSuffix("$") { body.removeLast() }
        let unconvertible = "APISIX rewrites \(value) by the regex \(rewrite.regex) into \(rewrite.template); Gateway API's URLRewrite cannot rebuild a path from a regular expression, so the backend gets the path unchanged"
        guard path.pathType == .Prefix, stem != "", body.hasSuffix("(.*)"), rewrite.template.hasSuffix("$1") else { return (nil, unconvertible) }
        let literal = String(body.dropLast(4))
        let replacement = String(rewrite.template.dropLast(2))
        guard !literal.contains(where: RegexLiteral.metacharacters.contains), !replacement.contains("$"), replacement.hasPrefix("/") else {
            return (nil, unconvertible)
        }
        if literal == stem && !replacement.hasSuffix("/") { return (.prefixMatch(replacement), nil) }
        if literal == stem + "/" && replacement.hasSuffix("/") {
            return (.prefixMatch(replacement), "APISIX's regex \(rewrite.regex) needs the slash after \(stem), so \(stem) itself reaches the backend unchanged; ReplacePrefixMatch sends it as \(replacement)")
        }
        return (nil, unconvertible)
    }
}

extension APISIXAnnotations {
    /// Each path match once per allowed method (http-allow-methods, or the standard methods
    /// http-block-methods leaves); unchanged without either.
    func expand(_ pathMatches: [Node]) -> [Node] {
        guard let methods else { return pathMatches }
        return pathMatches.flatMap { match -> [Node] in
            guard case .mapping(let mapping) = match else { return [match] }
            return methods.map { Manifest.map([("path", mapping["path"]), ("method", Manifest.str($0))]) }
        }
    }

    /// enable-cors as the HTTPRoute CORS filter.
    var corsFilterNode: Node? {
        cors.map { Manifest.corsFilter($0, maxAge: $0.maxAge) }
    }
}

extension EdgeAnnotations {
    /// allowlist-source-range / blocklist-source-range as an IPAllowList.
    func apisixPolicies(_ annotations: APISIXAnnotations?) -> [Made?] {
        guard let annotations, !annotations.allowSources.isEmpty || !annotations.blockSources.isEmpty else { return [] }
        return [Self.ipAllowListSpec(allow: annotations.allowSources, deny: annotations.blockSources)]
    }
}
