// libFuzzer entry for PathNormalization (Sources/RoutingTable/Matching/PathNormalization.swift).
// A path it accepts comes out canonical: normalising it again changes nothing, and no spelling that
// the rules remove (doubled slashes, dot segments, encoded unreserved bytes, lower-case escapes) or
// refuse (encoded slash, backslash or NUL, malformed escapes) is left in it.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPath(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let path = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard case .success(let normal) = PathNormalization.normalize(Substring(path)) else { return 0 }
    func fail(_ why: String) -> Never {
        fatalError("\(why): \(path.debugDescription) became \(normal.debugDescription)")
    }
    // Bytes, not Characters: Swift compares strings by canonical equivalence and grapheme clusters.
    let bytes = Array(normal.utf8)
    guard case .success(let again) = PathNormalization.normalize(normal) else { fail("normalising again refuses it") }
    guard Array(again.utf8) == bytes else { fail("normalising again gives \(again.debugDescription)") }
    guard path.utf8.first == UInt8(ascii: "/") else { return 0 }  // request targets in origin-form; anything else is not a path
    guard bytes.first == UInt8(ascii: "/") else { fail("no leading slash") }
    let segments = bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst()
    for (index, segment) in segments.enumerated() {
        if segment.isEmpty && index < segments.count - 1 { fail("an empty segment (a doubled slash) is left") }
        if segment.elementsEqual(".".utf8) || segment.elementsEqual("..".utf8) { fail("a dot segment is left") }
    }
    var at = 0
    while at < bytes.count {
        defer { at += 1 }
        guard bytes[at] == UInt8(ascii: "%") else { continue }
        guard at + 2 < bytes.count, let high = upperHex(bytes[at + 1]), let low = upperHex(bytes[at + 2]) else {
            fail("an escape that is not two upper-case hex digits")
        }
        let value = high << 4 | low
        if value == 0 || value == UInt8(ascii: "/") || value == UInt8(ascii: "\\") { fail("a refused escape is left") }
        let unreserved = (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(value) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(value)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(value) || "-._~".utf8.contains(value)
        if unreserved { fail("an encoded unreserved byte is left") }
    }
    return 0
}

private func upperHex(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
}
