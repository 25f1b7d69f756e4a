import NIOHTTP1

/// X-Forwarded-For/-Proto/-Host and RFC 7239 Forwarded. The client address is appended to any chain
/// the client sent (archway is not told which hops to trust yet, so it never replaces the chain);
/// -Proto and -Host always describe this hop, whatever the client claimed.
enum ForwardedHeaders {
    static func add(to headers: inout HTTPHeaders, client: String, host: String, proto: String) {
        append(client, to: "x-forwarded-for", in: &headers)
        set("x-forwarded-proto", proto, in: &headers)
        if !host.isEmpty { set("x-forwarded-host", host, in: &headers) }
        let node = client.contains(":") ? "\"[\(client)]\"" : client
        let element = host.isEmpty ? "for=\(node);proto=\(proto)" : "for=\(node);proto=\(proto);host=\"\(host)\""
        append(element, to: "forwarded", in: &headers)
    }

    /// Adds without a scan-and-remove when the header is absent, the usual case.
    private static func set(_ name: String, _ value: String, in headers: inout HTTPHeaders) {
        if headers.contains(name: name) {
            headers.replaceOrAdd(name: name, value: value)
        } else {
            headers.add(name: name, value: value)
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
