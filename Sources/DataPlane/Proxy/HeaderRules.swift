import NIOHTTP1
import RoutingTable

/// Header handling shared by requests and responses: hop-by-hop removal (RFC 9110 §7.6.1) and the
/// Gateway API header modifier semantics.
enum HeaderRules {
    /// Framing and authority a proxy must not guess at (RFC 9112 §3.2, §6.1): no Host or several,
    /// a Host that is not a host, Transfer-Encoding in HTTP/1.0 or with any coding but chunked alone.
    /// One pass over the fields; nil when the request is unambiguous.
    static func framingProblem(_ head: HTTPRequestHead) -> String? {
        var hosts = 0
        var host: Substring = ""
        var transferEncodings = 0
        var onlyChunked = true
        for (name, value) in head.headers {
            if name.utf8.count == 4, name.lowercased() == "host" {
                hosts += 1
                host = Substring(value)
            } else if name.utf8.count == 17, name.lowercased() == "transfer-encoding" {
                transferEncodings += 1
                if value.lowercased().split(separator: " ", omittingEmptySubsequences: true) != ["chunked"] { onlyChunked = false }
            }
        }
        if hosts == 0 && !head.version.isHTTP10OrOlder { return "request has no Host header" }
        if hosts > 1 { return "request has \(hosts) Host headers" }
        if hosts == 1 && !isValidAuthority(host.utf8) { return "Host header \"\(host)\" is not a host[:port]" }
        if transferEncodings > 0 && head.version.isHTTP10OrOlder { return "Transfer-Encoding is not allowed in an HTTP/1.0 request" }
        if transferEncodings > 1 || !onlyChunked { return "Transfer-Encoding must be chunked alone" }
        return nil
    }

    static func isValidAuthority(_ value: some Collection<UInt8>) -> Bool {
        !value.isEmpty && value.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
            default: "-._~:[]!$&'()*+,;=%".utf8.contains(byte)
            }
        }
    }

    /// Removes hop-by-hop headers, including any the Connection header names. One pass over the
    /// headers, comparing bytes case-insensitively (no lowercased copies), so the usual message costs
    /// no allocation and no removal at all.
    static func stripHopByHop(_ headers: inout HTTPHeaders) {
        var found: [String] = []
        for (name, value) in headers {
            guard let canonical = hopByHopName(name.utf8) else { continue }
            found.append(canonical)
            guard canonical == "connection" else { continue }
            for token in value.headerListItems {
                // `close` and `keep-alive` (what backends send) name no header worth a removal pass.
                if token.utf8.equalsLowercaseASCII("close") || token.utf8.equalsLowercaseASCII("keep-alive") { continue }
                found.append(token.lowercased())
            }
        }
        for name in found { headers.remove(name: name) }
    }

    /// The lower-case hop-by-hop name `name` is, if it is one (connection, keep-alive, proxy-connection,
    /// te, trailer, transfer-encoding, upgrade, proxy-authenticate, proxy-authorization); the length
    /// picks the one candidate to compare with.
    private static func hopByHopName(_ name: some Collection<UInt8>) -> String? {
        let candidate: String
        switch name.count {
        case 2: candidate = "te"
        case 7: candidate = name.first.map { $0 | 0x20 } == UInt8(ascii: "u") ? "upgrade" : "trailer"
        case 10: candidate = name.first.map { $0 | 0x20 } == UInt8(ascii: "c") ? "connection" : "keep-alive"
        case 16: candidate = "proxy-connection"
        case 17: candidate = "transfer-encoding"
        case 18: candidate = "proxy-authenticate"
        case 19: candidate = "proxy-authorization"
        default: return nil
        }
        return name.equalsLowercaseASCII(candidate) ? candidate : nil
    }

    /// Hop-by-hop, but neither Connection (its tokens need reading) nor Transfer-Encoding (the fast
    /// lane forwards a chunked body as it came, framing included).
    static func isHopByHopExceptFraming(_ name: some Collection<UInt8>) -> Bool {
        switch hopByHopName(name) {
        case nil, "connection", "transfer-encoding": false
        default: true
        }
    }

    /// The protocol an HTTP/1.1 request asks to switch to (`Upgrade` named by `Connection`), if any.
    static func upgradeRequest(_ headers: HTTPHeaders) -> String? {
        guard let upgrade = headers.first(name: "upgrade"),
              headers["connection"].contains(where: { $0.containsToken("upgrade") }) else { return nil }
        return upgrade
    }

    /// Removes grpc-status, grpc-message and grpc-status-details-bin from response headers and returns
    /// them, or nil when there is no grpc-status.
    static func takeGRPCStatus(from headers: inout HTTPHeaders) -> HTTPHeaders? {
        guard headers.contains(name: "grpc-status") else { return nil }
        var taken = HTTPHeaders()
        for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
            for value in headers[name] { taken.add(name: name, value: value) }
            headers.remove(name: name)
        }
        return taken
    }

    /// `set` replaces, `add` appends to an existing value with a comma (one field, as the conformance
    /// suite expects), `remove` deletes; names compare case-insensitively.
    /// Generic so that the fast lane's field lines follow this one implementation too.
    static func apply<Fields: EditableFields>(_ edits: HeaderEdits, to headers: inout Fields) {
        for header in edits.set { headers.replaceOrAdd(name: header.name, value: header.value) }
        for header in edits.add {
            let existing = headers.values(named: header.name)
            if existing.isEmpty {
                headers.add(name: header.name, value: header.value)
            } else {
                headers.replaceOrAdd(name: header.name, value: (existing + [header.value]).joined(separator: ","))
            }
        }
        for name in edits.remove { headers.remove(name: name) }
    }
}

/// What `HeaderRules.apply` needs of a list of fields, with HTTPHeaders' meaning: names compare
/// case-insensitively, `replaceOrAdd` removes every field of the name and appends one, `add` appends.
protocol EditableFields {
    func values(named name: String) -> [String]
    mutating func add(name: String, value: String)
    mutating func replaceOrAdd(name: String, value: String)
    mutating func remove(name: String)
}

extension HTTPHeaders: EditableFields {
    func values(named name: String) -> [String] { self[name] }
}

extension Collection<UInt8> {
    /// ASCII case-insensitive equality with a lowercase ASCII string, without allocating.
    @inline(__always)
    func equalsLowercaseASCII(_ lowercase: String) -> Bool {
        guard count == lowercase.utf8.count else { return false }
        return zip(self, lowercase.utf8).allSatisfy { ($0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0) == $1 }
    }
}

extension String {
    @inline(__always)
    func equalsLowercaseASCII(_ lowercase: String) -> Bool { utf8.equalsLowercaseASCII(lowercase) }

    /// The non-empty items of a comma-separated header value, spaces and tabs trimmed.
    var headerListItems: some Sequence<Substring> {
        utf8.split(separator: UInt8(ascii: ",")).lazy.map { Substring($0).trimmingSpaces() }.filter { !$0.isEmpty }
    }

    /// Whether a comma-separated header value lists `token` (lowercase), ignoring case and spaces.
    func containsToken(_ token: String) -> Bool {
        headerListItems.contains { $0.utf8.equalsLowercaseASCII(token) }
    }
}

extension HTTPVersion {
    var isHTTP10OrOlder: Bool { major < 1 || (major == 1 && minor == 0) }
}
