import NIOHTTP1
import Tracing

/// Spans for proxied requests when an OTLP endpoint is configured: the caller's trace context is
/// extracted from the request, archway's server span is started under it and injected into the
/// request to the backend (replacing the traceparent archway would otherwise make up), and the span
/// ends with the response, carrying the route, backend and status.
struct RequestTracing: Sendable {
    let tracer: any Tracer

    /// `field` gives the first value of a request field (lower-case name): from HTTPHeaders on the
    /// general path, from the scanned bytes on the fast lane.
    func start(method: String, host: String, path: Substring, field: (String) -> String?) -> any Span {
        var context = ServiceContext.topLevel
        withoutActuallyEscaping(field) { field in
            tracer.extract(FieldLookup(first: field), into: &context, using: LookupExtractor())
        }
        let span = tracer.startSpan("\(method) \(host)", context: context, ofKind: .server)
        span.attributes["http.request.method"] = method
        span.attributes["url.path"] = String(path)
        span.attributes["server.address"] = host
        return span
    }

    /// Replaces the traceparent with the span's context, in HTTPHeaders or the lane's field lines.
    func inject<Fields: EditableFields>(_ span: any Span, into fields: inout Fields) {
        fields.remove(name: "traceparent")
        tracer.inject(span.context, into: &fields, using: FieldsInjector<Fields>())
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

/// Only ever used inside `start`, on the calling thread (the carrier must be Sendable to qualify).
private struct FieldLookup: @unchecked Sendable {
    let first: (String) -> String?
}

private struct LookupExtractor: Extractor {
    func extract(key: String, from carrier: FieldLookup) -> String? { carrier.first(key.lowercased()) }
}

private struct FieldsInjector<Fields: EditableFields>: Injector {
    func inject(_ value: String, forKey key: String, into fields: inout Fields) {
        fields.replaceOrAdd(name: key, value: value)
    }
}
