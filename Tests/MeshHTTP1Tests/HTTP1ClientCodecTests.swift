import XCTest
@testable import MeshNet
@testable import MeshHTTP1

/// The client side of the streaming HTTP/1.1 codec: responses read part by part, requests framed for sending.
final class HTTP1ClientCodecTests: XCTestCase {
    /// Feeds `chunks` one by one and describes every part: `head 200 OK`, `body hello`, `end`, or `error ...`.
    private func parts(_ chunks: [String], requests: [String] = ["GET"], closeAtEnd: Bool = false) -> [String] {
        var decoder = HTTP1ResponseDecoder(maxHeadBytes: 512)
        for method in requests { decoder.requestSent(method: method) }
        var seen: [String] = []
        func describe(_ part: HTTP1ResponseDecoder.Part) -> String {
            switch part {
            case .head(let head): return "head \(head.status) \(head.reason)"
            case .body(let bytes): return "body " + String(decoding: bytes.readableArray, as: UTF8.self)
            case .end: return "end"
            }
        }
        do {
            for chunk in chunks {
                decoder.feed(ByteBuffer(string: chunk))
                while let part = try decoder.next() { seen.append(describe(part)) }
            }
            if closeAtEnd, let part = try decoder.finishAtClose() { seen.append(describe(part)) }
        } catch {
            seen.append("error \(error)")
        }
        return seen
    }

    /// Adjacent body parts joined, so tests do not depend on where reads split.
    private func joined(_ parts: [String]) -> [String] {
        var result: [String] = []
        for part in parts {
            if part.hasPrefix("body "), let last = result.last, last.hasPrefix("body ") {
                result[result.count - 1] = last + part.dropFirst(5)
            } else {
                result.append(part)
            }
        }
        return result
    }

    func testALengthFramedResponseSplitAtEveryByteComesOutTheSame() {
        let response = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n\r\nhello world"
        let whole = parts([response])
        XCTAssertEqual(whole, ["head 200 OK", "body hello world", "end"])
        for split in 1..<response.utf8.count {
            let bytes = Array(response.utf8)
            let pieces = [String(decoding: bytes[..<split], as: UTF8.self), String(decoding: bytes[split...], as: UTF8.self)]
            XCTAssertEqual(joined(parts(pieces)), whole, "split at \(split)")
        }
        XCTAssertEqual(joined(parts(response.map { String($0) })), whole, "a byte at a time")
    }

    func testBodyPartsAreSlicesOfWhatWasRead() throws {
        var decoder = HTTP1ResponseDecoder()
        decoder.requestSent(method: "GET")
        let read = ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        decoder.feed(read)
        _ = try decoder.next()
        guard case .body(let body) = try decoder.next() else { return XCTFail("no body part") }
        XCTAssertTrue(body.sharesStorage(with: read), "no copy of the body")
    }

