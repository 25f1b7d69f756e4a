import NIOHTTP1
import RoutingTable

/// The request as archway will reason about it: within the client limits, framed unambiguously, its
/// host and path in their normal form, and its identity (request id, span) settled. A request refused
/// here also closes its connection: nothing behind it on the connection can be trusted.
enum NormalisePhase {
    static func run(_ request: inout RequestContext, loop: EventLoopContext) -> PhaseDecision {
        let head = request.head
        if let (status, why) = limitExceeded(head, limits: loop.limits) {
            return .answer(LocalAnswer(status, why, closesConnection: true))
        }
        if let why = HeaderRules.framingProblem(head) {
            return .answer(LocalAnswer(.badRequest, why, closesConnection: true))
        }
        let host = routingHost(head.headers.first(name: "host") ?? "")
        let (rawPath, query) = PathRules.split(head.uri)
        request.record.requestID = RequestIdentity.requestID(head.headers, loop: loop)
        if loop.accessLog != nil {
            request.record.host = host
            request.record.path = rawPath
            request.record.tenantHeader = head.headers.first(name: "x-tenant")
        }
        let path: Substring
        switch PathNormalization.normalize(rawPath) {
        case .success(let normalized): path = normalized
        case .failure(let refusal):
            return .answer(LocalAnswer(.badRequest, "\(refusal.reason): \(rawPath)", closesConnection: true))
        }
        if loop.accessLog != nil { request.record.path = path }
        if let tracing = loop.tracing {
            let headers = head.headers
            request.record.span = tracing.start(method: head.method.rawValue, host: host, path: path) { headers.first(name: $0) }
        }
        request.host = host
        request.path = path
        request.query = query
        return .continue
    }

    /// Request size limits, checked before anything is forwarded.
    static func limitExceeded(_ head: HTTPRequestHead, limits: ClientLimits) -> (HTTPResponseStatus, String)? {
        if head.uri.utf8.count > limits.maxURIBytes {
            return (.uriTooLong, "request target is \(head.uri.utf8.count) bytes; the limit is \(limits.maxURIBytes)")
        }
        if head.headers.count > limits.maxHeaderCount {
            return (.requestHeaderFieldsTooLarge, "request has \(head.headers.count) header fields; the limit is \(limits.maxHeaderCount)")
        }
        var bytes = head.uri.utf8.count
        for (name, value) in head.headers { bytes += name.utf8.count + value.utf8.count + 4 }
        if bytes > limits.maxHeaderBytes {
            return (.requestHeaderFieldsTooLarge, "request head is \(bytes) bytes; the limit is \(limits.maxHeaderBytes)")
        }
        if let limit = limits.maxRequestBodyBytes, let length = head.headers.first(name: "content-length").flatMap({ Int($0) }), length > limit {
            return (.payloadTooLarge, "request body is \(length) bytes; the limit is \(limit)")
        }
        return nil
    }
}
