import GatewayAPI
import RoutingTable

extension Translator {
    /// A rule's sessionPersistence checked and made concrete. What the CRD's CEL rules would refuse
    /// in a cluster is refused here too (the file provider has no API server to do it), so the rule
    /// is dropped with the reason instead of silently balancing requests.
    func compileSession(_ spec: HTTPRoute.SessionPersistence, matches: [HTTPMatch], defaultName identity: String) throws -> StickySession {
        let carrier: StickySession.Carrier
        switch spec.type ?? "Cookie" {
        case "Cookie": carrier = .cookie
        case "Header": carrier = .header
        case let other: throw RuleError(message: "sessionPersistence type \(other) is not supported (Cookie and Header are)")
        }
        // Unique per rule by default, so two rules on one host never overwrite each other's session.
        let name = spec.sessionName ?? "archway-session-" + String(SessionToken.stableHash(identity) & 0xffff_ffff, radix: 16)
        guard (1...128).contains(name.utf8.count), isValidHeaderName(name) else {
            throw RuleError(message: "sessionPersistence sessionName \"\(name)\" must be 1 to 128 characters, letters, digits or !#$%&'*+-.^_`|~ (a cookie or header name)")
        }
        func duration(_ field: String, _ text: String?) throws -> Int? {
            guard let text else { return nil }
            guard let millis = parseGatewayDuration(text), millis > 0 else {
                throw RuleError(message: "sessionPersistence \(field) \"\(text)\" is not a Gateway API duration above zero (e.g. 30m, 1h)")
            }
            return millis
        }
        let absolute = try duration("absoluteTimeout", spec.absoluteTimeout)
        let idle = try duration("idleTimeout", spec.idleTimeout)
        let permanent: Bool
        switch spec.cookieConfig?.lifetimeType ?? "Session" {
        case "Session": permanent = false
        case "Permanent":
            guard absolute != nil else {
                throw RuleError(message: "sessionPersistence cookieConfig.lifetimeType Permanent needs an absoluteTimeout (the cookie's Max-Age)")
            }
            permanent = true
        case let other: throw RuleError(message: "sessionPersistence cookieConfig.lifetimeType \(other) is not supported (Permanent and Session are)")
        }
        return StickySession(name: carrier == .header ? name.lowercased() : name, carrier: carrier,
                             absoluteTimeoutMillis: absolute, idleTimeoutMillis: idle, permanent: permanent,
                             cookiePath: Self.cookiePath(matches))
    }

    /// The path every match shares, so the browser sends the cookie to this rule and no wider;
    /// "/" when the matches differ or use regular expressions.
    static func cookiePath(_ matches: [HTTPMatch]) -> String {
        let paths: [String?] = matches.map { match in
            switch match.path {
            case .prefix(let prefix): prefix.isEmpty ? "/" : prefix
            case .exact(let path): path
            default: nil
            }
        }
        guard let first = paths.first, let path = first, paths.allSatisfy({ $0 == path }),
              path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: ";") }) else { return "/" }
        return path
    }
}
