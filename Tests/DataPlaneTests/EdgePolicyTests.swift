import Crypto
import CryptoExtras
import Foundation
import HummingbirdBcrypt
import JWTKit
import NIOCore
import NIOHTTP1
import Testing

/// archway.dev edge policies over loopback: the exact answers a refused client gets, and what an
/// allowed request carries to its backend.
@Suite(.timeLimit(.minutes(3)))
struct EdgePolicyTests {
    /// A route to Service `api`; `filter` ("Kind/name") names an archway.dev policy in an ExtensionRef filter.
    static func route(_ name: String, path: String, filter: String? = nil, ruleName: String? = nil) -> String {
        let extensionRef = filter.map { ref in
            let parts = ref.split(separator: "/")
            return "filters: [{type: ExtensionRef, extensionRef: {group: archway.dev, kind: \(parts[0]), name: \(parts[1])}}]"
        }
        return Manifests.route(name, path: path, service: "api",
                               ruleFields: [ruleName.map { "name: \($0)" }, extensionRef].compactMap { $0 }.joined(separator: "\n"))
    }

    @Test(arguments: [true, false]) func basicAuthAPIKeysAllowListsAndBodySize(fastLane: Bool) async throws {
        let harness = GatewayHarness()
        harness.fastLane = fastLane
        try await harness.startBackend("api")
        let bcrypt = Bcrypt.hash("wonderland", cost: 6)
        let sha = Data(Insecure.SHA1.hash(data: Data("builder".utf8))).base64EncodedString()
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(),
            Manifests.service("api", targetPort: harness.backendPorts["api"]!),
            """
            apiVersion: v1
            kind: Secret
            metadata: {name: users}
            stringData:
              users: |
                alice:\(bcrypt)
                bob:{SHA}\(sha)
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: keys}
            stringData: {mobile-app: key-for-mobile, partner: key-for-partner}
            ---
            apiVersion: archway.dev/v1alpha1
            kind: BasicAuth
            metadata: {name: staff}
            spec: {secretRef: {name: users}, realm: Staff only}
            ---
            apiVersion: archway.dev/v1alpha1
            kind: APIKeyAuth
            metadata: {name: clients}
            spec: {secretRef: {name: keys}, queryParameter: api_key}
            ---
            apiVersion: archway.dev/v1alpha1
            kind: IPAllowList
            metadata: {name: office}
            spec:
              targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: office}]
              allow: [10.0.0.0/8]
              deny: [10.66.0.0/16]
              trustedProxyDepth: 1
            ---
            apiVersion: archway.dev/v1alpha1
            kind: BodySize
            metadata: {name: small-uploads}
            spec:
              targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: uploads, sectionName: upload}]
              maxRequestBody: 1Ki
            """,
            Self.route("basic", path: "/basic", filter: "BasicAuth/staff"),
            Self.route("keys", path: "/keys", filter: "APIKeyAuth/clients"),
            Self.route("office", path: "/office"),
            Self.route("uploads", path: "/upload", ruleName: "upload")))
        try await harness.start()
        defer { Task { await harness.stop() } }
        let host = "edge.example.com"
        func basic(_ user: String, _ password: String) -> (String, String) {
            ("Authorization", "Basic " + Data("\(user):\(password)".utf8).base64EncodedString())
        }

        let anonymous = try await harness.send("/basic", host: host)
        #expect(anonymous.status == 401)
        #expect(anonymous.headers.first(name: "www-authenticate") == "Basic realm=\"Staff only\", charset=\"UTF-8\"")
        #expect(anonymous.echoName == nil, "a refused request never reaches the backend")
        #expect(try await harness.send("/basic", host: host, headers: [basic("alice", "wrong")]).status == 401)
        #expect(try await harness.send("/basic", host: host, headers: [basic("mallory", "wonderland")]).status == 401)

        // alice's first request waits for bcrypt off the event loop, with a body that must arrive whole.
        let client = try await harness.client()
        let upload = try await client.request(.POST, "/basic", host: host, headers: [basic("alice", "wonderland"), ("content-type", "application/octet-stream")],
                                              body: ByteBuffer(repeating: 7, count: 300_000))
        #expect(upload.status == 200 && upload.echoName == "api")
        #expect(upload.echo["body_bytes"] as? Int == 300_000, "the body held during the password check reaches the backend")
        #expect(upload.echoHeaders["x-auth-user"] == "alice")
        #expect(upload.echoHeaders["authorization"] == nil, "credentials stop at the gateway")
        // Keep-alive survives a deferred decision, and the cached outcome answers at once.
        let again = try await client.request(.GET, "/basic", host: host, headers: [basic("alice", "wonderland"), ("x-auth-user", "root")])
        #expect(again.status == 200 && again.echoHeaders["x-auth-user"] == "alice", "a client cannot claim another user")
        await client.close()
        #expect(try await harness.send("/basic", host: host, headers: [basic("bob", "builder")]).echoHeaders["x-auth-user"] == "bob", "{SHA} users")

        let noKey = try await harness.send("/keys", host: host)
        #expect(noKey.status == 401 && noKey.text.contains("API key required in header x-api-key or query parameter api_key"))
        #expect(try await harness.send("/keys", host: host, headers: [("X-API-Key", "guess")]).status == 401)
        let keyed = try await harness.send("/keys", host: host, headers: [("X-API-Key", "key-for-partner")])
        #expect(keyed.status == 200 && keyed.echoHeaders["x-api-client"] == "partner")
        #expect(keyed.echoHeaders["x-api-key"] == nil, "the backend learns who called, not the key")
        let byQuery = try await harness.send("/keys?api_key=key-for-mobile&page=2", host: host)
        #expect(byQuery.status == 200 && byQuery.echoHeaders["x-api-client"] == "mobile-app")

        #expect(try await harness.send("/office", host: host).status == 403, "no X-Forwarded-For: the peer (127.0.0.1) is outside 10/8")
        let inside = try await harness.send("/office", host: host, headers: [("X-Forwarded-For", "203.0.113.9, 10.1.2.3")])
        #expect(inside.status == 200, "the proxy in front wrote 10.1.2.3, the rightmost entry")
        let spoofed = try await harness.send("/office", host: host, headers: [("X-Forwarded-For", "10.1.2.3, 203.0.113.9")])
        #expect(spoofed.status == 403 && spoofed.text == "forbidden: client address not allowed\n",
                "an entry the client wrote itself is not trusted; the body names neither the policy nor its ranges")
        let denied = try await harness.send("/office", host: host, headers: [("X-Forwarded-For", "10.66.1.1")])
        #expect(denied.status == 403 && !denied.text.contains("10.66.0.0/16"), "inside 10/8 but in the denied range")

        let tooBig = try await harness.send(.POST, "/upload", host: host, headers: [("content-length", "2048")])
        #expect(tooBig.status == 413 && tooBig.text.contains("the limit is 1024") && !tooBig.text.contains("small-uploads"))
        let uploads = try await harness.client()
        let fits = try await uploads.request(.POST, "/upload", host: host, body: ByteBuffer(repeating: 1, count: 1000))
        #expect(fits.status == 200)
        await uploads.close()
        let streamed = try await harness.client()
        let cut = try await streamed.request(.POST, "/upload", host: host, body: ByteBuffer(repeating: 1, count: 4096), chunked: true)
        #expect(cut.status == 413, "a chunked body is cut when it crosses the route's limit")
        await streamed.close()
    }

    @Test(arguments: [true, false]) func rateLimitHoldsItsRateAcrossBothEventLoops(fastLane: Bool) async throws {
        let harness = GatewayHarness()
        harness.fastLane = fastLane
        try await harness.startBackend("api")
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(),
            Manifests.service("api", targetPort: harness.backendPorts["api"]!),
            """
            apiVersion: archway.dev/v1alpha1
            kind: RateLimit
            metadata: {name: per-client}
            spec:
              targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
              requests: 40
              unit: Second
              burst: 10
            """,
            Manifests.route("api", path: "/", service: "api")))
        try await harness.start()
        defer { Task { await harness.stop() } }

        // Eight keep-alive connections, spread by the gateway over its two event loops, connected before
        // the clock starts (connecting can take seconds on a loaded machine).
        var clients: [TestHTTPClient] = []
        for _ in 0..<8 { clients.append(try await harness.client()) }
        let clock = ContinuousClock()
        let started = clock.now
        let duration = Duration.seconds(3)
        let counts = try await withThrowingTaskGroup(of: (Int, Int, TestHTTPClient.Response?, [Int], ContinuousClock.Instant).self) { group in
            for client in clients {
                group.addTask {
                    var allowed = 0, limited = 0
                    var sample: TestHTTPClient.Response?
                    var others: [Int] = []
                    var lastAnswer = started
                    while clock.now - started < duration {
                        let response = try await client.request(.GET, "/", host: "rl.example.com")
                        lastAnswer = clock.now
                        if response.status == 200 { allowed += 1 } else if response.status == 429 { limited += 1; sample = response } else { others.append(response.status) }
                    }
                    await client.close()
                    return (allowed, limited, sample, others, lastAnswer)
                }
            }
            var total = (allowed: 0, limited: 0, sample: TestHTTPClient.Response?.none, others: [Int](), lastAnswer: started)
            for try await (allowed, limited, sample, others, lastAnswer) in group {
                total.allowed += allowed
                total.limited += limited
                total.sample = total.sample ?? sample
                total.others += others
                total.lastAnswer = max(total.lastAnswer, lastAnswer)
            }
            return total
        }
        // Up to the last answer counted, not after the closes: on a loaded machine they take a while.
        let window = counts.lastAnswer - started
        let elapsed = Double(window.components.seconds) + Double(window.components.attoseconds) / 1e18
        let expected = 10 + 40 * elapsed
        #expect(counts.others.isEmpty, "every answer is 200 or 429: \(Set(counts.others))")
        #expect(abs(Double(counts.allowed) - expected) <= expected * 0.10,
                "allowed \(counts.allowed) in \(elapsed) s; the limit allows \(expected) (burst 10 + 40/s)")
        #expect(counts.limited > counts.allowed, "the clients asked far faster than the limit")
        let refused = try #require(counts.sample)
        #expect(refused.headers.first(name: "retry-after") == "1")
        #expect(refused.headers.first(name: "ratelimit-limit") == "40")
        #expect(refused.headers.first(name: "ratelimit-policy") == "40;w=1;burst=10")
    }

    @Test(arguments: [true, false]) func jwtFromRSAAndECKeySets(fastLane: Bool) async throws {
        let rsa = try Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))
        let ec = ES256PrivateKey()
        let stranger = ES256PrivateKey()
        let primitives = try rsa.publicKey.getKeyPrimitives()
        let ecParameters = try #require(ec.publicKey.parameters)
        func base64URL(_ data: Data) -> String {
            data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
        let jwks = """
        {"keys": [{"kty": "RSA", "kid": "rsa-1", "alg": "RS256", "use": "sig", "n": "\(base64URL(primitives.modulus))", "e": "\(base64URL(primitives.publicExponent))"},
                  {"kty": "EC", "kid": "ec-1", "alg": "ES256", "crv": "P-256", "x": "\(ecParameters.x)", "y": "\(ecParameters.y)"}]}
        """
        let signers = JWTKeyCollection()
        await signers.add(rsa: rsa, digestAlgorithm: .sha256, kid: "rsa-1")
        await signers.add(ecdsa: ec, kid: "ec-1")
        let strangers = JWTKeyCollection()
        await strangers.add(ecdsa: stranger, kid: "ec-1")
        func token(_ keys: JWTKeyCollection, kid: String, audience: String = "orders", expiresIn: TimeInterval = 300) async throws -> String {
            try await keys.sign(TestClaims(sub: .init(value: "user-42"), iss: .init(value: "https://id.example.com"), aud: .init(value: [audience]),
                                           exp: .init(value: Date().addingTimeInterval(expiresIn)), groups: ["admin", "ops"]),
                                kid: JWKIdentifier(string: kid))
        }

        let jwksServer = StubHTTPServer { _ in .init(status: 200, headers: [("content-type", "application/json")], body: jwks) }
        let harness = GatewayHarness()
        harness.fastLane = fastLane
        try await harness.startBackend("api")
        let jwksPort = try await jwksServer.start(group: harness.group)
        defer { Task { await jwksServer.stop() } }
        let indented = jwks.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n")
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(),
            Manifests.service("api", targetPort: harness.backendPorts["api"]!),
            """
            apiVersion: archway.dev/v1alpha1
            kind: JWTAuth
            metadata: {name: id}
            spec:
              targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: orders}]
              issuer: https://id.example.com
              audiences: [orders]
              claimsToHeaders: [{claim: sub, header: X-User}, {claim: groups, header: X-Groups}]
              jwks:
                inline: |
            \(indented)
            ---
            apiVersion: archway.dev/v1alpha1
            kind: JWTAuth
            metadata: {name: fetched}
            spec:
              targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: fetched}]
              jwks: {url: "http://127.0.0.1:\(jwksPort)/.well-known/jwks.json"}
            """,
            Self.route("orders", path: "/orders"),
            Self.route("fetched", path: "/fetched")))
        try await harness.start()
        defer { Task { await harness.stop() } }
        let host = "jwt.example.com"
        func bearer(_ token: String) -> (String, String) { ("Authorization", "Bearer " + token) }

        for kid in ["rsa-1", "ec-1"] {
            let allowed = try await harness.send("/orders", host: host, headers: [bearer(try await token(signers, kid: kid)), ("X-User", "forged")])
            #expect(allowed.status == 200, "\(kid): \(allowed.text)")
            #expect(allowed.echoHeaders["x-user"] == "user-42", "\(kid): claims become headers, replacing what the client sent")
            #expect(allowed.echoHeaders["x-groups"] == "admin,ops")
        }
        let missing = try await harness.send("/orders", host: host)
        #expect(missing.status == 401 && missing.headers.first(name: "www-authenticate") == "Bearer")
        let expired = try await harness.send("/orders", host: host, headers: [bearer(try await token(signers, kid: "ec-1", expiresIn: -60))])
        #expect(expired.status == 401 && expired.text.contains("expired"), "\(expired.text)")
        #expect(expired.headers.first(name: "www-authenticate")?.contains("error=\"invalid_token\"") == true)
        let wrongAudience = try await harness.send("/orders", host: host, headers: [bearer(try await token(signers, kid: "rsa-1", audience: "billing"))])
        #expect(wrongAudience.status == 401 && wrongAudience.text.contains("audience"), "\(wrongAudience.text)")
        let forged = try await harness.send("/orders", host: host, headers: [bearer(try await token(strangers, kid: "ec-1"))])
        #expect(forged.status == 401, "a token signed by a key outside the set: \(forged.text)")
        #expect(try await harness.send("/orders", host: host, headers: [bearer("not.a.token")]).status == 401)

        let viaURL = try await harness.send("/fetched", host: host, headers: [bearer(try await token(signers, kid: "ec-1"))])
        #expect(viaURL.status == 200, "\(viaURL.text)")
        #expect(jwksServer.requests.count == 1 && jwksServer.requests.first?.uri == "/.well-known/jwks.json")
    }

    @Test(arguments: [true, false]) func forwardAuthAsksARealAuthService(fastLane: Bool) async throws {
        let auth = StubHTTPServer { head in
            if head.headers.first(name: "authorization") == "Bearer good" {
                return .init(status: 200, headers: [("X-Auth-User", "alice"), ("X-Internal", "secret")])
            }
            return .init(status: 401, headers: [("WWW-Authenticate", "Bearer realm=\"stub\""), ("Content-Type", "text/plain")], body: "go away")
        }
        let harness = GatewayHarness()
        harness.fastLane = fastLane
        try await harness.startBackend("api")
        let authPort = try await auth.start(group: harness.group)
        defer { Task { await auth.stop() } }
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(),
            Manifests.service("api", targetPort: harness.backendPorts["api"]!),
            """
            apiVersion: archway.dev/v1alpha1
            kind: ForwardAuth
            metadata: {name: sso}
            spec:
              url: http://127.0.0.1:\(authPort)/verify
              responseHeaders: [X-Auth-User]
              timeout: 2s
            ---
            apiVersion: archway.dev/v1alpha1
            kind: ForwardAuth
            metadata: {name: gone-open}
            spec: {url: "http://127.0.0.1:1/verify", failureMode: Allow, timeout: 1s}
            ---
            apiVersion: archway.dev/v1alpha1
            kind: ForwardAuth
            metadata: {name: gone-closed}
            spec: {url: "http://127.0.0.1:1/verify", timeout: 1s}
            """,
            Self.route("app", path: "/app", filter: "ForwardAuth/sso"),
            Self.route("open", path: "/open", filter: "ForwardAuth/gone-open"),
            Self.route("closed", path: "/closed", filter: "ForwardAuth/gone-closed")))
        try await harness.start()
        defer { Task { await harness.stop() } }
        let host = "fa.example.com"

        let allowed = try await harness.send("/app/orders?page=2", host: host, headers: [("Authorization", "Bearer good")])
        #expect(allowed.status == 200 && allowed.echoName == "api")
        #expect(allowed.echoHeaders["x-auth-user"] == "alice", "the chosen answer header goes upstream")
        #expect(allowed.echoHeaders["x-internal"] == nil, "headers not chosen stay at the auth service")
        let asked = try #require(auth.requests.last)
        #expect(asked.uri == "/verify" && asked.headers.first(name: "x-forwarded-uri") == "/app/orders?page=2")
        #expect(asked.headers.first(name: "x-forwarded-method") == "GET" && asked.headers.first(name: "x-forwarded-host") == host)

        let refused = try await harness.send("/app", host: host, headers: [("Authorization", "Bearer bad")])
        #expect(refused.status == 401 && refused.text.hasPrefix("go away"), "the auth service's answer is the client's answer")
        #expect(refused.headers.first(name: "www-authenticate") == "Bearer realm=\"stub\"")
        #expect(refused.headers["content-type"] == ["text/plain"], "the auth service's type, once: \(refused.headers["content-type"])")

        // Over HTTP/2 the stream waits for the auth service the same way (curl, h2c with prior knowledge).
        let url = "http://127.0.0.1:\(harness.port)/app/h2"
        let h2Allowed = try await ExternalTool.curlOffThePool(["--http2-prior-knowledge", "-H", "Host: \(host)", "-H", "Authorization: Bearer good", "-w", "\n@@\n%{http_code} %{http_version}", url])
        #expect(h2Allowed.writeOut == "200 2" && h2Allowed.body.contains("alice"), "\(h2Allowed)")
        let h2Refused = try await ExternalTool.curlOffThePool(["--http2-prior-knowledge", "-H", "Host: \(host)", "-H", "Authorization: Bearer bad", "-w", "\n@@\n%{http_code} %{http_version}", url])
        #expect(h2Refused.writeOut == "401 2" && h2Refused.body.hasPrefix("go away"), "\(h2Refused)")

        #expect(try await harness.send("/open", host: host).status == 200, "failureMode Allow lets requests through an unreachable auth service")
        let closed = try await harness.send("/closed", host: host)
        #expect(closed.status == 503 && closed.text == "authentication service unavailable\n", "the client is not told where the auth service is")
    }
}

