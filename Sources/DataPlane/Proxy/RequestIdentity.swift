import NIOCore
import NIOHTTP1

/// The identities a request carries to its backend: `X-Request-Id` (the client's, when it sent a
/// sane one, else a new one; the access log's `request_id`) and W3C trace context, where archway is
/// one hop: the caller's trace id is kept, the parent id becomes archway's own span id, and a request
/// without a valid `traceparent` starts a new trace (sampled flag off: archway does not decide sampling).
enum RequestIdentity {
    static func requestID(_ headers: HTTPHeaders, loop: EventLoopContext) -> String {
        if let given = headers.first(name: "x-request-id"), isKept(requestID: given.utf8) {
            return given
        }
        return newRequestID(loop: loop)
    }

    /// Whether a client's X-Request-Id is sane enough to keep: short, visible ASCII.
    static func isKept(requestID: some Collection<UInt8>) -> Bool {
        !requestID.isEmpty && requestID.count <= 128 && requestID.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    static func newRequestID(loop: EventLoopContext) -> String {
        hexString([loop.nextRandom(), loop.nextRandom()])
    }

    static func traceparent(_ headers: HTTPHeaders, loop: EventLoopContext) -> String {
        traceparent(given: headers.first(name: "traceparent"), loop: loop)
    }

    /// The caller's `traceparent` (nil when it sent none) continued with archway's span id.
    static func traceparent(given: String?, loop: EventLoopContext) -> String {
        let span = loop.nextRandom() | 1  // never all zeros
        if let parent = given, let (trace, flags) = parse(parent) {
            return "00-\(trace)-\(hexString([span]))-\(flags)"
        }
        return String(unsafeUninitializedCapacity: 55) { out in writeNewTrace(span: span, into: out, loop: loop) }
    }

    /// "00-" + 32 hex trace id + "-" + 16 hex span id + "-00": 55 bytes into `out`.
    private static func writeNewTrace(span: Int, into out: UnsafeMutableBufferPointer<UInt8>, loop: EventLoopContext) -> Int {
        var index = 0
        func put(_ byte: UInt8) { out[index] = byte; index += 1 }
        put(UInt8(ascii: "0")); put(UInt8(ascii: "0")); put(UInt8(ascii: "-"))
        writeHex(loop.nextRandom() | 1, into: out, at: &index)
        writeHex(loop.nextRandom(), into: out, at: &index)
        put(UInt8(ascii: "-"))
        writeHex(span, into: out, at: &index)
        put(UInt8(ascii: "-")); put(UInt8(ascii: "0")); put(UInt8(ascii: "0"))
        return index
    }

    /// `traceparent(given:loop:)` written straight into a request being built, without a String
    /// when a new trace starts (the usual case).
    static func writeTraceparent(given: String?, into buffer: inout ByteBuffer, loop: EventLoopContext) {
        guard given == nil else {
            buffer.writeString(traceparent(given: given, loop: loop))
            return
        }
        let span = loop.nextRandom() | 1
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 55) { raw in
            writeNewTrace(span: span, into: raw.bindMemory(to: UInt8.self), loop: loop)
        }
    }

    /// A new request id (32 hex digits) written straight into a request being built.
    static func writeNewRequestID(into buffer: inout ByteBuffer, loop: EventLoopContext) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 32) { raw in
            let out = raw.bindMemory(to: UInt8.self)
            var index = 0
            writeHex(loop.nextRandom(), into: out, at: &index)
            writeHex(loop.nextRandom(), into: out, at: &index)
            return index
        }
    }

    /// version-traceid-parentid-flags, lower-case hex, ids not all zero, version not ff.
    static func parse(_ value: String) -> (trace: Substring, flags: Substring)? {
        let parts = value.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].count == 2, parts[0] != "ff", parts[1].count == 32, parts[2].count == 16, parts[3].count == 2,
              parts[0...3].allSatisfy({ $0.utf8.allSatisfy(isLowerHex) }),
              parts[1].contains(where: { $0 != "0" }), parts[2].contains(where: { $0 != "0" }) else { return nil }
        if parts[0] == "00" && parts.count != 4 { return nil }
        return (parts[1], parts[3])
    }

    private static func isLowerHex(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }

    /// 16 lower-case hex digits per word, in one allocation.
    static func hexString(_ words: [Int]) -> String {
        String(unsafeUninitializedCapacity: words.count * 16) { out in
            var index = 0
            for word in words { writeHex(word, into: out, at: &index) }
            return index
        }
    }


    private static func writeHex(_ word: Int, into out: UnsafeMutableBufferPointer<UInt8>, at index: inout Int) {
        let value = UInt64(bitPattern: Int64(word))
        for shift in stride(from: 60, through: 0, by: -4) {
            let digit = UInt8(truncatingIfNeeded: (value >> UInt64(shift)) & 0xF)
            out[index] = digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") - 10 + digit
            index += 1
        }
    }
}
