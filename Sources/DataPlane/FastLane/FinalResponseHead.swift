import NIOCore

extension ResponseHeadScanner {
    /// The final response head at the start of what a backend sent (`held`, the start of a head
    /// that had not all arrived, then `buffer`). Interim answers (103 Early Hints, a stray 100) stay
    /// between archway and the backend and are skipped; a 101 is returned for the caller to judge.
    /// On `.head`, `buffer` starts with that head; on `.incomplete`, it is all in `held`.
    static func finalHead(_ buffer: inout ByteBuffer, held: inout ByteBuffer?, requestIsHEAD: Bool) -> ResponseHeadScan {
        if var start = held {
            start.writeBuffer(&buffer)
            buffer = start
            held = nil
        }
        while true {
            let scan = buffer.withUnsafeReadableBytes { ResponseHeadScanner().scan($0, requestIsHEAD: requestIsHEAD) }
            switch scan {
            case .incomplete:
                held = buffer
                return .incomplete
            case .head(let head) where head.status < 200 && head.status != 101:
                buffer.moveReaderIndex(forwardBy: head.length)
                if buffer.readableBytes == 0 { return .incomplete }
            case .head, .malformed:
                return scan
            }
        }
    }
}
