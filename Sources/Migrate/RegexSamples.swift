/// Strings built by walking a regular expression, for `migrate --verify` to probe with: every
/// alternative taken, every optional part present and absent, repetitions zero, one and two times.
///
/// Only the syntax Ingress paths and archway's own matches use is understood: literals, escapes,
/// `.`, character classes, groups (capturing, `(?:`, named, `(?i)` flags), alternation, anchors
/// and quantifiers. Lookarounds and backreferences constrain nothing here. A small walker, not a
/// regex engine: it never decides whether a string matches (the routing tables do), so a sample
/// that misses is just one more near-miss probe, and the walker can stay short.
enum RegexSamples {
    private indirect enum Node {
        case text(String)
        /// A character class or `.`: a few members stand for all of them.
        case oneOf([String])
        case sequence([Node])
        case alternation([Node])
        case repetition(Node, min: Int, max: Int?)
    }

    /// Up to `limit` strings, each alternative and repetition count appearing in at least one.
    static func samples(_ pattern: String, limit: Int = 8) -> [String] {
        var parser = Parser(characters: Array(pattern))
        return generate(parser.alternation(), limit: limit)
    }

    private static func generate(_ node: Node, limit: Int) -> [String] {
        var result: [String]
        switch node {
        case .text(let text):
            result = [text]
        case .oneOf(let members):
            result = members
        case .sequence(let parts):
            // Zip the parts' lists, cycling the shorter ones: each option of each part shows up once
            // without the product of all of them.
            let lists = parts.map { generate($0, limit: limit) }
            let count = lists.map(\.count).max() ?? 1
            result = (0..<count).map { index in lists.map { $0[index % $0.count] }.joined() }
        case .alternation(let alternatives):
            let lists = alternatives.map { generate($0, limit: limit) }
            result = (0..<(lists.map(\.count).max() ?? 0)).flatMap { index in lists.compactMap { index < $0.count ? $0[index] : nil } }
        case .repetition(let inner, let min, let max):
            let options = generate(inner, limit: limit)
            let counts = [min, min + 1, min + 2].filter { $0 <= (max ?? Int.max) }
            result = counts.enumerated().map { offset, count in
                (0..<count).map { options[($0 + offset) % options.count] }.joined()
            }
        }
        var seen = Set<String>()
        return Array(result.filter { seen.insert($0).inserted }.prefix(limit))
    }

    private struct Parser {
        let characters: [Character]
        var position = 0

        init(characters: [Character]) { self.characters = characters }

        mutating func next() -> Character? {
            guard position < characters.count else { return nil }
            defer { position += 1 }
            return characters[position]
        }

        func peek(_ offset: Int = 0) -> Character? {
            position + offset < characters.count ? characters[position + offset] : nil
        }

        mutating func alternation() -> Node {
            var alternatives = [sequence()]
            while peek() == "|" {
                position += 1
                alternatives.append(sequence())
            }
            return alternatives.count == 1 ? alternatives[0] : .alternation(alternatives)
        }

        mutating func sequence() -> Node {
            var parts: [Node] = []
            while let character = peek(), character != "|", character != ")" {
                parts.append(quantified(atom()))
            }
            return .sequence(parts)
        }

        mutating func quantified(_ atom: Node) -> Node {
            var bounds: (Int, Int?)?
            switch peek() {
            case "?": bounds = (0, 1)
            case "*": bounds = (0, nil)
            case "+": bounds = (1, nil)
            case "{":
                guard let close = characters[position...].firstIndex(of: "}") else { return atom }
                let parts = String(characters[(position + 1)..<close]).split(separator: ",", omittingEmptySubsequences: false)
                guard let low = parts.first.flatMap({ Int($0) }) else { return atom }
                position = close
                bounds = (low, parts.count == 1 ? low : Int(parts[1]))
            default: return atom
            }
            position += 1
            if peek() == "?" || peek() == "+" { position += 1 }  // lazy or possessive: same strings
            return .repetition(atom, min: bounds!.0, max: bounds!.1)
        }

        mutating func atom() -> Node {
            guard let character = next() else { return .text("") }
            switch character {
            case "(": return group()
            case "[": return characterClass()
            case ".": return .oneOf(["x", "/"])
            case "^", "$": return .text("")
            case "\\": return escape(inClass: false)
            default: return .text(String(character))
            }
        }

        mutating func group() -> Node {
            var lookaround = false
            if peek() == "?" {
                position += 1
                if peek() == "<", let after = peek(1), after != "=", after != "!" {
                    while let character = next(), character != ">" {}  // a named group
                } else if peek() == "=" || peek() == "!" || peek() == "<" {
                    lookaround = true
                    while let character = peek(), character == "<" || character == "=" || character == "!" { position += 1 }
                } else {
                    // Flags: "(?i)" applies to what follows (callers probe case variants anyway);
                    // "(?i:" opens a group.
                    while let character = peek(), character != ":", character != ")" { position += 1 }
                    if next() == ")" { return .text("") }
                }
            }
            let inner = alternation()
            _ = next()  // ")"
            return lookaround ? .text("") : inner
        }

        mutating func characterClass() -> Node {
            var ranges: [ClosedRange<Character>] = []
            let negated = peek() == "^"
            if negated { position += 1 }
            var first = true
            while let character = next(), character != "]" || first {
                first = false
                if character == "\\", case .oneOf(let escaped) = escape(inClass: true) {
                    ranges += escaped.compactMap(\.first).map { $0...$0 }
                } else if peek() == "-", let upper = peek(1), upper != "]", character <= upper {
                    position += 2
                    ranges.append(character...upper)
                } else {
                    ranges.append(character...character)
                }
            }
            if negated {
                let outside = ["x", "0", "-", "_", "Z", "/", "~"].first { candidate in !ranges.contains { $0.contains(candidate) } }
                return .oneOf([String(outside ?? "~")])
            }
            // The first and last member of the class stand for it.
            let members = [ranges.first?.lowerBound, ranges.last?.upperBound].compactMap { $0 }
            return .oneOf(members.isEmpty ? ["x"] : Array(Set(members.map(String.init))).sorted())
        }

        mutating func escape(inClass: Bool) -> Node {
            guard let character = next() else { return .text("\\") }
            switch character {
            case "d": return .oneOf(["0", "7"])
            case "w": return .oneOf(["a", "_"])
            case "s": return .oneOf([" "])
            case "D", "W", "S": return .oneOf(["-"])
            case "b", "B", "A", "z", "Z": return inClass ? .oneOf([String(character)]) : .text("")
            default:
                if character.isNumber && !inClass { return .text("") }  // a backreference
                return inClass ? .oneOf([String(character)]) : .text(String(character))
            }
        }
    }
}
