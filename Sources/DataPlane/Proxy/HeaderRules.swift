import NIOHTTP1
import RoutingTable

/// Header handling shared by requests and responses: hop-by-hop removal (RFC 9110 §7.6.1) and the
/// Gateway API header modifier semantics.
enum HeaderRules {
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
        "proxy-authenticate", "proxy-authorization",
    ]

    /// Removes hop-by-hop headers, including any the Connection header names.
    static func stripHopByHop(_ headers: inout HTTPHeaders) {
        var named: [String] = []
        for value in headers[canonicalForm: "connection"] {
            named.append(value.lowercased().trimmingSpaces())
        }
        headers.remove(name: "connection")
        for name in hopByHop { headers.remove(name: name) }
        for name in named where !name.isEmpty { headers.remove(name: name) }
    }

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

