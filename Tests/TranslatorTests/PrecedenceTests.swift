import RoutingTable
import Testing

/// The precedence comparator must be a strict total order (or sorting the table would depend on input
/// order) and must rank by the spec's criteria in the spec's order.
struct PrecedenceTests {
    static func origin(_ name: String, rule: Int = 0, match: Int = 0) -> RouteOrigin {
        RouteOrigin(namespace: "default", name: name, rule: rule, match: match, gatewayNamespace: "gw", gatewayName: "gw")
    }

    static let paths: [PathMatch] = [.exact("/a/b"), .exact("/a"), .prefix("/a/b"), .prefix("/a"), .prefix(""), .regularExpression("/a/.*")]
    static let headerSets: [[ValueMatch]] = [[], [ValueMatch(name: "h", kind: .exact, value: "1")],
                                              [ValueMatch(name: "h", kind: .exact, value: "1"), ValueMatch(name: "i", kind: .exact, value: "2")]]

    /// Every combination of path, method, header count, query count, age and name.
    static var keys: [PrecedenceKey] {
        var keys: [PrecedenceKey] = []
        for (p, path) in paths.enumerated() {
            for method in [nil, "GET"] {
                for headers in headerSets {
                    for queries in [0, 1] {
                        for created in [nil, "2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z"] {
                            let match = HTTPMatch(path: path, headers: headers,
                                                  queryParams: Array(repeating: ValueMatch(name: "q", kind: .exact, value: "v"), count: queries),
                                                  method: method)
                            keys.append(PrecedenceKey(match: match, origin: origin("r\(p)-\(keys.count % 3)"), creationTimestamp: created))
                        }
                    }
                }
            }
        }
        return keys
    }

    @Test func isAStrictTotalOrder() {
        let keys = Self.keys
        for a in keys {
            #expect(!(a < a))
            for b in keys {
                // Exactly one of a < b, b < a, a == b.
                let relations = [a < b, b < a, a == b].filter { $0 }.count
                #expect(relations == 1)
            }
        }
        let sorted = keys.sorted()
        #expect(keys.shuffled().sorted().elementsEqual(sorted, by: ==))
    }

    @Test func ranksBySpecCriteriaInOrder() {
        func key(_ path: PathMatch, method: String? = nil, headers: Int = 0, queries: Int = 0,
                 created: String? = nil, name: String = "r", rule: Int = 0) -> PrecedenceKey {
            PrecedenceKey(match: HTTPMatch(path: path,
                                           headers: (0..<headers).map { ValueMatch(name: "h\($0)", kind: .exact, value: "v") },
                                           queryParams: (0..<queries).map { ValueMatch(name: "q\($0)", kind: .exact, value: "v") },
                                           method: method),
                          origin: Self.origin(name, rule: rule), creationTimestamp: created)
        }
        #expect(key(.exact("/a")) < key(.prefix("/a/very/long/prefix"), method: "GET", headers: 9))
        #expect(key(.regularExpression("/x")) < key(.prefix("/abc")))
        #expect(key(.prefix("/abc")) < key(.prefix("/ab"), method: "GET", headers: 9, queries: 9))
        #expect(key(.prefix("/a"), method: "GET") < key(.prefix("/a"), headers: 9, queries: 9))
        #expect(key(.prefix("/a"), headers: 2) < key(.prefix("/a"), headers: 1, queries: 9))
        #expect(key(.prefix("/a"), queries: 2) < key(.prefix("/a"), queries: 1, created: "2000-01-01T00:00:00Z"))
        #expect(key(.prefix("/a"), created: "2024-01-01T00:00:00Z", name: "z") < key(.prefix("/a"), created: "2025-01-01T00:00:00Z", name: "a"))
        #expect(key(.prefix("/a"), created: "2024-01-01T00:00:00Z") < key(.prefix("/a")))
        #expect(key(.prefix("/a"), name: "a", rule: 5) < key(.prefix("/a"), name: "b", rule: 0))
        #expect(key(.prefix("/a"), rule: 0) < key(.prefix("/a"), rule: 1))
    }

    /// GRPCRoute's own order: service characters, then method characters, then header matches.
    @Test func grpcRanksServiceThenMethodThenHeaders() {
        func key(service: Int, method: Int, headers: Int = 0, created: String? = nil) -> PrecedenceKey {
            PrecedenceKey(criteria: .grpc(serviceCharacters: service, methodCharacters: method, headers: headers),
                          origin: Self.origin("g"), creationTimestamp: created)
        }
        #expect(key(service: 7, method: 0) < key(service: 0, method: 9, headers: 9, created: "2000-01-01T00:00:00Z"))
        #expect(key(service: 7, method: 3) < key(service: 6, method: 9))
        #expect(key(service: 7, method: 4) < key(service: 7, method: 3, headers: 9))
        #expect(key(service: 7, method: 3, headers: 1) < key(service: 7, method: 3))
        #expect(key(service: 7, method: 3, created: "2024-01-01T00:00:00Z") < key(service: 7, method: 3))
    }

    @Test func hostnameIntersection() {
        #expect(Hostnames.intersect(listener: nil, route: []) == ["*"])
        #expect(Hostnames.intersect(listener: "*.example.com", route: []) == ["*.example.com"])
        #expect(Hostnames.intersect(listener: "*.example.com", route: ["a.example.com", "example.com", "a.b.example.com"]) == ["a.example.com", "a.b.example.com"])
        #expect(Hostnames.intersect(listener: "foo.example.com", route: ["*.example.com"]) == ["foo.example.com"])
        #expect(Hostnames.intersect(listener: "*.example.com", route: ["*.foo.example.com"]) == ["*.foo.example.com"])
        #expect(Hostnames.intersect(listener: "*.foo.example.com", route: ["*.example.com"]) == ["*.foo.example.com"])
        #expect(Hostnames.intersect(listener: "a.example.com", route: ["b.example.com"]).isEmpty)
    }
}
