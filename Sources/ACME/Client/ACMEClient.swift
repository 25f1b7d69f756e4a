import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOSSL

/// One ACME account at one CA (RFC 8555). An actor because the nonce is shared state: each response
/// leaves the next request's nonce, and two requests must never send the same one.
///
/// The caller owns `httpClient` (and shuts it down); `makeHTTPClient(trustRootsPEM:)` makes one that
/// trusts a private CA's root, as a test CA or an internal step-ca needs.
public actor ACMEClient {
    public nonisolated let directoryURL: String
    public nonisolated let accountKey: ACMEAccountKey
    public nonisolated let polling: PollingPolicy
    let http: HTTPClient

    private var cachedDirectory: ACMEDirectory?
    private var nonce: String?
    /// Known once `createAccount` or `findExistingAccount` succeeded; every later request is signed with it as `kid`.
    public private(set) var accountURL: String?

    public init(directoryURL: String, accountKey: ACMEAccountKey, httpClient: HTTPClient, polling: PollingPolicy = PollingPolicy()) {
        self.directoryURL = directoryURL
        self.accountKey = accountKey
        self.http = httpClient
        self.polling = polling
    }

    /// An HTTP client for ACME: no redirects (ACME URLs are exact), bounded timeouts, and when
    /// `trustRootsPEM` is given only those roots are trusted for the directory's TLS.
    public static func makeHTTPClient(trustRootsPEM: String? = nil) throws -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let trustRootsPEM {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(trustRootsPEM.utf8)))
        }
        let configuration = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(10), read: .seconds(30)))
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    public func directory() async throws -> ACMEDirectory {
        if let cachedDirectory { return cachedDirectory }
        let response = try await send(.GET, directoryURL)
        guard response.status == 200 else { throw problem(in: response) }
        let directory = try decode(ACMEDirectory.self, from: response)
        cachedDirectory = directory
        return directory
    }

    // MARK: Requests

    /// A signed POST (RFC 8555 §6.2). `payload` nil is POST-as-GET. A `badNonce` is retried once with
    /// the fresh nonce that came with the refusal: the RFC makes it retryable, and a CA may reject any nonce.
    func post(_ url: String, payload: Data?, signer: JWSSigner? = nil, accept: String? = nil) async throws -> ACMEResponse {
        let signer = try signer ?? accountSigner()
        var retriedBadNonce = false
        while true {
            let nonce = try await takeNonce()
            let body = try JWS.sign(payload: payload, url: url, nonce: nonce, signer: signer, key: accountKey)
            let response = try await send(.POST, url, body: body, accept: accept)
            if response.status < 400 { return response }
            let failure = problem(in: response)
            if let problem = failure as? ACMEProblem, problem.isBadNonce, !retriedBadNonce {
                retriedBadNonce = true
                continue
            }
            throw failure
        }
    }

    func post<Payload: Encodable>(_ url: String, json payload: Payload, signer: JWSSigner? = nil) async throws -> ACMEResponse {
        try await post(url, payload: try JWS.encoder.encode(payload), signer: signer)
    }

    private func accountSigner() throws -> JWSSigner {
        guard let accountURL else { throw ACMEClientError.noAccount }
        return .kid(accountURL)
    }

    /// The nonce the last response left, or a fresh one from newNonce; taken so no other request reuses it.
    private func takeNonce() async throws -> String {
        if let nonce {
            self.nonce = nil
            return nonce
        }
        let newNonceURL = try await directory().newNonce
        let response = try await send(.HEAD, newNonceURL)
        guard let fresh = response.headers.first(name: "Replay-Nonce") else {
            throw ACMEClientError.missingHeader("Replay-Nonce", url: newNonceURL)
        }
        // `send` stored it as the next nonce too; taking it here keeps it single-use.
        self.nonce = nil
        return fresh
    }

    func send(_ method: HTTPMethod, _ url: String, body: Data? = nil, accept: String? = nil) async throws -> ACMEResponse {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "User-Agent", value: "archway-acme")
        if let accept { request.headers.add(name: "Accept", value: accept) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/jose+json")
            request.body = .bytes(ByteBuffer(data: body))
        }
        let response = try await http.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 4 << 20)
        if let replayNonce = response.headers.first(name: "Replay-Nonce") { nonce = replayNonce }
        return ACMEResponse(status: Int(response.status.code), headers: response.headers, body: Data(buffer: bytes), url: url)
    }

    /// The error a failed response stands for: the problem document when there is one (RFC 8555 §6.7).
    func problem(in response: ACMEResponse) -> any Error {
        if let document = try? JSONDecoder().decode(ACMEProblem.Document.self, from: response.body), document.type != nil {
            return ACMEProblem(document: document, url: response.url, retryAfter: response.retryAfter)
        }
        return ACMEClientError.unexpectedResponse(url: response.url, status: response.status,
                                                  body: String(decoding: response.body, as: UTF8.self))
    }

    func decode<Value: Decodable>(_ type: Value.Type, from response: ACMEResponse) throws -> Value {
        do {
            return try JSONDecoder().decode(type, from: response.body)
        } catch {
            throw ACMEClientError.unexpectedResponse(url: response.url, status: response.status,
                                                     body: String(decoding: response.body, as: UTF8.self))
        }
    }

    func rememberAccount(_ url: String) { accountURL = url }
}

struct ACMEResponse: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: Data
    var url: String

    var location: String? { headers.first(name: "Location") }
    var retryAfter: Duration? { RetryAfter.parse(headers.first(name: "Retry-After")) }
}
