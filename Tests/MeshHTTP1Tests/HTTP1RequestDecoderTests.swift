import XCTest
@testable import MeshNet
@testable import MeshHTTP1

/// The server side of the streaming codec: heads, body parts and ends; the refusals and their statuses.
final class HTTP1RequestDecoderTests: XCTestCase {
    /// The parts the decoder makes of `chunks` fed one after another, as text; a refusal ends the list.
    private func parts(_ chunks: [String], maxHead: Int = 256) -> [String] {
        var decoder = HTTP1RequestDecoder(maxHeadBytes: maxHead)
        var seen: [String] = []
        for chunk in chunks {
            decoder.feed(ByteBuffer(string: chunk))
            do {
                while let part = try decoder.next() {
                    switch part {
                    case .head(let head): seen.append("head \(head.method) \(head.target) \(head.version)")
                    case .body(let bytes): seen.append("body \(String(decoding: bytes.readableArray, as: UTF8.self))")
                    case .end: seen.append("end")
                    }
                }
            } catch {
                seen.append("\(error.status) \(error.reason)")
                return seen
            }
        }
        return seen
    }

    func testPipelinedRequestsWithBodiesInParts() {
        XCTAssertEqual(parts(["GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.0\r\n\r\n"]), ["head GET /a 11", "end", "head GET /b 10", "end"])
        XCTAssertEqual(parts(["POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhe", "llo", "GET / HTTP/1.1\r\n\r\n"]),
                       ["head POST /p 11", "body he", "body llo", "end", "head GET / 11", "end"])
        XCTAssertEqual(parts(["POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: v\r\n\r\n"]),
                       ["head POST /c 11", "body abc", "body de", "end"])
        XCTAssertEqual(parts(["\r\nGET /after-blank HTTP/1.1\r\n\r\n"]), ["head GET /after-blank 11", "end"], "an empty line before the request line")
    }

    func testKeepAliveHeadsReadOverTheLastHeadsFields() throws {
        // Each head is set over the last one's fields (same spelling keeps its String): what each says still holds.
        let agent = "Mozilla/5.0 (X11; Linux x86_64) long enough for its own storage"
        XCTAssertEqual(parts(["GET /a HTTP/1.1\r\nUser-Agent: \(agent)\r\nHost: x\r\nAccept: */*\r\n\r\n",
                              "POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\nHost: x\r\n\r\n2\r\nok\r\n0\r\n\r\n",
                              "POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi",
                              "GET /d HTTP/1.1\r\nUser-Agent: \(agent)\r\n\r\n"]),
                       ["head GET /a 11", "end", "head POST /b 11", "body ok", "end", "head POST /c 11", "body hi", "end", "head GET /d 11", "end"])
        var decoder = HTTP1RequestDecoder()
        decoder.feed(ByteBuffer(string: "GET /a HTTP/1.1\r\nUser-Agent: \(agent)\r\nHost: x\r\nX-One: 1\r\n\r\n"))
        guard case .head = try decoder.nextEvent() else { return XCTFail("no head") }
        XCTAssertEqual(decoder.takeHead().headers.map(\.value), [agent, "x", "1"])
        _ = try decoder.nextEvent()
        decoder.feed(ByteBuffer(string: "GET /b HTTP/1.1\r\nUser-Agent: \(agent)\r\nhost: y\r\n\r\n"))
        guard case .head = try decoder.nextEvent() else { return XCTFail("no second head") }
        let second = decoder.takeHead()
        XCTAssertEqual(second.headers.map(\.name), ["User-Agent", "host"])
        XCTAssertEqual(second.headers.map(\.value), [agent, "y"])
    }

    func testBodyPartsAreSlicesOfWhatWasRead() throws {
        var decoder = HTTP1RequestDecoder()
        let read = ByteBuffer(string: "PUT /x HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody")
        decoder.feed(read)
        guard case .head = try decoder.next(), case .body(let part) = try decoder.next() else { return XCTFail("head then body") }
        XCTAssertTrue(part.sharesStorage(with: read), "the part is a slice of the read, not a copy")
        guard case .end = try decoder.next() else { return XCTFail("end") }
        XCTAssertEqual(decoder.buffered, 0)
    }

    func testTheHeadSearchResumesWhereItStopped() throws {
        var decoder = HTTP1RequestDecoder(maxHeadBytes: 64 * 1024)
        let head = "GET / HTTP/1.1\r\n" + (0..<200).map { "X-Field-\($0): \(String(repeating: "v", count: 40))\r\n" }.joined() + "\r\n"
        var fed = 0
        for byte in head.utf8.dropLast() {
            decoder.feed(ByteBuffer(bytes: [byte]))
            fed += 1
            XCTAssertNil(try decoder.next())
            // Everything fed was searched, but for a CR whose LF has not come: no byte is looked at twice over.
            XCTAssertGreaterThanOrEqual(decoder.searchedTo, fed - 1)
        }
        decoder.feed(ByteBuffer(string: "\n"))
        guard case .head(let parsed) = try decoder.next() else { return XCTFail("the head") }
        XCTAssertEqual(parsed.headers.count, 200)
    }

