import NIOHTTP1

/// X-Forwarded-For/-Proto/-Host and RFC 7239 Forwarded. The client address is appended to any chain
/// the client sent (archway is not told which hops to trust yet, so it never replaces the chain).
enum ForwardedHeaders {
    static func add(to headers: inout HTTPHeaders, client: String, host: String, proto: String) {
        let existing = headers[canonicalForm: "x-forwarded-for"].joined(separator: ", ")
        headers.replaceOrAdd(name: "x-forwarded-for", value: existing.isEmpty ? client : "\(existing), \(client)")
        headers.replaceOrAdd(name: "x-forwarded-proto", value: proto)
        if !host.isEmpty { headers.replaceOrAdd(name: "x-forwarded-host", value: host) }
        let node = client.contains(":") ? "\"[\(client)]\"" : client
        var element = "for=\(node);proto=\(proto)"
        if !host.isEmpty { element += ";host=\"\(host)\"" }
        let forwarded = headers[canonicalForm: "forwarded"].joined(separator: ", ")
        headers.replaceOrAdd(name: "forwarded", value: forwarded.isEmpty ? element : "\(forwarded), \(element)")
    }
}
