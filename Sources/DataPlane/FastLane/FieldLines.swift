#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import NIOCore
import RoutingTable

/// Header filters on the fast lane's bytes: the field lines written so far (from `start` to the end
/// of the buffer, each `name: value\r\n`, all produced or checked by the lane's scanners) edited by
/// `HeaderRules.apply`, the one implementation both paths use. Lines the filters leave alone are
/// copied as bytes; only the names they touch are compared, and only added values become strings.
struct FieldLines: EditableFields {
    private let source: ByteBuffer
    private var lines: [(name: Range<Int>, value: Range<Int>, line: Range<Int>)] = []
    private var removed: [Bool] = []
    private var appended: [(name: String, value: String)] = []

    private init(_ buffer: ByteBuffer, from start: Int) {
        source = buffer
        buffer.withUnsafeReadableBytes { raw in
            Self.forEachLine(raw, from: start - buffer.readerIndex) { lines.append(($0, $1, $2)) }
        }
        removed = Array(repeating: false, count: lines.count)
    }

    /// Each field line from `start` on, up to the end of `raw` or an empty line: its name, its value
    /// without the whitespace around it, and the whole line with its CRLF. The lines must have been
    /// checked by one of the scanners (a colon in each, CRLF endings): nothing is validated here.
    static func forEachLine(_ raw: UnsafeRawBufferPointer, from start: Int,
                            _ body: (_ name: Range<Int>, _ value: Range<Int>, _ line: Range<Int>) -> Void) {
        var at = start
        while at < raw.count, raw[at] != UInt8(ascii: "\r") {
            var colon = at
            while raw[colon] != UInt8(ascii: ":") { colon += 1 }
            var valueStart = colon + 1
            while raw[valueStart] == UInt8(ascii: " ") || raw[valueStart] == UInt8(ascii: "\t") { valueStart += 1 }
            var end = valueStart
            while raw[end] != UInt8(ascii: "\r") { end += 1 }
            var valueEnd = end
            while valueEnd > valueStart, raw[valueEnd - 1] == UInt8(ascii: " ") || raw[valueEnd - 1] == UInt8(ascii: "\t") { valueEnd -= 1 }
            body(at..<colon, valueStart..<valueEnd, at..<(end + 2))
            at = end + 2
        }
    }

    /// Edits the field lines in place. The lines are read and the edits planned first, with the
    /// buffer shared; it is only written once that reader is gone, so nothing is copied on write.
    static func edit(_ buffer: inout ByteBuffer, from start: Int, with edits: [HeaderEdits]) {
        edit(&buffer, from: start) { fields in
            for edit in edits { HeaderRules.apply(edit, to: &fields) }
        }
    }

    /// The same with any edit the general path makes on HTTPHeaders through `EditableFields`.
    static func edit(_ buffer: inout ByteBuffer, from start: Int, _ apply: (inout FieldLines) -> Void) {
        let (dropped, appended) = plan(buffer, from: start, apply)
        if !dropped.isEmpty { compact(&buffer, dropping: dropped) }
        for (name, value) in appended {
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
    }

    /// The lines the edits remove (in order, relative to the readable bytes) and the ones they add.
    private static func plan(_ buffer: ByteBuffer, from start: Int, _ apply: (inout FieldLines) -> Void)
        -> ([Range<Int>], [(name: String, value: String)]) {
        var fields = FieldLines(buffer, from: start)
        apply(&fields)
        let dropped = fields.lines.indices.filter { fields.removed[$0] }.map { fields.lines[$0].line }
        return (dropped, fields.appended)
    }

    /// Removes whole lines by moving the bytes after each one down over it (memmove: the regions overlap).
    private static func compact(_ buffer: inout ByteBuffer, dropping dropped: [Range<Int>]) {
        let end = buffer.withUnsafeMutableReadableBytes { raw -> Int in
            var write = dropped[0].lowerBound
            for (index, gap) in dropped.enumerated() {
                let keptEnd = index + 1 < dropped.count ? dropped[index + 1].lowerBound : raw.count
                let kept = keptEnd - gap.upperBound
                if kept > 0 { memmove(raw.baseAddress! + write, raw.baseAddress! + gap.upperBound, kept) }
                write += kept
            }
            return write
        }
        buffer.moveWriterIndex(to: buffer.readerIndex + end)
    }

    /// `lowercase`: the name already lowercased, as `equalsLowercaseASCII` (the lane's one
    /// case-insensitive compare) takes it.
    private func isNamed(_ index: Int, _ lowercase: String) -> Bool {
        source.withUnsafeReadableBytes { $0[lines[index].name].equalsLowercaseASCII(lowercase) }
    }

    func values(named name: String) -> [String] {
        let lowercase = name.lowercased()
        var values: [String] = []
        for index in lines.indices where !removed[index] && isNamed(index, lowercase) {
            values.append(source.withUnsafeReadableBytes { String(decoding: UnsafeRawBufferPointer(rebasing: $0[lines[index].value]), as: UTF8.self) })
        }
        return values + appended.filter { $0.name.lowercased() == lowercase }.map(\.value)
    }

    mutating func add(name: String, value: String) { appended.append((name, value)) }

    mutating func replaceOrAdd(name: String, value: String) {
        remove(name: name)
        add(name: name, value: value)
    }

    mutating func remove(name: String) {
        let lowercase = name.lowercased()
        for index in lines.indices where !removed[index] && isNamed(index, lowercase) { removed[index] = true }
        appended.removeAll { $0.name.lowercased() == lowercase }
    }
}
