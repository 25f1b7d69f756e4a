import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// The few Kubernetes REST calls archway makes, on async-http-client: get, list, watch, create,
/// update and merge-patch. Hand-written because no Swift Kubernetes client is available; it speaks
/// JSON only and knows nothing of kinds beyond the paths `KubeKind` gives it.
public final class KubeClient: Sendable {
    public let connection: KubeConnection
    private let http: HTTPClient

    public struct Response: Sendable {
        public var status: Int
        public var body: Data
        /// The body as a JSON object, or nil.
        public var object: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }
        /// A `metav1.Status` failure's message, or the body's first 200 bytes.
        public var message: String {
            (object?["message"] as? String) ?? String(decoding: body.prefix(200), as: UTF8.self)
        }
    }

    public struct RequestError: Error, CustomStringConvertible {
        public var method: String
        public var path: String
        public var status: Int
        public var message: String
        public var description: String { "\(method) \(path): HTTP \(status): \(message)" }
    }

    public init(connection: KubeConnection) throws {
        self.connection = connection
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: connection.server.hasPrefix("https") ? try connection.tlsConfiguration() : nil,
            timeout: .init(connect: .seconds(10), read: nil))
        configuration.httpVersion = .automatic
        // Every watch holds a request open. Over TLS the API server speaks HTTP/2 and they share one
        // connection; over HTTP/1.1 each needs its own, so the pool must not queue them behind each other.
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 512)
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func shutdown() async {
        try? await http.shutdown()
    }

    func url(_ path: String, query: [(String, String)]) -> String {
        var components = URLComponents()
        components.percentEncodedPath = path
        if !query.isEmpty { components.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) } }
        // URLQueryItem leaves '+' and '=' alone inside values; selectors need them escaped.
        let encodedQuery = components.percentEncodedQuery?
            .replacingOccurrences(of: "+", with: "%2B")
        components.percentEncodedQuery = encodedQuery
        return connection.server + (components.string ?? path)
    }

    private func request(_ method: HTTPMethod, _ path: String, query: [(String, String)], body: Data?, contentType: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url(path, query: query))
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "archway")
        if let token = connection.currentToken() { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(data: body))
        }
        return request
    }

    /// One request, its whole answer read (at most 64 MiB: a large cluster's list).
    public func send(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: Data? = nil,
                     contentType: String = "application/json", timeout: TimeAmount = .seconds(60)) async throws -> Response {
        let response = try await http.execute(request(method, path, query: query, body: body, contentType: contentType), timeout: timeout)
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return Response(status: Int(response.status.code), body: Data(buffer: bytes))
    }

    /// Sends and fails unless the answer is 2xx.
    @discardableResult
    public func expectOK(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: Data? = nil,
                         contentType: String = "application/json") async throws -> Response {
        let response = try await send(method, path, query: query, body: body, contentType: contentType)
        guard (200..<300).contains(response.status) else {
            throw RequestError(method: method.rawValue, path: path, status: response.status, message: response.message)
        }
        return response
    }

    /// A watch: the answer's status, then its newline-delimited JSON events as they arrive.
    public func watch(_ path: String, query: [(String, String)], timeout: TimeAmount) async throws -> (status: Int, lines: AsyncThrowingStream<Data, any Error>) {
        let response = try await http.execute(request(.GET, path, query: query, body: nil, contentType: ""), timeout: timeout)
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            let bytes = try await response.body.collect(upTo: 1 << 20)
            return (status, AsyncThrowingStream { $0.yield(Data(buffer: bytes)); $0.finish() })
        }
        let body = response.body
        let lines = AsyncThrowingStream<Data, any Error> { continuation in
            let task = Task {
                var pending = Data()
                do {
                    for try await chunk in body {
                        pending.append(contentsOf: chunk.readableBytesView)
                        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                            let line = pending[pending.startIndex..<newline]
                            if !line.isEmpty { continuation.yield(Data(line)) }
                            pending.removeSubrange(pending.startIndex...newline)
                        }
                    }
                    if !pending.isEmpty { continuation.yield(pending) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
        return (status, lines)
    }
}
