import NIOHTTP1
import Tracing

/// Spans for proxied requests when an OTLP endpoint is configured: the caller's trace context is
/// extracted from the request, archway's server span is started under it and injected into the
/// request to the backend (replacing the traceparent archway would otherwise make up), and the span
/// ends with the response, carrying the route, backend and status.
struct RequestTracing: Sendable {
    let tracer: any Tracer

    func start(_ head: HTTPRequestHead, host: String, path: Substring) -> any Span {
        var context = ServiceContext.topLevel
        tracer.extract(head.headers, into: &context, using: HeadersExtractor())
        let span = tracer.startSpan("\(head.method.rawValue) \(host)", context: context, ofKind: .server)
        span.attributes["http.request.method"] = head.method.rawValue
        span.attributes["url.path"] = String(path)
        span.attributes["server.address"] = host
        return span
    }

    func inject(_ span: any Span, into headers: inout HTTPHeaders) {
        headers.remove(name: "traceparent")
        tracer.inject(span.context, into: &headers, using: HeadersInjector())
    }
}

extension RequestTracing {
    static func end(_ span: any Span, status: Int, route: String?, gateway: String?, backend: String, upstream: String?) {
        span.attributes["http.response.status_code"] = status
        if let route { span.attributes["http.route"] = route }
        if let gateway { span.attributes["gateway.name"] = gateway }
        if !backend.isEmpty { span.attributes["gateway.backend"] = backend }
        if let upstream { span.attributes["server.upstream.address"] = upstream }
        if status >= 500 { span.setStatus(SpanStatus(code: .error, message: "HTTP \(status)")) }
        span.end()
    }
}

private struct HeadersExtractor: Extractor {
    func extract(key: String, from headers: HTTPHeaders) -> String? { headers.first(name: key) }
}

private struct HeadersInjector: Injector {
    func inject(_ value: String, forKey key: String, into headers: inout HTTPHeaders) {
        headers.replaceOrAdd(name: key, value: value)
    }
}
