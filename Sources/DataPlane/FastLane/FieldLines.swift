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
            var at = start - buffer.readerIndex
            while at < raw.count {
                var colon = at
                while raw[colon] != UInt8(ascii: ":") { colon += 1 }
                var valueStart = colon + 1
                while raw[valueStart] == UInt8(ascii: " ") || raw[valueStart] == UInt8(ascii: "\t") { valueStart += 1 }
                var end = valueStart
                while raw[end] != UInt8(ascii: "\r") { end += 1 }
                lines.append((at..<colon, valueStart..<end, at..<(end + 2)))
                at = end + 2
            }
        }
        removed = Array(repeating: false, count: lines.count)
    }

    static func edit(_ buffer: inout ByteBuffer, from start: Int, with edits: [HeaderEdits]) {
        var fields = FieldLines(buffer, from: start)
        for edit in edits { HeaderRules.apply(edit, to: &fields) }
        guard fields.removed.contains(true) || !fields.appended.isEmpty else { return }
        buffer.moveWriterIndex(to: start)
        fields.source.withUnsafeReadableBytes { raw in
            for (index, line) in fields.lines.enumerated() where !fields.removed[index] {
                buffer.writeBytes(UnsafeRawBufferPointer(rebasing: raw[line.line]))
            }
        }
        for (name, value) in fields.appended {
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
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
