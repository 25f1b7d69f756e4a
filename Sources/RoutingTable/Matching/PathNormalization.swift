/// One rule for every request path, applied before matching, and the result is also what the backend
/// receives, so a route cannot be bypassed by spelling it differently:
/// 1. percent-encoded unreserved characters (letters, digits, `-._~`) are decoded, other escapes kept
///    with upper-case hex;
/// 2. an encoded `/` or `\` (`%2F`, `%5C`), an encoded NUL, or a malformed escape is refused (400):
///    decoding them would change the path's segments, and keeping them encoded lets backends disagree;
/// 3. runs of `/` become one;
/// 4. `.` and `..` segments are removed (RFC 3986 §5.2.4); a `..` that climbs above the root is refused.
public enum PathNormalization {
    public struct Refusal: Error, Sendable {
        public var reason: String
    }

    public static func normalize(_ path: Substring) -> Result<Substring, Refusal> {
        guard needsWork(path) else { return .success(path) }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(path.utf8.count)
        var bytes = path.utf8.makeIterator()
        while let byte = bytes.next() {
            guard byte == UInt8(ascii: "%") else {
                decoded.append(byte)
                continue
            }
            guard let high = bytes.next().flatMap(hexValue), let low = bytes.next().flatMap(hexValue) else {
                return .failure(Refusal(reason: "malformed percent-encoding in path"))
            }
            let value = high << 4 | low
            switch value {
            case UInt8(ascii: "/"), UInt8(ascii: "\\"):
                return .failure(Refusal(reason: "encoded slash or backslash in path"))
            case 0:
                return .failure(Refusal(reason: "encoded NUL in path"))
            case _ where isUnreserved(value):
                decoded.append(value)
            default:
                decoded.append(UInt8(ascii: "%"))
                decoded.append(hexDigit(high))
                decoded.append(hexDigit(low))
            }
        }
        var segments: [ArraySlice<UInt8>] = []
        let parts = decoded.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true)
        for part in parts {
            if part.elementsEqual([UInt8(ascii: ".")]) { continue }
            if part.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
                guard segments.popLast() != nil else { return .failure(Refusal(reason: "path climbs above the root")) }
                continue
            }
            segments.append(part)
        }
        var result: [UInt8] = []
        result.reserveCapacity(decoded.count)
        for segment in segments {
            result.append(UInt8(ascii: "/"))
            result.append(contentsOf: segment)
        }
        // A trailing slash (or a trailing dot segment, which names a directory) is kept.
        let last = parts.last
        let endsAsDirectory = decoded.last == UInt8(ascii: "/")
            || (last.map { $0.elementsEqual([UInt8(ascii: ".")]) || $0.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) } ?? false)
        if result.isEmpty || (endsAsDirectory && result.last != UInt8(ascii: "/")) { result.append(UInt8(ascii: "/")) }
        return .success(Substring(decoding: result, as: UTF8.self))
    }

    /// The common path has no escapes, no doubled slash and no dot segment: returned untouched.
    private static func needsWork(_ path: Substring) -> Bool {
        var previous: UInt8 = 0
        for byte in path.utf8 {
            if byte == UInt8(ascii: "%") { return true }
            if previous == UInt8(ascii: "/") && (byte == UInt8(ascii: "/") || byte == UInt8(ascii: ".")) { return true }
            previous = byte
        }
        return false
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "A") + value - 10
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "~")
        }
    }
}
