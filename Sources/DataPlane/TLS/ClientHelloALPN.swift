/// Whether a connection's first bytes are a whole TLS ClientHello that offers a given ALPN protocol
/// (RFC 7301). NIO's SNIHandler reports only the server name; a TLS-ALPN-01 challenge (RFC 8737) is
/// told from an ordinary handshake for the same name by the `acme-tls/1` protocol. Reads the bytes in
/// place: no copy, no allocation. Anything that is not a whole, well-formed ClientHello in one TLS
/// record (split over reads or records, truncated, malformed) counts as not offering it, and the
/// connection takes its ordinary path, where the TLS stack judges the bytes.
///
/// Depends on nothing but the standard library, so Fuzz/run compiles it alone (target client-hello-alpn).
enum ClientHelloALPN {
    static func offers(_ protocolName: [UInt8], in bytes: UnsafeRawBufferPointer) -> Bool {
        var record = Cursor(bytes)
        // Record header: handshake (22), any legacy version, the length; the record must be whole.
        guard record.byte() == 22, record.skip(2), let recordLength = record.uint16(), var handshake = record.take(recordLength),
              // Handshake header: client_hello (1) and its 24-bit length, whole inside this record.
              handshake.byte() == 1, let helloLength = handshake.uint24(), var hello = handshake.take(helloLength),
              // legacy_version and random, then the variable-length session id, cipher suites and compression methods.
              hello.skip(2 + 32), let sessionID = hello.byte(), hello.skip(sessionID),
              let cipherSuites = hello.uint16(), hello.skip(cipherSuites),
              let compressionMethods = hello.byte(), hello.skip(compressionMethods),
              let extensionsLength = hello.uint16(), var extensions = hello.take(extensionsLength)
        else { return false }
        // Each pass consumes at least the 4-byte extension header, so the loop ends.
        while !extensions.isAtEnd {
            guard let type = extensions.uint16(), let length = extensions.uint16(), var body = extensions.take(length) else { return false }
            guard type == 16 else { continue }  // application_layer_protocol_negotiation
            guard let listLength = body.uint16(), var names = body.take(listLength) else { return false }
            while !names.isAtEnd {
                guard let nameLength = names.byte(), let name = names.bytes(nameLength) else { return false }
                if name.elementsEqual(protocolName) { return true }
            }
            return false
        }
        return false
    }

    /// Reads forward through a bounded range of the bytes; every read says nil (and consumes nothing
    /// further) when the range has fewer bytes left than it needs.
    private struct Cursor {
        private let bytes: UnsafeRawBufferPointer
        private var position: Int
        private let end: Int

        init(_ bytes: UnsafeRawBufferPointer) { self.init(bytes, from: 0, to: bytes.count) }

        private init(_ bytes: UnsafeRawBufferPointer, from position: Int, to end: Int) {
            self.bytes = bytes
            self.position = position
            self.end = end
        }

        var isAtEnd: Bool { position >= end }

        mutating func skip(_ count: Int) -> Bool {
            guard count <= end - position else { return false }
            position += count
            return true
        }

        mutating func byte() -> Int? {
            guard position < end else { return nil }
            defer { position += 1 }
            return Int(bytes[position])
        }

        mutating func uint16() -> Int? {
            guard 2 <= end - position else { return nil }
            defer { position += 2 }
            return Int(bytes[position]) << 8 | Int(bytes[position + 1])
        }

        mutating func uint24() -> Int? {
            guard 3 <= end - position else { return nil }
            defer { position += 3 }
            return Int(bytes[position]) << 16 | Int(bytes[position + 1]) << 8 | Int(bytes[position + 2])
        }

        /// The next `count` bytes as a cursor of their own.
        mutating func take(_ count: Int) -> Cursor? {
            guard count <= end - position else { return nil }
            defer { position += count }
            return Cursor(bytes, from: position, to: position + count)
        }

        mutating func bytes(_ count: Int) -> UnsafeRawBufferPointer.SubSequence? {
            guard count <= end - position else { return nil }
            defer { position += count }
            return bytes[position..<(position + count)]
        }
    }
}
