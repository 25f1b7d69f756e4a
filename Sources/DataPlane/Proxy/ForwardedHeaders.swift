import NIOHTTP1

/// X-Forwarded-For/-Proto/-Host and RFC 7239 Forwarded. The client address is appended to any chain
/// the client sent (archway is not told which hops to trust yet, so it never replaces the chain);
/// -Proto and -Host always describe this hop, whatever the client claimed.
enum ForwardedHeaders {
    /// `client` as a Forwarded `for=` node: IPv6 addresses quoted in brackets (RFC 7239 §6).
    static func node(client: String) -> String {
        client.utf8.contains(UInt8(ascii: ":")) ? "\"[\(client)]\"" : client
    }

    /// `node` is `node(client:)`, worked out once per connection.
    static func add(to headers: inout HTTPHeaders, client: String, node: String, host: String, proto: String) {
        let element = host.isEmpty ? "for=\(node);proto=\(proto)" : "for=\(node);proto=\(proto);host=\"\(host)\""
        guard clientSentAny(headers) else {
            // The usual request: nothing to merge with or replace, so four appends and no scans.
            headers.add(name: "x-forwarded-for", value: client)
            headers.add(name: "x-forwarded-proto", value: proto)
            if !host.isEmpty { headers.add(name: "x-forwarded-host", value: host) }
            headers.add(name: "forwarded", value: element)
            return
        }
        append(client, to: "x-forwarded-for", in: &headers)
        headers.replaceOrAdd(name: "x-forwarded-proto", value: proto)
        if !host.isEmpty { headers.replaceOrAdd(name: "x-forwarded-host", value: host) }
        append(element, to: "forwarded", in: &headers)
    }

    /// Whether any Forwarded or X-Forwarded-* header came with the request: one pass, bytes compared.
    private static func clientSentAny(_ headers: HTTPHeaders) -> Bool {
        headers.contains { name, _ in
            switch name.utf8.count {
            case 9: name.equalsLowercaseASCII("forwarded")
            case 15: name.equalsLowercaseASCII("x-forwarded-for")
            case 16: name.equalsLowercaseASCII("x-forwarded-host")
            case 17: name.equalsLowercaseASCII("x-forwarded-proto")
            default: false
            }
        }
    }

    private static func append(_ value: String, to name: String, in headers: inout HTTPHeaders) {
        let existing = headers[name]
        if existing.isEmpty {
            headers.add(name: name, value: value)
        } else {
            headers.replaceOrAdd(name: name, value: (existing + [value]).joined(separator: ", "))
        }
    }
}
