/// A rule's `sessionPersistence` as the data plane applies it: which cookie or header carries the
/// session, and when a session ends.
public struct StickySession: Sendable, Codable, Equatable, Hashable {
    public enum Carrier: String, Sendable, Codable, Hashable {
        case cookie, header
    }
    /// The cookie's name as written, or the header's name lowercased.
    public var name: String
    public var carrier: Carrier
    /// From the session's first response; nil means no limit.
    public var absoluteTimeoutMillis: Int?
    /// Since the session's last response; nil means no limit.
    public var idleTimeoutMillis: Int?
    /// A Permanent cookie carries Max-Age (the absolute timeout); a Session cookie ends with the browser.
    public var permanent: Bool
    /// The cookie's Path: the path every match of the rule shares, else "/".
    public var cookiePath: String

    public init(name: String, carrier: Carrier, absoluteTimeoutMillis: Int? = nil, idleTimeoutMillis: Int? = nil,
                permanent: Bool = false, cookiePath: String = "/") {
        self.name = name
        self.carrier = carrier
        self.absoluteTimeoutMillis = absoluteTimeoutMillis
        self.idleTimeoutMillis = idleTimeoutMillis
        self.permanent = permanent
        self.cookiePath = cookiePath
    }

    /// How `archway status` shows it: "sessionPersistence Cookie shop-session (absolute 3600s, idle 600s)".
    public var summary: String {
        func duration(_ millis: Int) -> String { millis % 1000 == 0 ? "\(millis / 1000)s" : "\(millis)ms" }
        let limits = [absoluteTimeoutMillis.map { "absolute " + duration($0) }, idleTimeoutMillis.map { "idle " + duration($0) }].compactMap { $0 }
        return "sessionPersistence \(carrier == .cookie ? "Cookie" : "Header") \(name)" + (limits.isEmpty ? "" : " (" + limits.joined(separator: ", ") + ")")
    }

    /// The session token the client presented, if any. Cookies may come in several `Cookie` lines
    /// (HTTP/2 splits them), each a `name=value; name=value` list.
    public func presentedToken(headerValues: [String]) -> Substring? {
        switch carrier {
        case .header:
            return headerValues.first.map { Substring($0).trimmingSpaces() }
        case .cookie:
            for line in headerValues {
                for pair in line.split(separator: ";") {
                    let pair = pair.trimmingSpaces()
                    guard let equals = pair.firstIndex(of: "="), pair[..<equals] == name else { continue }
                    return pair[pair.index(after: equals)...]
                }
            }
            return nil
        }
    }

    /// The response header that hands the client its (new or refreshed) token.
    public func responseHeader(token: String, secure: Bool) -> (name: String, value: String) {
        switch carrier {
        case .header:
            return (name, token)
        case .cookie:
            var cookie = "\(name)=\(token); Path=\(cookiePath); HttpOnly; SameSite=Lax"
            if permanent, let absolute = absoluteTimeoutMillis { cookie += "; Max-Age=\(max(1, absolute / 1000))" }
            if secure { cookie += "; Secure" }
            return ("set-cookie", cookie)
        }
    }

    /// Whether a session started at `created` and last answered at `lastSeen` is still going at `now`.
    public func isLive(_ token: SessionToken, nowMillis: UInt64) -> Bool {
        // A token from the future (clock skew between replicas) counts as just issued.
        if let absolute = absoluteTimeoutMillis, nowMillis > token.createdMillis, nowMillis - token.createdMillis > UInt64(absolute) { return false }
        if let idle = idleTimeoutMillis, nowMillis > token.lastSeenMillis, nowMillis - token.lastSeenMillis > UInt64(idle) { return false }
        return true
    }
}

/// What a session cookie or header holds: which endpoint the session is pinned to and its two
/// clocks. The endpoint is named by a hash of cluster and address, so no backend address reaches the
/// client; the token is not signed, so a client can at most pin itself to another endpoint of the
/// same route (as Envoy's stateful sessions allow), never reach one outside it. Nothing is stored in
/// the gateway, so every replica reads the same token the same way.
public struct SessionToken: Sendable, Equatable {
    public var endpointKey: UInt64
    public var createdMillis: UInt64
    public var lastSeenMillis: UInt64

    public init(endpointKey: UInt64, createdMillis: UInt64, lastSeenMillis: UInt64) {
        self.endpointKey = endpointKey
        self.createdMillis = createdMillis
        self.lastSeenMillis = lastSeenMillis
    }

    private static let version: UInt8 = 1
    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Lower-case hex, safe in a cookie value and a header without quoting: version byte, then the
    /// three fields big-endian (50 characters).
    public var encoded: String {
        var bytes: [UInt8] = [Self.version]
        for field in [endpointKey, createdMillis, lastSeenMillis] {
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: field >> UInt64(shift))) }
        }
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(Self.hexDigits[Int(byte >> 4)])
            text.append(Self.hexDigits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// nil for anything that is not a token this version wrote (a stale format, a forged length,
    /// another application's cookie of the same name): the request is then balanced as new.
    public init?(decoding text: Substring) {
        let utf8 = Array(text.utf8)
        guard utf8.count == 50 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(25)
        var index = 0
        while index < utf8.count {
            guard let high = Self.nibble(utf8[index]), let low = Self.nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        guard bytes[0] == Self.version else { return nil }
        func field(_ at: Int) -> UInt64 { bytes[at..<at + 8].reduce(0) { $0 << 8 | UInt64($1) } }
        self.init(endpointKey: field(1), createdMillis: field(9), lastSeenMillis: field(17))
    }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    /// The stable name of one endpoint of one cluster: FNV-1a, the same in every process and replica
    /// (Swift's `Hasher` is seeded per process, so it cannot be used here).
    public static func endpointKey(cluster: String, endpoint: Endpoint) -> UInt64 {
        stableHash("\(cluster)|\(endpoint.host):\(endpoint.port)")
    }

    public static func stableHash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return hash
    }
}