    func testMalformedHeadsAreRefusedWithTheirStatus() {
        XCTAssertEqual(parts(["GET / HTTP/1.1\nHost: x\n\n"]).last, "400 a line of the request head ends with a bare LF: HTTP/1.1 lines end with CRLF (\\r\\n)")
        XCTAssertEqual(parts(["GET / HTTP/1.1\r\nX: a\rb\r\n\r\n"]).last?.hasPrefix("400 a CR without its LF"), true)
        XCTAssertEqual(parts(["GET / HTTP/1.1\r\nX: a\u{0}b\r\n\r\n"]).last, "400 a NUL byte in the request head")
        XCTAssertEqual(parts(["GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n"]).last,
                       "400 a header line starts with whitespace (obs-fold): send each field on one line")
        XCTAssertEqual(parts(["POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"]).last,
                       "400 both Transfer-Encoding and Content-Length: send one of them")
        XCTAssertEqual(parts(["POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"]).last, "400 two Content-Length fields: send one")
        XCTAssertEqual(parts(["POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nabc"]).last?.hasPrefix("400 a bad Content-Length 3, 3"), true)
        XCTAssertEqual(parts(["POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"]).last?.hasPrefix("400 a bad Content-Length -1"), true)
        XCTAssertEqual(parts(["POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"]).last?.hasPrefix("501 unsupported Transfer-Encoding gzip"), true)
        XCTAssertEqual(parts(["GET / HTTP/2.0\r\n\r\n"]).last, "505 unsupported protocol version HTTP/2.0")
        XCTAssertEqual(parts(["GET  / HTTP/1.1\r\n\r\n"]).last?.hasPrefix("400 a malformed request line"), true)
        XCTAssertEqual(parts(["GET / HTTP/1.1\r\nBad Name: v\r\n\r\n"]).last?.hasPrefix("400 a malformed header line"), true)
        XCTAssertEqual(parts(["POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]).last?.hasPrefix("400 bad chunk size zz"), true)
    }

    /// One request per kind of refusal, each refused with exactly that kind (and the kind's status).
    static let refusalExamples: [(HTTP1RequestDecoder.Kind, String)] = [
        (.nulInHead, "GET / HTTP/1.1\r\nX: a\u{0}b\r\n\r\n"),
        (.bareLineBreak, "GET / HTTP/1.1\nHost: x\n\n"),
        (.bareLineBreak, "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n"),
        (.headTooLarge, "GET /" + String(repeating: "a", count: 300)),
        (.emptyHead, "\r\n\r\n\r\n\r\n"),
        (.malformedRequestLine, "GET  / HTTP/1.1\r\n\r\n"),
        (.unsupportedVersion, "GET / HTTP/2.0\r\n\r\n"),
        (.foldedHeaderLine, "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"),
        (.malformedHeaderLine, "GET / HTTP/1.1\r\nBad Name: v\r\n\r\n"),
        (.repeatedContentLength, "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"),
        (.badContentLength, "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
        (.contentLengthWithTransferEncoding, "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
        (.unsupportedTransferEncoding, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
        (.badChunkedBody, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        (.badChunkedBody, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n"),
    ]

    func testEachRefusalSaysItsKind() {
        for (kind, request) in Self.refusalExamples {
            var decoder = HTTP1RequestDecoder(maxHeadBytes: 256)
            decoder.feed(ByteBuffer(string: request))
            do {
                while try decoder.next() != nil {}
                XCTFail("not refused: \(request.debugDescription)")
            } catch {
                XCTAssertEqual(error.kind, kind, "\(request.debugDescription): \(error)")
                XCTAssertEqual(error.status, kind.status)
            }
        }
        let shown = Set(Self.refusalExamples.map { "\($0.0)" })
        XCTAssertEqual(shown, Set(HTTP1RequestDecoder.Kind.allCases.map { "\($0)" }), "every kind has an example")
    }

    func testAnOversizeHeadIs431EvenBeforeItEnds() {
        XCTAssertEqual(parts(["GET /" + String(repeating: "a", count: 300)]).last, "431 the request head is larger than 256 bytes")
        XCTAssertEqual(parts(["GET / HTTP/1.1\r\nX: " + String(repeating: "b", count: 300) + "\r\n\r\n"]).last,
                       "431 the request head is larger than 256 bytes")
    }

    func testKeepAliveFollowsTheVersionAndConnectionHeader() {
        XCTAssertTrue(HTTPRequestHead(method: "GET", target: "/").keepAlive)
        XCTAssertFalse(HTTPRequestHead(method: "GET", target: "/", headers: [("Connection", "close")]).keepAlive)
        XCTAssertFalse(HTTPRequestHead(method: "GET", target: "/", version: 10).keepAlive)
        XCTAssertTrue(HTTPRequestHead(method: "GET", target: "/", version: 10, headers: [("Connection", "Keep-Alive")]).keepAlive)
    }
}

extension HTTP1RequestDecoderTests {
    func testConnectionOptionsAreTokensInAnyCase() {
        XCTAssertFalse(HTTPRequestHead(method: "GET", target: "/", headers: [("Connection", "Upgrade, CLOSE")]).keepAlive)
        XCTAssertTrue(HTTPRequestHead(method: "GET", target: "/", headers: [("Connection", "closed-captions")]).keepAlive, "a token, not a substring")
        XCTAssertTrue(HTTPRequestHead(method: "GET", target: "/", version: 10, headers: [("Connection", " keep-alive ,x")]).keepAlive)
        XCTAssertFalse(HTTPRequest(method: "GET", target: "/", headers: [("connection", "close")]).keepAlive)
    }
}

extension HTTP1RequestDecoderTests {
    /// Status lines come from a table for the statuses with a reason phrase, and are written piece by piece otherwise.
    func testResponseHeadsOfNamedAndUnnamedStatuses() {
        let named = String(decoding: HTTPResponse.head(status: 404, headers: [("A", "b")]), as: UTF8.self)
        XCTAssertEqual(named, "HTTP/1.1 404 Not Found\r\nA: b\r\n\r\n")
        XCTAssertEqual(String(decoding: HTTPResponse.head(status: 299, headers: []), as: UTF8.self), "HTTP/1.1 299 Status 299\r\n\r\n")
        XCTAssertEqual(String(decoding: HTTPResponse.head(status: 700, headers: []), as: UTF8.self), "HTTP/1.1 700 Status 700\r\n\r\n")
        XCTAssertEqual(String(decoding: HTTPResponse.head(status: 100, headers: []), as: UTF8.self), "HTTP/1.1 100 Continue\r\n\r\n")
    }

    /// The request line's and fields' shapes, read by index loops: each malformed shape is still refused.
    func testMalformedRequestLinesAndFieldsAreRefused() {
        let line = "400 a malformed request line: it must be METHOD SP TARGET SP HTTP/1.1"
        for bad in ["GET  / HTTP/1.1", " GET / HTTP/1.1", "GET /", "GET / HTTP/1.1 x", "G(T / HTTP/1.1", "GET"] {
            XCTAssertEqual(parts([bad + "\r\n\r\n"]), [line], bad)
        }
        let field = "400 a malformed header line: it must be NAME: VALUE, the name without spaces"
        for bad in ["Host", ": x", "Ho st: x", "Host : x"] {
            XCTAssertEqual(parts(["GET / HTTP/1.1\r\n" + bad + "\r\n\r\n"]), [field], bad)
        }
        var decoder = HTTP1RequestDecoder()
        decoder.feed(ByteBuffer(string: "GET /p?q HTTP/1.0\r\nHost:\t example \t\r\nX-Empty:\r\nContent-Length: 0\r\n\r\n"))
        guard case .head(let head) = try? decoder.next() else { return XCTFail("the head") }
        XCTAssertEqual(head.method, "GET")
        XCTAssertEqual(head.target, "/p?q")
        XCTAssertEqual(head.version, 10)
        XCTAssertEqual(head.headers.map(\.name), ["Host", "X-Empty", "Content-Length"])
        XCTAssertEqual(head.headers.map(\.value), ["example", "", "0"], "values without the whitespace around them")
    }
}

extension HTTP1RequestDecoderTests {
    /// Common methods and names come back as literals, everything else as decoded: the same strings either way.
    func testCommonStringsAreTheBytesSpelled() {
        let texts = ["GET", "PUT", "Host", "POST", "HEAD", "Date", "host", "Accept", "Server", "DELETE", "User-Agent", "Connection",
                     "Content-Type", "content-type", "Content-Length", "content-length", "Accept-Encoding", "Transfer-Encoding",
                     "GEt", "HOST", "Hosts", "", "X-Request-Id", "Content-Lengtx", "tRANSFER-eNCODING", "caf\u{e9}", "x"]
        for text in texts {
            let bytes = Array(text.utf8)
            let made = bytes.withUnsafeBytes { HeadSyntax.commonString($0) }
            XCTAssertEqual(made, text)
            XCTAssertEqual(Array(made.utf8), bytes, text)
        }
    }
}
