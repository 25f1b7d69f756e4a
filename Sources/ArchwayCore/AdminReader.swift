import AsyncHTTPClient
import Foundation
import NIOCore

/// Reads a document from a running archway's admin endpoint (`archway slo status`, `archway status
/// --admin`). Foundation's URL loading cannot fetch http:// URLs on Linux, so the project's HTTP client does.
public enum AdminReader {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// A state-changing call (`POST`): the status and body, whatever the status (the caller explains it).
    public static func post(host: String, port: Int, path: String, token: String?) async throws -> (status: Int, body: String) {
        let url = Self.url(host: host, port: port, path: path)
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        } catch {
            throw Failure(description: "cannot reach \(url): \(error) (\(hint(host: host, port: port)))")
        }
        let body = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), String(buffer: body))
    }

    /// A read whose status the caller explains (`describe --admin` prints a 404's message as it is).
    public static func fetch(host: String, port: Int, path: String) async throws -> (status: Int, body: Data) {
        let url = Self.url(host: host, port: port, path: path)
        let response: HTTPClientResponse
        do {
            // Short: the admin endpoint is local, and the client retries a refused connect until this runs out.
            response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(3))
        } catch {
            throw Failure(description: "cannot read \(url): \(error) (\(hint(host: host, port: port)))")
        }
        let body = try await response.body.collect(upTo: 64 << 20)
        return (Int(response.status.code), Data(body.readableBytesView))
    }

    /// A read that must answer 200; any other status is an error naming it.
    public static func get(host: String, port: Int, path: String) async throws -> Data {
        let (status, body) = try await fetch(host: host, port: port, path: path)
        guard status == 200 else {
            throw Failure(description: "\(url(host: host, port: port, path: path)) answered \(status) \(String(decoding: body.prefix(200), as: UTF8.self)) "
                          + "(\(hint(host: host, port: port)))")
        }
        return body
    }

    static func url(host: String, port: Int, path: String) -> String { "http://\(host.contains(":") ? "[\(host)]" : host):\(port)\(path)" }
    static func hint(host: String, port: Int) -> String { "is `archway serve` running with --admin \(host):\(port)?" }
}
