import NIOCore
import NIOHTTP1

/// X-Forwarded-For/-Proto/-Host and RFC 7239 Forwarded. The client address is appended to any chain
/// the client sent (archway is not told which hops to trust yet, so it never replaces the chain);
/// -Proto and -Host always describe this hop, whatever the client claimed. Both paths write these
/// fields through this type alone: the general path into HTTPHeaders, the fast lane as bytes.
enum ForwardedHeaders {
    /// `client` as a Forwarded `for=` node: IPv6 addresses quoted in brackets (RFC 7239 §6).
    static func node(client: String) -> String {
        client.utf8.contains(UInt8(ascii: ":")) ? "\"[\(client)]\"" : client
    }

    /// The fields of a request that came with none of its own (the usual one): four appends, no scans.
    /// `node` is `node(client:)`, worked out once per connection.
    static func appendFresh<Fields: FieldAppending>(to fields: inout Fields, client: String, node: String, host: String, proto: String) {
        fields.append(field: "x-forwarded-for", client)
        fields.append(field: "x-forwarded-proto", proto)
        if host.isEmpty {
            fields.append(field: "forwarded", "for=", node, ";proto=", proto)
        } else {
            fields.append(field: "x-forwarded-host", host)
            fields.append(field: "forwarded", "for=", node, ";proto=", proto, ";host=\"", host, "\"")
        }
    }

    /// This hop merged into the chain the client sent.
    static func merge<Fields: EditableFields>(into fields: inout Fields, client: String, node: String, host: String, proto: String) {
        append(client, to: "x-forwarded-for", in: &fields)
        fields.replaceOrAdd(name: "x-forwarded-proto", value: proto)
        if !host.isEmpty { fields.replaceOrAdd(name: "x-forwarded-host", value: host) }
        append(host.isEmpty ? "for=\(node);proto=\(proto)" : "for=\(node);proto=\(proto);host=\"\(host)\"", to: "forwarded", in: &fields)
    }

    static func add(to headers: inout HTTPHeaders, client: String, node: String, host: String, proto: String) {
        if clientSentAny(headers) {
            merge(into: &headers, client: client, node: node, host: host, proto: proto)
        } else {
            appendFresh(to: &headers, client: client, node: node, host: host, proto: proto)
        }
    }

    /// Whether a field name is one of the four: a request carrying any of them has its chain merged.
    static func isForwardingField<Name: Collection<UInt8>>(_ name: Name) -> Bool {
        switch name.count {
        case 9: name.equalsLowercaseASCII("forwarded")
        case 15: name.equalsLowercaseASCII("x-forwarded-for")
        case 16: name.equalsLowercaseASCII("x-forwarded-host")
        case 17: name.equalsLowercaseASCII("x-forwarded-proto")
        default: false
        }
    }

    /// Whether any Forwarded or X-Forwarded-* header came with the request: one pass, bytes compared.
    private static func clientSentAny(_ headers: HTTPHeaders) -> Bool {
        headers.contains { name, _ in isForwardingField(name.utf8) }
    }

    private static func append<Fields: EditableFields>(_ value: String, to name: String, in fields: inout Fields) {
        let existing = fields.values(named: name)
        if existing.isEmpty {
            fields.add(name: name, value: value)
        } else {
            fields.replaceOrAdd(name: name, value: (existing + [value]).joined(separator: ", "))
        }
    }
}

/// Where a request's new fields are appended: HTTPHeaders on the general path, the upstream request's
/// bytes on the fast lane. A value given in pieces is written as their concatenation.
protocol FieldAppending {
    mutating func append(field name: StaticString, _ value: String...)
}

extension HTTPHeaders: FieldAppending {
    mutating func append(field name: StaticString, _ value: String...) {
        add(name: "\(name)", value: value.count == 1 ? value[0] : value.joined())
    }
}

extension ByteBuffer: FieldAppending {
    mutating func append(field name: StaticString, _ value: String...) {
        writeStaticString(name)
        writeStaticString(": ")
        for piece in value { writeString(piece) }
        writeStaticString("\r\n")
    }
}
