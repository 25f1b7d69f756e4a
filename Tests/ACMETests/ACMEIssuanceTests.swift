import PebbleLab
import ACME
import Foundation
import Testing

/// Issuance against a real Pebble, one challenge type each, with the test playing the name's owner.
@Suite(.timeLimit(.minutes(1)))
struct ACMEIssuanceTests {
    @Test func http01IssuesOneCertificateForTwoNames() async throws {
        let names = ["www.shop.example.com", "shop.example.com"]
        try await withServer(try await HTTP01Server()) { server in
            try await Pebble.with(.init(httpPort: server.port)) { pebble in
                try await withACMEHTTPClient(trusting: pebble) { httpClient in
                    let client = pebble.client(accountKey: ACMEAccountKey(), httpClient: httpClient)
                    let issued = try await issue(names, client: client) { authorization in
                        let challenge = try #require(authorization.challenge(.http01))
                        server.serve(path: ChallengeResponse.http01Path(token: try #require(challenge.token)),
                                     body: ChallengeResponse.http01Body(keyAuthorization: client.keyAuthorization(for: challenge)))
                        return challenge
                    }
                    try await expectServable(issued, names: names, pebble: pebble, httpClient: httpClient)
                }
            }
        }
    }

    @Test func tlsALPN01IssuesWithTheChallengeCertificateOnTheTLSPort() async throws {
        let names = ["secure.example.com"]
        try await withServer(try await TLSALPN01Server()) { server in
            try await Pebble.with(.init(tlsPort: server.port)) { pebble in
                try await withACMEHTTPClient(trusting: pebble) { httpClient in
                    let client = pebble.client(accountKey: ACMEAccountKey(), httpClient: httpClient)
                    let issued = try await issue(names, client: client) { authorization in
                        let challenge = try #require(authorization.challenge(.tlsALPN01))
                        try server.offer(TLSALPN01Certificate(name: authorization.identifier.value,
                                                              keyAuthorization: client.keyAuthorization(for: challenge)))
                        return challenge
                    }
                    try await expectServable(issued, names: names, pebble: pebble, httpClient: httpClient)
                }
            }
        }
    }

    /// A wildcard can only be proven by DNS-01. The TXT record goes in through challtestsrv's management
    /// API: the only way it takes records (it answers RFC 2136 UPDATE with NOTIMP).
    @Test func dns01IssuesAWildcard() async throws {
        let names = ["*.apps.example.com"]
        try await Pebble.with(.init()) { pebble in
            try await withACMEHTTPClient(trusting: pebble) { httpClient in
                let client = pebble.client(accountKey: ACMEAccountKey(), httpClient: httpClient)
                let issued = try await issue(names, client: client) { authorization in
                    #expect(authorization.wildcard)
                    #expect(authorization.challenge(.http01) == nil)
                    let challenge = try #require(authorization.challenge(.dns01))
                    try await pebble.setTXT(name: ChallengeResponse.dns01RecordName(for: "*." + authorization.identifier.value),
                                            value: ChallengeResponse.dns01TXTValue(keyAuthorization: client.keyAuthorization(for: challenge)),
                                            httpClient: httpClient)
                    return challenge
                }
                try await expectServable(issued, names: names, pebble: pebble, httpClient: httpClient)
            }
        }
    }

    /// DNS-01 as archway does it without challtestsrv: Pebble resolves through a real named that is
    /// authoritative for example.test, and the TXT records go in by TSIG-signed RFC 2136 updates, the zone
    /// found by SOA. The wildcard and its base name put two values at one name; both go after issuance.
    @Test func dns01ThroughRFC2136IssuesAWildcardAndItsBaseName() async throws {
        let names = ["*.apps.example.test", "apps.example.test"]
        try await Named.with { named in
            let updater = RFC2136Updater(server: named.server, tsig: named.key)
            try await Pebble.with(.init(dnsServer: named.server)) { pebble in
                try await withACMEHTTPClient(trusting: pebble) { httpClient in
                    let client = pebble.client(accountKey: ACMEAccountKey(), httpClient: httpClient)
                    var published: [(name: String, value: String)] = []
                    let issued = try await issue(names, client: client) { authorization in
                        let challenge = try #require(authorization.challenge(.dns01))
                        let name = ChallengeResponse.dns01RecordName(for: (authorization.wildcard ? "*." : "") + authorization.identifier.value)
                        #expect(name == "_acme-challenge.apps.example.test")
                        let value = ChallengeResponse.dns01TXTValue(keyAuthorization: client.keyAuthorization(for: challenge))
                        try await updater.setTXT(name: name, value: value, ttl: 60)
                        published.append((name, value))
                        #expect(Set(try await updater.txtValues(name: name)) == Set(published.map(\.value)))
                        return challenge
                    }
                    #expect(published.count == 2)
                    for record in published { try await updater.removeTXT(name: record.name, value: record.value) }
                    #expect(try await updater.txtValues(name: "_acme-challenge.apps.example.test").isEmpty)
                    try await expectServable(issued, names: names, pebble: pebble, httpClient: httpClient)
                }
            }
        }
    }

    /// A name whose server answers the wrong body: the caller learns why from the error, in seconds.
    @Test func aFailedValidationNamesTheCAsReason() async throws {
        try await withServer(try await HTTP01Server()) { server in
            try await Pebble.with(.init(httpPort: server.port)) { pebble in
                try await withACMEHTTPClient(trusting: pebble) { httpClient in
                    let client = pebble.client(accountKey: ACMEAccountKey(), httpClient: httpClient)
                    do {
                        _ = try await issue(["broken.example.com"], client: client) { authorization in
                            let challenge = try #require(authorization.challenge(.http01))
                            server.serve(path: ChallengeResponse.http01Path(token: try #require(challenge.token)),
                                         body: "not-the-key-authorization")
                            return challenge
                        }
                        Issue.record("issuance succeeded with a wrong key authorization")
                    } catch let error as ACMEClientError {
                        guard case .authorizationFailed(let identifier, let url, let problem) = error else {
                            Issue.record("unexpected error: \(error)")
                            return
                        }
                        #expect(identifier == "broken.example.com")
                        #expect(url.hasPrefix("https://127.0.0.1:"))
                        let type = try #require(problem?.type)
                        #expect(type.hasSuffix(":unauthorized") || type.hasSuffix(":incorrectResponse"))
                        #expect("\(error)".contains(type) && "\(error)".contains(url))
                    }
                }
            }
        }
    }
}
