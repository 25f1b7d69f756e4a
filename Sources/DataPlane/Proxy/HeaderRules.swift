import NIOHTTP1
import RoutingTable

/// Header handling shared by requests and responses: hop-by-hop removal (RFC 9110 §7.6.1) and the
/// Gateway API header modifier semantics.
enum HeaderRules {
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
        "proxy-authenticate", "proxy-authorization",
    ]

    /// Removes hop-by-hop headers, including any the Connection header names. One pass finds them
    /// (comparing lengths before case-insensitive text), so the usual message costs no removal.
    static func stripHopByHop(_ headers: inout HTTPHeaders) {
        var found: [String] = []
        for (name, value) in headers {
            guard hopByHopLengths.contains(name.utf8.count) else { continue }
            let lower = name.lowercased()
            guard hopByHop.contains(lower) else { continue }
            found.append(lower)
            if lower == "connection" {
                for token in value.split(separator: ",") {
                    let named = token.trimmingSpaces().lowercased()
                    if !named.isEmpty { found.append(named) }
                }
            }
        }
        for name in found { headers.remove(name: name) }
    }

    private static let hopByHopLengths = Set(hopByHop.map(\.utf8.count))

    /// `set` replaces, `add` appends to an existing value with a comma (one field, as the conformance
    /// suite expects), `remove` deletes; names compare case-insensitively.
    static func apply(_ edits: HeaderEdits, to headers: inout HTTPHeaders) {
        for header in edits.set { headers.replaceOrAdd(name: header.name, value: header.value) }
        for header in edits.add {
            let existing = headers[header.name]
            if existing.isEmpty {
                headers.add(name: header.name, value: header.value)
            } else {
                headers.replaceOrAdd(name: header.name, value: (existing + [header.value]).joined(separator: ","))
            }
        }
        for name in edits.remove { headers.remove(name: name) }
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        String(self.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