    func testChunkedWithExtensionsAndTrailersThenAPipelinedResponse() {
        XCTAssertEqual(joined(parts(["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhel", "lo\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n",
                                     "HTTP/1.1 204 No Content\r\n\r\n"], requests: ["GET", "DELETE"])),
                       ["head 200 OK", "body hello world", "end", "head 204 No Content", "end"])
        XCTAssertEqual(parts(["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]), ["head 200 OK", "error bad chunk size zz"])
        XCTAssertEqual(parts(["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX"]), ["head 200 OK", "body ab", "error a chunk's data does not end with CRLF"])
    }

    func testResponsesWithoutABody() {
        XCTAssertEqual(parts(["HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n"], requests: ["HEAD"]), ["head 200 OK", "end"], "the answer to HEAD")
        XCTAssertEqual(parts(["HTTP/1.1 304 Not Modified\r\nContent-Length: 42\r\n\r\n"]), ["head 304 Not Modified", "end"])
        XCTAssertEqual(parts(["HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"]),
                       ["head 100 Continue", "head 201 Created", "body ok", "end"], "an interim response, then the final one")
    }

    func testABodyThatRunsUntilTheConnectionCloses() {
        XCTAssertEqual(joined(parts(["HTTP/1.0 200 OK\r\n\r\nall of ", "this"], closeAtEnd: true)), ["head 200 OK", "body all of this", "end"])
        XCTAssertEqual(parts(["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"], closeAtEnd: true),
                       ["head 200 OK", "body short", "error the connection closed in the middle of a message body"])
    }

    func testMalformedHeadsAreRefused() {
        XCTAssertEqual(parts(["HTTP/1.1 200 OK\nContent-Length: 0\n\n"]), ["error a line of the response head ends with a bare LF: HTTP/1.1 lines end with CRLF (\\r\\n)"])
        XCTAssertEqual(parts(["HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n"]), ["error a CR without its LF in the response head: HTTP/1.1 lines end with CRLF (\\r\\n)"])
        XCTAssertEqual(parts(["HTTP/1.1 200 OK\r\nX: a\u{0}b\r\n\r\n"]), ["error a NUL byte in the response head"])
        XCTAssertEqual(parts(["HTTP/1.1 200 OK\r\nX: a\r\n  folded\r\n\r\n"]), ["error malformed header line   folded"], "obs-fold")
        XCTAssertEqual(parts(["HTTP/1.1 2x0 OK\r\n\r\n"]), ["error bad status code in HTTP/1.1 2x0 OK"])
        XCTAssertEqual(parts(["SPDY/3 200 OK\r\n\r\n"]), ["error not an HTTP/1.x status line: SPDY/3 200 OK"])
        XCTAssertEqual(parts(["HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"]), ["error bad Content-Length 1, 2"])
        XCTAssertEqual(parts(["HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 600)]), ["error response head is larger than 512 bytes"])
    }

    func testEventsLeaveTheHeadForTakeHeadAndSayWhetherTheConnectionCloses() throws {
        var decoder = HTTP1ResponseDecoder()
        for _ in 0..<3 { decoder.requestSent(method: "GET") }
        decoder.feed(ByteBuffer(string: "HTTP/1.1 200 OK\r\nServer: up\r\ncontent-length:  2 \r\nX-Empty:\r\n\r\nok"))
        guard case .head = try decoder.nextEvent() else { return XCTFail("no head") }
        let head = decoder.takeHead()
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.reason, "OK")
        XCTAssertEqual(head.headers.map(\.name), ["Server", "content-length", "X-Empty"])
        XCTAssertEqual(head.headers.map(\.value), ["up", "2", ""], "values without the whitespace around them")
        XCTAssertFalse(decoder.headClosesConnection)
        guard case .body(let body) = try decoder.nextEvent() else { return XCTFail("no body") }
        XCTAssertEqual(String(decoding: body.readableArray, as: UTF8.self), "ok")
        guard case .end = try decoder.nextEvent() else { return XCTFail("no end") }
        guard case .needMore = try decoder.nextEvent() else { return XCTFail("nothing more was read") }

        decoder.feed(ByteBuffer(string: "HTTP/1.1 200 OK\r\nConnection: Keep-Alive, CLOSE\r\nContent-Length: 0\r\n\r\n"))
        guard case .head = try decoder.nextEvent() else { return XCTFail("no second head") }
        XCTAssertEqual(decoder.takeHead().header("connection"), "Keep-Alive, CLOSE")
        XCTAssertTrue(decoder.headClosesConnection, "close in any case")
        guard case .end = try decoder.nextEvent() else { return XCTFail("no second end") }

        decoder.feed(ByteBuffer(string: "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"))
        guard case .head = try decoder.nextEvent() else { return XCTFail("no third head") }
        XCTAssertTrue(decoder.headClosesConnection, "HTTP/1.0")
    }

    /// Where a String's UTF-8 lives (nil for a small string kept inline).
    private func storage(_ text: String) -> UnsafeRawPointer? {
        text.utf8.withContiguousStorageIfAvailable { UnsafeRawPointer($0.baseAddress!) }
    }

    func testAFieldSpelledAsInTheLastHeadKeepsItsStringAndOthersAreReadAfresh() throws {
        var decoder = HTTP1ResponseDecoder()
        for _ in 0..<3 { decoder.requestSent(method: "GET") }
        let date = "Wed, 02 Dec 2026 13:20:11 GMT"  // past a small string's 15 bytes: its own storage
        func head(_ text: String) throws -> HTTPResponseHead {
            decoder.feed(ByteBuffer(string: text))
            guard case .head = try decoder.nextEvent() else { throw HTTP1CodecError("no head") }
            let head = decoder.takeHead()
            guard case .end = try decoder.nextEvent() else { throw HTTP1CodecError("no end") }
            return head
        }
        var first: HTTPResponseHead? = try head("HTTP/1.1 200 OK\r\nDate: \(date)\r\nX-Long-Field-Name-Here: one\r\nContent-Length: 0\r\nX-Gone: 1\r\n\r\n")
        let firstDate = try XCTUnwrap(first?.header("date"))
        let firstDateStorage = try XCTUnwrap(storage(firstDate))
        first = nil  // the handler let go of the head, as the proxy does before the next answer
        let second = try head("HTTP/1.1 200 OK\r\nDate: \(date)\r\nX-Long-Field-Name-Here: two\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(second.headers.map(\.name), ["Date", "X-Long-Field-Name-Here", "Content-Length"], "the last head's extra field is gone")
        XCTAssertEqual(second.headers.map(\.value), [date, "two", "0"])
        XCTAssertEqual(storage(second.headers[0].value), firstDateStorage, "the same Date bytes: the last head's String, not a new one")
        // The same length, other bytes: read afresh.
        let later = "Wed, 02 Dec 2026 13:20:12 GMT"
        let third = try head("HTTP/1.1 200 OK\r\nDate: \(later)\r\nx-long-field-name-here: two\r\nContent-Length: 0\r\nX-New: 3\r\n\r\n")
        XCTAssertEqual(third.headers.map(\.name), ["Date", "x-long-field-name-here", "Content-Length", "X-New"])
        XCTAssertEqual(third.headers.map(\.value), [later, "two", "0", "3"])
        XCTAssertEqual(second.headers.map(\.value), [date, "two", "0"], "a head still held is not changed by the next one")
    }

    func testFramingOfRepeatedAndUnusualLengths() {
        XCTAssertEqual(parts(["HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok"]), ["head 200 OK", "body ok", "end"], "the same value twice")
        XCTAssertEqual(parts(["HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok"]), ["head 200 OK", "body ok", "end"], "one list of equal values")
        XCTAssertEqual(parts(["HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"]), ["error bad Content-Length x"])
        XCTAssertEqual(parts(["HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"]),
                       ["head 200 OK", "body ok", "end"], "chunked wins over a length")
        XCTAssertEqual(parts(["HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"]), ["head 200 ", "end"], "no reason phrase")
        XCTAssertEqual(parts(["HTTP/1.1 20\r\n\r\n"]), ["error bad status code in HTTP/1.1 20"])
        XCTAssertEqual(parts(["HTTP/1.1 2000 OK\r\n\r\n"]), ["error bad status code in HTTP/1.1 2000 OK"])
        XCTAssertEqual(parts(["HTTP/1.1 200 OK\r\n: empty name\r\n\r\n"]), ["error malformed header line : empty name"])
        XCTAssertEqual(parts(["HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n"]), ["error malformed header line Bad Name: x"])
    }

    func testHeadsAreWrittenIntoAReusedBuffer() {
        var encoder = HTTP1RequestEncoder()
        var out = ByteBuffer()
        let head = HTTPRequestHead(method: "POST", target: "/orders?id=7", headers: [("host", "shop"), ("x-request-id", "abc")])
        encoder.encodeHead(head, hasBody: false, contentLength: 5, into: &out, reservingBody: 5)
        out.writeString("hello")
        _ = encoder.end()
        XCTAssertEqual(String(decoding: out.readableArray, as: UTF8.self),
                       "POST /orders?id=7 HTTP/1.1\r\nhost: shop\r\nx-request-id: abc\r\ncontent-length: 5\r\n\r\nhello")
        let first = out
        encoder.encodeHead(HTTPRequestHead(method: "GET", target: "/", version: 10, headers: [("host", "shop")]), hasBody: false, into: &out)
        _ = encoder.end()
        XCTAssertEqual(String(decoding: out.readableArray, as: UTF8.self), "GET / HTTP/1.0\r\nhost: shop\r\n\r\n")
        XCTAssertFalse(out.sharesStorage(with: first), "storage someone still holds is not written over")
        XCTAssertEqual(String(decoding: first.readableArray, as: UTF8.self).prefix(4), "POST")
        let second = out.readableArray
        encoder.encodeHead(HTTPRequestHead(method: "GET", target: "/", version: 10, headers: [("host", "shop")]), hasBody: false, into: &out)
        _ = encoder.end()
        XCTAssertEqual(out.readableArray, second)
        encoder.encodeHead(HTTPRequestHead(method: "PUT", target: "/x", headers: [("content-length", "2")]), hasBody: true, into: &out)
        XCTAssertEqual(String(decoding: out.readableArray, as: UTF8.self), "PUT /x HTTP/1.1\r\ncontent-length: 2\r\n\r\n", "the head's own length: not chunked")
        XCTAssertNil(encoder.end())
    }

    func testRequestsAreFramedByLengthOrChunked() {
        var encoder = HTTP1RequestEncoder()
        let head = encoder.head(HTTPRequestHead(method: "POST", target: "/upload", headers: [("Host", "mesh")]), hasBody: true)
        XCTAssertEqual(String(decoding: head.readableArray, as: UTF8.self), "POST /upload HTTP/1.1\r\nHost: mesh\r\nTransfer-Encoding: chunked\r\n\r\n")
        let part = ByteBuffer(string: "hello, mesh")
        let framed = encoder.body(part)
        XCTAssertEqual(framed.map { String(decoding: $0.readableArray, as: UTF8.self) }, ["b\r\n", "hello, mesh", "\r\n"])
        XCTAssertTrue(framed[1].sharesStorage(with: part), "the part itself is sent, not a copy")
        XCTAssertEqual(encoder.end().map { String(decoding: $0.readableArray, as: UTF8.self) }, "0\r\n\r\n")

        let fixed = encoder.head(HTTPRequestHead(method: "PUT", target: "/x", headers: [("Content-Length", "2")]), hasBody: true)
        XCTAssertEqual(String(decoding: fixed.readableArray, as: UTF8.self), "PUT /x HTTP/1.1\r\nContent-Length: 2\r\n\r\n")
        XCTAssertEqual(encoder.body(ByteBuffer(string: "ok")).map(\.readableBytes), [2])
        XCTAssertNil(encoder.end())
    }
}
