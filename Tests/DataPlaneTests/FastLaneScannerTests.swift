@testable import DataPlane
import NIOCore
import Testing

/// The fast lane's byte scanners, without sockets. What they accept is forwarded as bytes, so every
/// ambiguous head must be refused (left to llhttp and the general path), never guessed at.
@Suite struct FastLaneScannerTests {
    private let requests = RequestHeadScanner(maxHeaderBytes: 64 * 1024, maxHeaderCount: 100, maxURIBytes: 16 * 1024)

    private func scan(_ text: String) -> RequestHeadScan {
        Array(text.utf8).withUnsafeBytes { requests.scan($0) }
    }

    private func kept(_ text: String, _ head: ScannedRequestHead) -> String {
        let bytes = Array(text.utf8)
        return head.keptSpans.map { String(decoding: bytes[$0], as: UTF8.self) }.joined()
    }

    @Test func aPlainRequestKeepsItsEndToEndFieldsInOrder() throws {
        let text = "GET /a/b?x=1 HTTP/1.1\r\nHost: Shop.Example.com:8080\r\nAccept: */*\r\nConnection: keep-alive\r\n"
            + "TE: trailers\r\nX-Request-Id: req-7\r\nKeep-Alive: timeout=5\r\nUser-Agent: t\r\n\r\nGET /next"
        guard case .head(let head) = scan(text) else { Issue.record("not scanned"); return }
        #expect(head.method == "GET" && head.target == "/a/b?x=1" && head.host == "Shop.Example.com:8080")
        #expect(head.length == text.utf8.count - "GET /next".utf8.count, "the pipelined request after it is not part of it")
        #expect(kept(text, head) == "Host: Shop.Example.com:8080\r\nAccept: */*\r\nX-Request-Id: req-7\r\nUser-Agent: t\r\n")
        #expect(head.requestID == "req-7" && !head.closeRequested)
    }

    @Test func tokenBytesAreExactlyRFC9110TChar() {
        let tchar = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        for byte in UInt8.min...UInt8.max {
            #expect(RequestHeadScanner.isTokenByte(byte) == tchar.contains(byte), "byte \(byte)")
        }
    }

    @Test func headerMatchesReadTheFirstValueOfAField() throws {
        if case .head = scan("GET / HTTP/1.1\r\nHost: a\r\nX-Env: canary \r\n\r\n") {
            Issue.record("trailing whitespace: llhttp keeps it in the value, so the general path must decide")
        }
        let text = "GET / HTTP/1.1\r\nHost: a\r\nX-Env:  canary\r\nx-env: second\r\n\r\n"
        guard case .head(let head) = scan(text) else { Issue.record("not scanned"); return }
        Array(text.utf8).withUnsafeBytes { bytes in
            #expect(RequestHeadScanner.value(of: "x-env", in: bytes, head) == "canary")
            #expect(RequestHeadScanner.value(of: "x-missing", in: bytes, head) == nil)
        }
    }

    @Test func identityFieldsArchwayRewritesAreNotForwardedAsSent() throws {
        let text = "GET / HTTP/1.1\r\nHost: a\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
            + "X-Request-Id: has space\r\nConnection: close\r\n\r\n"
        guard case .head(let head) = scan(text) else { Issue.record("not scanned"); return }
        #expect(kept(text, head) == "Host: a\r\n")
        #expect(head.requestID == nil, "an id with a space is replaced, as the general path does")
        #expect(head.traceparent?.hasPrefix("00-0af7") == true && head.closeRequested)
    }

    /// A request that came through a load balancer keeps its chain: the lane merges this hop into it.
    @Test func aForwardedChainIsKeptAndMarked() throws {
        let text = "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\nForwarded: for=10.0.0.1\r\n\r\n"
        guard case .head(let head) = scan(text) else { Issue.record("not scanned"); return }
        #expect(head.forwardedChain)
        #expect(kept(text, head) == "Host: a\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\nForwarded: for=10.0.0.1\r\n")
        guard case .head(let plain) = scan("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded: no\r\n\r\n") else { Issue.record("not scanned"); return }
        #expect(!plain.forwardedChain, "only the four forwarding fields count")
    }

