import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import RoutingTable

/// Traefik's ForwardAuth / nginx's auth_request: every request is first shown to an auth service (its
/// chosen headers, plus X-Forwarded-Method/-Proto/-Host/-Uri/-For). A 2xx lets it through with the
/// chosen answer headers added; any other answer is what the client gets, status, headers and body.
final class ForwardAuthGuard: EdgeGuard {
    private let spec: ForwardAuthRule
    /// Headers of the auth service's refusal that describe its own message, not the client's request.
    private static let refusalHeaders: Set<String> = ["www-authenticate", "location", "content-type", "set-cookie", "retry-after", "cache-control"]
    private static let bodyLimit = 64 * 1024

    init(_ spec: ForwardAuthRule) {
        self.spec = spec
    }

    func check(_ request: EdgeRequest) -> EdgeDecision {
        var outbound = HTTPClientRequest(url: spec.url)
        outbound.method = .GET
        for name in spec.requestHeaders {
            for value in request.headerValues(name) { outbound.headers.add(name: name, value: value) }
        }
        let uri = request.query.map { "\(request.path)?\($0)" } ?? String(request.path)
        outbound.headers.replaceOrAdd(name: "x-forwarded-method", value: request.method)
        outbound.headers.replaceOrAdd(name: "x-forwarded-proto", value: request.scheme)
        outbound.headers.replaceOrAdd(name: "x-forwarded-host", value: request.host)
        outbound.headers.replaceOrAdd(name: "x-forwarded-uri", value: uri)
        outbound.headers.replaceOrAdd(name: "x-forwarded-for", value: request.peerAddress)
        let outboundRequest = outbound
        return .later { [spec] resume in
            Task {
                do {
                    let response = try await HTTPClient.shared.execute(outboundRequest, timeout: .milliseconds(Int64(spec.timeoutMillis)))
                    if (200..<300).contains(Int(response.status.code)) {
                        var edits = EdgeEdits()
                        for name in spec.responseHeaders {
                            edits.removeHeaders.append(name)
                            for value in response.headers[name] { edits.setHeaders.append((name, value)) }
                        }
                        resume(.pass(edits))
                        return
                    }
                    let body = try await response.body.collect(upTo: Self.bodyLimit)
                    let headers = response.headers.filter { Self.refusalHeaders.contains($0.name.lowercased()) }.map { (name: $0.name.lowercased(), value: $0.value) }
                    let text = String(buffer: body)
                    // The auth service's own answer is what the client gets: it chose what to say.
                    resume(.refuse(EdgeRefusal(status: Int(response.status.code),
                                               message: text.isEmpty ? "refused by the authentication service" : text,
                                               detail: "\(spec.policy): refused by the auth service (\(response.status.code))",
                                               headers: headers)))
                } catch {
                    if spec.failOpen { return resume(.pass(EdgeEdits())) }
                    resume(.refuse(EdgeRefusal(status: 503, message: "authentication service unavailable",
                                               detail: "\(spec.policy): auth service \(spec.url) unavailable: \(error)")))
                }
            }
        }
    }
}
