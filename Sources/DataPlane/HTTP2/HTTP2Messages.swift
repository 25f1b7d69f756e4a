import NIOHPACK
import NIOHTTP1

/// HTTP/2 header blocks to and from the request and response heads the request phases and the
/// upstream attempt work with, by the rules NIOHTTP2's HTTP/1 codec applied when each stream had
/// one. NIOHTTP2Handler has already validated every received block (RFC 9113 §8.2/§8.3: pseudo
/// fields first and once each, the mandatory ones present, no uppercase or connection-specific field
/// names, no CR/LF/NUL): what is left is what the HTTP/1 side cannot carry.
enum HTTP2Messages {
    /// The request head of a stream's first HEADERS; nil for a request the codec refused too (no
    /// `:authority`, or a CONNECT, which has no `:path`), which is answered with a stream error.
    static func requestHead(_ block: HPACKHeaders, endStream: Bool) -> HTTPRequestHead? {
        var method: String?
        var path: String?
        var authority: String?
        var hasScheme = false
        var hasHost = false
        var hasLength = false
        var regular = 0
        for (name, value, _) in block {
            switch name {
            case ":method": method = value
            case ":path": path = value
            case ":authority": authority = value
            case ":scheme": hasScheme = true
            case "host": hasHost = true; regular += 1
            case "content-length": hasLength = true; regular += 1
            default: regular += 1
            }
        }
        guard let method, let path, let authority, hasScheme else { return nil }
        let httpMethod = HTTPMethod(rawValue: method)
        var fields: [(String, String)] = []
        fields.reserveCapacity(regular + 2)
        if !hasHost { fields.append(("host", authority)) }
        switch httpMethod {
        case .GET, .HEAD, .DELETE, .CONNECT, .TRACE:
            break  // no body is expected: none is announced
        default:
            // The backend connection is HTTP/1: a body's framing must be said there.
            if !hasLength { fields.append(endStream ? ("content-length", "0") : ("transfer-encoding", "chunked")) }
        }
        for (name, value, _) in block where name.utf8.first != UInt8(ascii: ":") { fields.append((name, value)) }
        return HTTPRequestHead(version: .http2, method: httpMethod, uri: path, headers: HTTPHeaders(fields))
    }

    /// Request trailers: the regular fields of a stream's second HEADERS.
    static func trailers(_ block: HPACKHeaders) -> HTTPHeaders {
        HTTPHeaders(block.compactMap { $0.name.utf8.first == UInt8(ascii: ":") ? nil : ($0.name, $0.value) })
    }

    /// A response head as a HEADERS block: `:status` first, names lowercased, and the fields that
    /// only mean something on an HTTP/1 connection (Connection and what it names, Keep-Alive,
    /// Transfer-Encoding, Upgrade, Proxy-Connection) left out, by NIOHPACK's normalisation.
    static func responseBlock(_ head: HTTPResponseHead) -> HPACKHeaders {
        var fields = HTTPHeaders()
        fields.reserveCapacity(head.headers.count + 1)
        fields.add(name: ":status", value: String(head.status.code))
        fields.add(contentsOf: head.headers)
        return HPACKHeaders(httpHeaders: fields)
    }

    /// A gRPC local answer as one HEADERS frame that ends the stream: gRPC's Trailers-Only form.
    static func grpcTrailersOnly(_ answer: LocalAnswer) -> HPACKHeaders {
        let (head, trailers) = answer.grpcResponse(version: .http2)
        var block = responseBlock(head)
        block.add(contentsOf: HPACKHeaders(httpHeaders: trailers))
        return block
    }
}
