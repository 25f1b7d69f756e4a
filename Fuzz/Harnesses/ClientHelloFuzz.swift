// libFuzzer entry for ClientHelloALPN (Sources/DataPlane/TLS/ClientHelloALPN.swift), the read of a
// connection's first bytes for ALPN acme-tls/1 while a TLS-ALPN-01 challenge is pending. Never a
// crash or a hang on any bytes; a yes needs the whole record and the protocol name in it, so cutting
// the input short of the record never says yes, and bytes after the record change nothing.

private let acmeTLS1 = Array("acme-tls/1".utf8)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzClientHello(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    func offers(_ input: [UInt8]) -> Bool { input.withUnsafeBytes { ClientHelloALPN.offers(acmeTLS1, in: $0) } }
    func fail(_ why: String) -> Never { fatalError("\(why): \(bytes)") }
    guard offers(bytes) else { return 0 }
    guard bytes.count >= 5 else { fail("yes without a record header") }
    let recordEnd = 5 + (Int(bytes[3]) << 8 | Int(bytes[4]))
    guard bytes.count >= recordEnd else { fail("yes for a record cut short") }
    let named = ([UInt8(acmeTLS1.count)] + acmeTLS1)
    guard (0...(recordEnd - named.count)).contains(where: { bytes[$0..<($0 + named.count)].elementsEqual(named) }) else {
        fail("yes without the length-prefixed protocol name in the record")
    }
    if offers(Array(bytes.prefix(recordEnd - 1))) { fail("yes for the record minus its last byte") }
    if !offers(Array(bytes.prefix(recordEnd)) + [0x17, 0x03, 0x03]) { fail("bytes after the record changed the answer") }
    return 0
}