    /// The gateway answers `Expect: 100-continue` itself: the line is not forwarded.
    @Test func aContinueExpectationIsMarkedAndNotForwarded() throws {
        let text = "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n"
        guard case .head(let head) = scan(text) else { Issue.record("not scanned"); return }
        #expect(head.expectsContinue && head.body == .length(3))
        #expect(kept(text, head) == "Host: a\r\nContent-Length: 3\r\n")
    }

    @Test func aBodyIsFramedByItsOneFramingField() {
        func body(_ text: String, limit: Int? = nil) -> BodyFraming? {
            let scanner = RequestHeadScanner(maxHeaderBytes: 64 * 1024, maxHeaderCount: 100, maxURIBytes: 16 * 1024, maxBodyBytes: limit)
            guard case .head(let head) = Array(text.utf8).withUnsafeBytes({ scanner.scan($0) }) else { return nil }
            return head.body
        }
        #expect(body("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello") == .length(5))
        #expect(body("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n") == .length(7))
        #expect(body("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n") == BodyFraming.none)
        #expect(body("POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding: Chunked\r\n\r\n") == .chunked)
        // Declared over the limit: the general path answers 413 at once. A chunked body is held to the
        // limit as it streams, on the lane.
        #expect(body("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", limit: 10) == nil)
        #expect(body("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n", limit: 10) == .length(10))
        #expect(body("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", limit: 10) == .chunked)
    }

    @Test func theBodyFollowerFindsWhereEachBodyEnds() {
        var length = BodyFollower(.length(5))
        let first = length.split(ByteBuffer(string: "hel"))
        #expect(first?.body == ByteBuffer(string: "hel") && first?.rest == nil && !length.ended)
        let second = length.split(ByteBuffer(string: "loGET /"))
        #expect(second?.body == ByteBuffer(string: "lo") && second?.rest == ByteBuffer(string: "GET /") && length.ended)

        var chunked = BodyFollower(.chunked)
        let wire = "3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n"
        let all = chunked.split(ByteBuffer(string: wire + "NEXT"))
        #expect(all?.body == ByteBuffer(string: wire) && all?.rest == ByteBuffer(string: "NEXT") && chunked.ended)
        var broken = BodyFollower(.chunked)
        #expect(broken.split(ByteBuffer(string: "3\r\nabcd\r\n")) == nil, "data longer than its size")
        var bareLF = BodyFollower(.chunked)
        #expect(bareLF.split(ByteBuffer(string: "3\nabc\r\n")) == nil)
    }

    @Test func theFirstTenantFieldCountsAsOnTheGeneralPath() {
        // Found by Fuzz/run request-head: the lane kept the last X-Tenant, headers.first(name:) the first.
        guard case .head(let head) = scan("GET / HTTP/1.1\r\nHost: a\r\nX-Tenant: first\r\nx-tenant: second\r\n\r\n") else {
            Issue.record("not scanned"); return
        }
        #expect(head.tenant == "first")
    }

