import NIOCore
import NIOHTTP1
import RoutingTable

/// Header filters on the fast lane's bytes. The field lines written so far (from `start` to the end
/// of the buffer, each `name: value\r\n`, all produced or checked by the lane's scanners) are read
/// into HTTPHeaders, edited by `HeaderRules.apply` (the one implementation both paths use), and
/// written back in their place. Only routes with a filter pay for it.
enum FieldLines {
    static func edit(_ buffer: inout ByteBuffer, from start: Int, with edits: [HeaderEdits]) {
        var headers = HTTPHeaders()
        buffer.withUnsafeReadableBytes { raw in
            let base = start - buffer.readerIndex
            var at = base
            while at < raw.count {
                var colon = at
                while raw[colon] != UInt8(ascii: ":") { colon += 1 }
                var end = colon
                while raw[end] != UInt8(ascii: "\r") { end += 1 }
                let name = String(decoding: UnsafeRawBufferPointer(rebasing: raw[at..<colon]), as: UTF8.self)
                let value = String(decoding: UnsafeRawBufferPointer(rebasing: raw[(colon + 1)..<end]), as: UTF8.self)
                headers.add(name: name, value: String(value.drop { $0 == " " || $0 == "\t" }))
                at = end + 2
            }
        }
        for edit in edits { HeaderRules.apply(edit, to: &headers) }
        buffer.moveWriterIndex(to: start)
        for (name, value) in headers {
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
    }
}
