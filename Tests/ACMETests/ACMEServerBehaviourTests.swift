import PebbleLab
import ACME
import AsyncHTTPClient
import Foundation
import Testing

/// What the client does when the CA pushes back, against a scripted CA (Pebble will not rate-limit,
/// refuse a nonce or stall on demand).
@Suite(.timeLimit(.minutes(1)))
struct ACMEServerBehaviourTests {
    private static let account = StubCA.Response(status: .created, headers: [("Location", "http://127.0.0.1/acct/1")],
                                                 body: #"{"status":"valid"}"#)

    /// A refused nonce is retried once, with the nonce that came with the refusal, and the caller sees success.
    @Test func aBadNonceIsRetriedOnceWithTheNonceTheRefusalCarried() async throws {
        let ca = try await StubCA { request, earlier in
            earlier == 0 ? StubCA.problem("badNonce", status: .badRequest, detail: "JWS has an invalid anti-replay nonce") : Self.account
        }
        try await withServer(ca) { ca in
            try await withStubClient(ca) { client in
                let account = try await client.createAccount(contactEmails: [], termsOfServiceAgreed: true)
                #expect(account.url == "http://127.0.0.1/acct/1")
            }
        }
        let posts = ca.recorded.filter { $0.method == .POST }
        #expect(posts.count == 2)
        #expect(posts[0].nonce != posts[1].nonce)
    }

    /// `rateLimited` reaches the caller with the server's Retry-After, so it can back off that long.
    @Test func rateLimitedCarriesRetryAfterAndNamesTypeDetailAndURL() async throws {
        let ca = try await StubCA { request, _ in
            request.path == "/account" ? Self.account
                : StubCA.problem("rateLimited", status: .tooManyRequests, detail: "too many new orders recently",
                                 headers: [("Retry-After", "120")])
        }
        try await withServer(ca) { ca in
            try await withStubClient(ca) { client in
                _ = try await client.createAccount(contactEmails: [], termsOfServiceAgreed: true)
                let problem = await #expect(throws: ACMEProblem.self) { try await client.newOrder(for: ["a.example.com"]) }
                #expect(problem?.isRateLimited == true)
                #expect(problem?.retryAfter == .seconds(120))
                let description = problem?.description ?? ""
                #expect(description.contains("urn:ietf:params:acme:error:rateLimited"))
                #expect(description.contains("too many new orders recently"))
                #expect(description.contains("\(ca.port)/order"))
            }
        }
        // A rate limit is not retried: asking again at once would only extend it.
        #expect(ca.recorded.filter { $0.method == .POST && $0.path == "/order" }.count == 1)
    }

    /// A compound problem says which of the order's names the CA refused and why.
    @Test func subproblemsNameTheRefusedIdentifier() async throws {
        let ca = try await StubCA { request, _ in
            request.path == "/account" ? Self.account
                : StubCA.Response(status: .badRequest, headers: [("Content-Type", "application/problem+json")], body: """
                    {"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"some names were refused","status":400,
                     "subproblems":[{"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"forbidden by policy",
                                     "identifier":{"type":"dns","value":"bad.example.net"}}]}
                    """)
        }
        try await withServer(ca) { ca in
            try await withStubClient(ca) { client in
                _ = try await client.createAccount(contactEmails: [], termsOfServiceAgreed: true)
                let problem = await #expect(throws: ACMEProblem.self) {
                    try await client.newOrder(for: ["good.example.com", "bad.example.net"])
                }
                #expect(problem?.shortType == "rejectedIdentifier")
                #expect(problem?.subproblems.map { $0.identifier?.value } == ["bad.example.net"])
                #expect(problem?.description.contains("bad.example.net: urn:ietf:params:acme:error:rejectedIdentifier forbidden by policy") == true)
            }
        }
    }

    /// An authorization that stays pending ends in an error at the polling deadline, and the polls are
    /// spaced by the server's Retry-After (1 s), not the client's shorter default interval.
    @Test func pollingHonoursRetryAfterAndStopsAtTheDeadline() async throws {
        let ca = try await StubCA { request, _ in
            request.path == "/account" ? Self.account
                : StubCA.Response(status: .ok, headers: [("Retry-After", "1")],
                                  body: #"{"identifier":{"type":"dns","value":"slow.example.com"},"status":"pending","challenges":[]}"#)
        }
        let started = ContinuousClock.now
        let polling = PollingPolicy(interval: .milliseconds(50), maximumInterval: .seconds(5), timeout: .milliseconds(2500))
        try await withServer(ca) { ca in
            try await withStubClient(ca, polling: polling) { client in
                _ = try await client.createAccount(contactEmails: [], termsOfServiceAgreed: true)
                await #expect {
                    _ = try await client.waitForAuthorization(at: "http://127.0.0.1:\(ca.port)/authz/1")
                } throws: { error in
                    guard case ACMEClientError.deadlineExceeded(_, .pending) = error else { return false }
                    return true
                }
            }
        }
        let elapsed = ContinuousClock.now - started
        let polls = ca.recorded.filter { $0.path == "/authz/1" }.count
        #expect(polls == 3)
        #expect(elapsed < .seconds(5))
    }

    private func withStubClient(_ ca: StubCA, polling: PollingPolicy = PollingPolicy(),
                                _ body: (ACMEClient) async throws -> Void) async throws {
        let httpClient = try ACMEClient.makeHTTPClient()
        do {
            try await body(ACMEClient(directoryURL: ca.directoryURL, accountKey: ACMEAccountKey(), httpClient: httpClient, polling: polling))
            try await httpClient.shutdown()
        } catch {
            try? await httpClient.shutdown()
            throw error
        }
    }
}
