import RoutingTable
import Testing

/// The one path rule: what matching sees is what the backend gets, however the client spelled it.
@Suite struct PathNormalizationTests {
    @Test(arguments: [
        ("/plain/path", "/plain/path"),
        ("/a/../admin", "/admin"),
        ("/a/./b", "/a/b"),
        ("//admin", "/admin"),
        ("/a//b///c", "/a/b/c"),
        ("/%61dmin", "/admin"),
        ("/x/%2e%2e/admin", "/admin"),
        ("/a/b/", "/a/b/"),
        ("/a/b/..", "/a/"),
        ("/a/.", "/a/"),
        ("/", "/"),
        ("/caf%c3%a9", "/caf%C3%A9"),
        ("/%252e%252e/x", "/%252e%252e/x"),
        ("/a;jsessionid=1/b", "/a;jsessionid=1/b"),
    ])
    func normalizes(_ input: String, _ expected: String) throws {
        let result = try PathNormalization.normalize(Substring(input)).get()
        #expect(result == Substring(expected))
    }

    @Test(arguments: ["/a%2fb", "/a%2Fb", "/a%5cb", "/a%00", "/../etc", "/a/../../etc", "/%2e%2e/etc", "/bad%zz", "/trunc%2"])
    func refuses(_ input: String) {
        #expect(throws: PathNormalization.Refusal.self) { try PathNormalization.normalize(Substring(input)).get() }
    }

    /// Normalising twice changes nothing, for paths built from the pieces that cause trouble.
    @Test func isIdempotent() throws {
        let pieces = ["a", "b", ".", "..", "", "%2e", "%2E%2e", "%41", "%7e", "%C3%A9", "~x", "a.b"]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let count = Int.random(in: 1...6, using: &generator)
            let path = "/" + (0..<count).map { _ in pieces.randomElement(using: &generator)! }.joined(separator: "/")
            guard case .success(let once) = PathNormalization.normalize(Substring(path)) else { continue }
            let twice = try PathNormalization.normalize(once).get()
            #expect(twice == once, "\(path) → \(once) → \(twice)")
            #expect(!once.contains("/./") && !once.contains("/../") && !once.contains("//"), "\(path) → \(once)")
        }
    }
}