    @Test func everyAmbiguousOrUnusualHeadIsLeftToTheGeneralPath() {
        let refused: [(String, String)] = [
            ("a coding before chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            ("chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
            ("a length with a sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello"),
            ("a length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello"),
            ("length and chunked", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            ("two lengths", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n") ,
            ("no Host", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"),
            ("two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
            ("Host that is no host", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"),
            ("obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2\r\n\r\n"),
            ("bare LF", "GET / HTTP/1.1\nHost: a\n\n"),
            ("bare LF in a field", "GET / HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n"),
            ("space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n"),
            ("NUL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{0}b\r\n\r\n"),
            ("HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\n\r\n"),
            ("absolute form", "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n"),
            ("asterisk form", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"),
            ("lower-case method", "get / HTTP/1.1\r\nHost: a\r\n\r\n"),
            ("two spaces", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n"),
            ("upgrade", "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
            ("other connection tokens", "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Secret\r\n\r\n"),
            ("another expectation", "GET / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n"),
            ("two expectations", "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n"),
            ("two request ids", "GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: 1\r\nX-Request-Id: 2\r\n\r\n"),
            ("non-ASCII value", "GET / HTTP/1.1\r\nHost: a\r\nX: caf\u{e9}\r\n\r\n"),
            ("not HTTP", "\u{16}\u{3}\u{1}\u{2}\u{0}\u{1}\u{0}\u{1}\u{fc}\u{3}\u{3}"),
            // Found by FastLaneDifferentialTests: llhttp refuses methods it does not know, and keeps
            // trailing whitespace in a value; either way the general path must be the one to answer.
            ("unknown method", "NELETE / HTTP/1.1\r\nHost: a\r\n\r\n"),
            ("the HTTP/2 preface's method", "PRI / HTTP/1.1\r\nHost: a\r\n\r\n"),
            ("trailing whitespace in Host", "GET / HTTP/1.1\r\nHost: a \r\n\r\n"),
        ]
        for (why, text) in refused {
            guard case .unsuitable = scan(text) else { Issue.record("\(why) was not refused: \(scan(text))"); continue }
        }
    }

    @Test func aHeadArrivingInPiecesIsIncompleteUntilItsLastByte() {
        let text = "GET /x HTTP/1.1\r\nHost: a.example.com\r\nAccept: */*\r\n\r\n"
        for cut in 1..<text.utf8.count {
            let prefix = String(decoding: Array(text.utf8)[..<cut], as: UTF8.self)
            guard case .incomplete = scan(prefix) else { Issue.record("prefix of \(cut) bytes: \(scan(prefix))"); return }
        }
        guard case .head = scan(text) else { Issue.record("whole head not scanned"); return }
    }

    // MARK: Responses

    private func response(_ text: String, head: Bool = false) -> ResponseHeadScan {
        Array(text.utf8).withUnsafeBytes { ResponseHeadScanner().scan($0, requestIsHEAD: head) }
    }

    @Test func responseFramingIsReadStrictly() {
        func framing(_ text: String, head: Bool = false) -> ScannedResponseHead.Framing? {
            if case .head(let scanned) = response(text, head: head) { return scanned.framing }
            return nil
        }
        #expect(framing("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n") == .length(12))
        #expect(framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") == .chunked)
        #expect(framing("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", head: true) == ScannedResponseHead.Framing.none)
        #expect(framing("HTTP/1.1 304 Not Modified\r\nContent-Length: 12\r\n\r\n") == ScannedResponseHead.Framing.none)
        #expect(framing("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n") == .untilClose)
        for malformed in ["HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                          "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
                          "HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n",
                          "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                          "HTTP/1.1 200 OK\r\nX: 1\r\n folded\r\n\r\n",
                          "HTTP/1.1 200 OK\nContent-Length: 0\n\n",
                          "SSH-2.0-OpenSSH_9.2\r\n\r\n"] {
            guard case .malformed = response(malformed) else { Issue.record("accepted: \(malformed)"); continue }
        }
    }

    /// Each found by Fuzz/run response-head: heads the scanner took where llhttp refuses them or
    /// frames their body another way.
    @Test func statusLinesAndFramingFieldsLLHTTPReadsOtherwiseAreRefused() {
        for (why, text) in [
            ("a fourth digit after the status", "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n"),
            ("a byte run on after the status", "HTTP/1.1 100\u{d6} Continue\r\n\r\n"),
            ("a status under 100, which llhttp reads until close", "HTTP/1.1 099 X\r\n\r\n"),
            ("a tab after the length, which llhttp refuses", "HTTP/1.1 200 OK\r\nContent-Length: 5\t\r\n\r\nhello"),
            ("a tab after chunked, which llhttp does not read as chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\t\r\n\r\n"),
        ] {
            guard case .malformed = response(text) else { Issue.record("\(why) was accepted: \(response(text))"); continue }
        }
        guard case .head(let head) = response("HTTP/1.1 200\r\nContent-Length: 1 \r\n\r\nx") else { Issue.record("trailing space refused"); return }
        #expect(head.framing == .length(1) && head.status == 200)
    }

    @Test func framingFieldsAreForwardedEvenWhenConnectionNamesThem() {
        // The body goes on as it came, so the line that frames it must go too, or the client reads
        // the body until close while the lane keeps the connection for the next response.
        for (text, framing) in [("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: content-length, X-A\r\nX-A: 1\r\n\r\nok", "Content-Length: 2\r\n"),
                                ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: Transfer-Encoding\r\n\r\n", "Transfer-Encoding: chunked\r\n")] {
            guard case .head(let head) = response(text) else { Issue.record("not scanned: \(text)"); continue }
            let bytes = Array(text.utf8)
            #expect(head.keptSpans.map { String(decoding: bytes[$0], as: UTF8.self) }.joined() == framing, "\(text.debugDescription)")
        }
    }

    @Test func aConnectionFieldWithACombiningMarkAfterItsColonStaysBehind() {
        // Found by Fuzz/run response-head: as a String, ":" and a combining mark are one Character,
        // so the second pass did not find the colon and forwarded the Connection line.
        let text = "HTTP/1.1 200 OK\r\nConnection:\u{59c}x, X-Secret\r\nX-Secret: s\r\nContent-Length: 0\r\n\r\n"
        guard case .head(let head) = response(text) else { Issue.record("not scanned"); return }
        let bytes = Array(text.utf8)
        #expect(head.keptSpans.map { String(decoding: bytes[$0], as: UTF8.self) }.joined() == "Content-Length: 0\r\n")
    }

    @Test func hopByHopResponseFieldsAndThoseConnectionNamesStayBehind() {
        let text = "HTTP/1.1 200 OK\r\nX-Secret: s\r\nContent-Length: 2\r\nConnection: close, X-Secret\r\nKeep-Alive: timeout=5\r\nVary: Accept\r\n\r\nok"
        guard case .head(let head) = response(text) else { Issue.record("not scanned"); return }
        let bytes = Array(text.utf8)
        #expect(head.keptSpans.map { String(decoding: bytes[$0], as: UTF8.self) }.joined() == "Content-Length: 2\r\nVary: Accept\r\n")
        #expect(!head.reusable && head.status == 200 && String(decoding: bytes[head.statusText], as: UTF8.self) == "200 OK")
        #expect(head.length == text.utf8.count - 2)
    }

    @Test func aChunkedBodyEndsAtTheSamePlaceHoweverItIsSplit() {
        let body = Array("5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer-A: 1\r\n\r\n".utf8)
        let after = Array("HTTP/1.1 200".utf8)
        for cut in 0...body.count {
            var tracker = ChunkedBodyTracker()
            let first = Array(body[..<cut]), second = Array(body[cut...]) + after
            let one = first.withUnsafeBytes { tracker.consume($0) }
            if cut == body.count {
                #expect(one == .ended(at: body.count), "cut \(cut)")
                continue
            }
            #expect(one == .needMore, "cut \(cut)")
            #expect(second.withUnsafeBytes { tracker.consume($0) } == .ended(at: body.count - cut), "cut \(cut)")
        }
        // Extensions and trailers are forwarded as they came, so they are read as strictly as llhttp
        // reads them (found by Fuzz/run chunked-body: a trailer name with a backslash).
        for ended in ["3;a\r\nabc\r\n0\r\n\r\n", "3;a=b;c=\"d \\\" e\"\r\nabc\r\n0;x=y\r\n\r\n", "0\r\nX-T: v \t\r\nY:\r\n\r\n"] {
            var tracker = ChunkedBodyTracker()
            let bytes = Array(ended.utf8)
            #expect(bytes.withUnsafeBytes { tracker.consume($0) } == .ended(at: bytes.count), "\(ended.debugDescription)")
            #expect(FastLaneOracle.checkChunked(bytes) == nil, "llhttp reads \(ended.debugDescription) otherwise")
        }
        for malformed in ["5\r\nhelloX\r\n", "zz\r\n", "\r\n", "5\nhello", "5;a b\r\n", "5;\r\n", "5;=b\r\n", "5;a=\r\n",
                          "5;a=\"b\r\n", "5;a=\"\u{1}\"\r\n", "5;a=\"b\"c\r\n", "0\r\nTrai\\er: 1\r\n\r\n", "0\r\n: v\r\n\r\n",
                          "0\r\n X: folded\r\n\r\n", "0\r\nX: a\u{0}b\r\n\r\n", "0\r\nX v\r\n\r\n"] {
            var tracker = ChunkedBodyTracker()
            #expect(Array(malformed.utf8).withUnsafeBytes { tracker.consume($0) } == .malformed, "\(malformed)")
        }
    }
}