private struct TestClaims: JWTPayload {
    var sub: SubjectClaim
    var iss: IssuerClaim
    var aud: AudienceClaim
    var exp: ExpirationClaim
    var groups: [String]
    func verify(using _: some JWTAlgorithm) async throws {}
}

/// Gateway API backendRef-level filters: header edits that apply only to the backend chosen.
@Suite(.timeLimit(.minutes(2)))
struct BackendRefFilterTests {
    @Test(arguments: [true, false]) func headerFiltersFollowTheChosenBackend(fastLane: Bool) async throws {
        let harness = GatewayHarness()
        harness.fastLane = fastLane
        try harness.write("gw.yaml", Manifests.join(
            Manifests.gateway(),
            try await harness.startBackendServices("blue", "green"),
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: split}
            spec:
              parentRefs: [{name: gw}]
              rules:
              - filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Route, value: split}]}}]
                backendRefs:
                - name: blue
                  port: 80
                  filters:
                  - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Color, value: blue}], remove: [X-Debug]}}
                  - {type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: X-Served-By, value: blue-pool}]}}
                - name: green
                  port: 80
                  filters:
                  - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Color, value: green}]}}
            """))
        try await harness.start()
        defer { Task { await harness.stop() } }

        var seen: Set<String> = []
        for _ in 0..<40 {
            let response = try await harness.send("/", host: "split.example.com", headers: [("X-Debug", "1")])
            let backend = try #require(response.echoName)
            seen.insert(backend)
            #expect(response.echoHeaders["x-color"] == backend, "each backend gets its own filter's header")
            #expect(response.echoHeaders["x-route"] == "split", "the rule's filters still apply")
            #expect((response.echoHeaders["x-debug"] == nil) == (backend == "blue"))
            #expect((response.headers.first(name: "x-served-by") == "blue-pool") == (backend == "blue"))
        }
        #expect(seen == ["blue", "green"])
    }
}
