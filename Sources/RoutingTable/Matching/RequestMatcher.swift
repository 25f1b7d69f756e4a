/// What matching needs from a request, split once per request.
public struct RequestView {
    public var path: Substring
    public var query: Substring?
    public var method: String
    /// Returns the first value of a header (name lowercased).
    public var header: (String) -> String?

    public init(path: Substring, query: Substring?, method: String, header: @escaping (String) -> String?) {
        self.path = path
        self.query = query
        self.method = method
        self.header = header
    }

    /// First value of a query parameter, percent-decoded.
    func queryValue(_ name: String) -> String? {
        guard let query else { return nil }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if percentDecoded(parts[0]) == name {
                return parts.count > 1 ? percentDecoded(parts[1]) : ""
            }
        }
        return nil
    }
}

func percentDecoded(_ text: Substring) -> String {
    guard text.contains("%") || text.contains("+") else { return String(text) }
    var bytes: [UInt8] = []
    var iterator = text.utf8.makeIterator()
    while let byte = iterator.next() {
        if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
           let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) {
            bytes.append(value)
        } else if byte == UInt8(ascii: "+") {
            bytes.append(UInt8(ascii: " "))
        } else {
            bytes.append(byte)
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// One HTTPRoute match with its regexes compiled. Regexes must match the whole value, as in Envoy.
struct RequestMatcher: @unchecked Sendable {
    // Regex<AnyRegexOutput> is immutable after construction; it is only read from event loops.
    private enum Path {
        case exact(String)
        case prefix(String)
        case regex(Regex<AnyRegexOutput>)
    }
    private enum Value {
        case exact(String)
        case regex(Regex<AnyRegexOutput>)
        func matches(_ candidate: String) -> Bool {
            switch self {
            case .exact(let value): candidate == value
            case .regex(let regex): (try? regex.wholeMatch(in: candidate)) != nil
            }
        }
    }
    private let path: Path
    private let headers: [(name: String, value: Value)]
    private let queryParams: [(name: String, value: Value)]
    private let method: String?

    init(_ match: HTTPMatch) throws {
        switch match.path {
        case .exact(let value): path = .exact(value)
        case .prefix(let value): path = .prefix(value)
        case .regularExpression(let value): path = .regex(try Regex(value))
        }
        func compile(_ item: ValueMatch) throws -> Value {
            item.kind == .exact ? .exact(item.value) : .regex(try Regex(item.value))
        }
        headers = try match.headers.map { ($0.name, try compile($0)) }
        queryParams = try match.queryParams.map { ($0.name, try compile($0)) }
        method = match.method
    }

    func matches(_ request: RequestView) -> Bool { mismatch(request) == nil }

    /// The first condition of the match the request fails, in the order they are checked; nil when
    /// it matches. `archway explain` says why an earlier rule was passed over with this, so it is the
    /// one rule for both.
    func mismatch(_ request: RequestView) -> MatchMismatch? {
        switch path {
        case .exact(let value):
            guard request.path == value else { return .path }
        case .prefix(let prefix):
            // Whole segments only: "/abc" matches "/abc" and "/abc/x", never "/abcd".
            if !prefix.isEmpty {
                guard request.path.hasPrefix(prefix) else { return .path }
                let rest = request.path.dropFirst(prefix.count)
                guard rest.isEmpty || rest.first == "/" else { return .path }
            }
        case .regex(let regex):
            guard (try? regex.wholeMatch(in: String(request.path))) != nil else { return .path }
        }
        if let method, method != request.method { return .method }
        for (index, (name, value)) in headers.enumerated() {
            guard let candidate = request.header(name) else { return .header(index, present: false) }
            guard value.matches(candidate) else { return .header(index, present: true) }
        }
        for (index, (name, value)) in queryParams.enumerated() {
            guard let candidate = request.queryValue(name) else { return .queryParam(index, present: false) }
            guard value.matches(candidate) else { return .queryParam(index, present: true) }
        }
        return nil
    }
}

/// Which condition of an `HTTPMatch` a request failed: the path, the method, or the header / query
/// parameter at that index of the match's lists (absent, or present with another value).
public enum MatchMismatch: Sendable, Equatable {
    case path
    case method
    case header(Int, present: Bool)
    case queryParam(Int, present: Bool)
}
