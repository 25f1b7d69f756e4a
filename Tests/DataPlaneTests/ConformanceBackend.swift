import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Testing

/// A backend standing for upstream's echo server (conformance/echo-basic): it answers JSON like
/// EchoServer's (name, path, host, headers), sets the response headers a request's
/// X-Echo-Set-Header asks for ("Name:value,Name:value"), answers after `?delay=` (e.g. 1s, 500ms),
/// fails a request of `?uuid=` with `responseCode` its first `succeedAfter` times (after `delayRetry`), and remembers
/// every request.
final class ConformanceBackend: Sendable {
    struct Seen: Sendable {
        var path: String
        var query: String
        var headers: [String: String]
    }
    let name: String
    private let seen = NIOLockedValueBox<[Seen]>([])
    private let listener = LoopbackHTTPListener()

    init(name: String) { self.name = name }

    var requests: [Seen] { seen.withLockedValue { $0 } }

    func start(group: any EventLoopGroup) async throws -> Int {
        try await listener.start(group: group) { ConformanceBackendHandler(backend: self) }
    }

    func stop() async { await listener.stop() }

    fileprivate func record(_ entry: Seen) { seen.withLockedValue { $0.append(entry) } }

    /// How many requests with query parameter uuid=`id` came before this one.
    private let attempts = NIOLockedValueBox<[String: Int]>([:])
    fileprivate func attempt(_ id: String) -> Int {
        attempts.withLockedValue { counts in
            defer { counts[id, default: 0] += 1 }
            return counts[id, default: 0]
        }
    }
}

private final class ConformanceBackendHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let backend: ConformanceBackend
    var head: HTTPRequestHead?

    init(backend: ConformanceBackend) { self.backend = backend }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            let parts = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            let path = String(parts[0])
            let query = parts.count > 1 ? String(parts[1]) : ""
            var headers: [String: String] = [:]
            for (name, value) in head.headers {
                let key = name.lowercased()
                headers[key] = headers[key].map { "\($0),\(value)" } ?? value
            }
            backend.record(.init(path: path, query: query, headers: headers))
            let object: [String: Any] = ["name": backend.name, "path": path, "query": query, "host": head.headers.first(name: "host") ?? "", "headers": headers]
            let body = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
            var responseHeaders = HTTPHeaders([("content-type", "application/json"), ("content-length", String(body.count)), ("x-echo-name", backend.name)])
            for item in (head.headers.first(name: "x-echo-set-header") ?? "").split(separator: ",") {
                let pair = item.split(separator: ":", maxSplits: 1)
                if pair.count == 2 { responseHeaders.add(name: String(pair[0]), value: String(pair[1])) }
            }
            var delay = TimeAmount.zero
            for item in query.split(separator: "&") where item.hasPrefix("delay=") {
                let value = item.dropFirst("delay=".count)
                if value.hasSuffix("ms") { delay = .milliseconds(Int64(value.dropLast(2)) ?? 0) }
                else if value.hasSuffix("s") { delay = .seconds(Int64(value.dropLast()) ?? 0) }
            }
            var status = HTTPResponseStatus.ok
            let fields = Dictionary(query.split(separator: "&").map { item -> (String, String) in
                let pair = item.split(separator: "=", maxSplits: 1)
                return (String(pair[0]), pair.count > 1 ? String(pair[1]) : "")
            }, uniquingKeysWith: { first, _ in first })
            if let id = fields["uuid"], let code = fields["responseCode"].flatMap(Int.init), let after = fields["succeedAfter"].flatMap(Int.init),
               backend.attempt(id) < after {
                status = HTTPResponseStatus(statusCode: code)
                if let value = fields["delayRetry"], value.hasSuffix("ms") { delay = .milliseconds(Int64(value.dropLast(2)) ?? 0) }
            }
            let response = HTTPResponseHead(version: .http1_1, status: status, headers: responseHeaders)
            let bound = NIOLoopBound((context, self), eventLoop: context.eventLoop)
            let buffer = context.channel.allocator.buffer(bytes: body)
            context.eventLoop.scheduleTask(in: delay) {
                let (context, handler) = bound.value
                context.write(handler.wrapOutboundOut(.head(response)), promise: nil)
                context.write(handler.wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
                context.writeAndFlush(handler.wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
