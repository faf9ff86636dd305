import XCTest
@testable import MeshNet
@testable import MeshHTTP1

final class HTTP1ParserTests: XCTestCase {
    private func events(_ chunks: [String], maxBody: Int = 1024) -> [String] {
        var parser = HTTP1Parser(maxHeadBytes: 256, maxBodyBytes: maxBody)
        var seen: [String] = []
        for chunk in chunks {
            parser.feed(Array(chunk.utf8)[...])
            loop: while true {
                switch parser.next() {
                case .needMore: break loop
                case .continueExpected: seen.append("100")
                case .reject(let status, let reason): seen.append("\(status) \(reason)"); break loop
                case .request(let box):
                    seen.append("\(box.request.method) \(box.request.target) [\(String(decoding: box.request.body, as: UTF8.self))]")
                }
            }
        }
        return seen
    }

    func testPipelinedRequestsAndSplitBodies() {
        XCTAssertEqual(events(["GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n\r\n"]), ["GET /a []", "GET /b []"])
        XCTAssertEqual(events(["POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhe", "llo"]), ["POST /p [hello]"])
        XCTAssertEqual(events(["POST /p HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"]), ["POST /p [abc]"],
                       "the same length twice is not ambiguous")
    }

    func testABareLineFeedIsRejectedAsSoonAsItArrives() {
        XCTAssertEqual(events(["GET /a HTTP/1.1\nHost: x"]).first?.hasPrefix("400 a line of the request head ends with a bare LF"), true)
        XCTAssertEqual(events(["GET /a HTTP/1.1\r\nHost: x\n"]).first?.hasPrefix("400 "), true)
        XCTAssertEqual(events(["GET /a HTTP/1.1\r", "\nHost: x\r\n", "\r\n"]), ["GET /a []"], "CRLF split across reads is fine")
    }

    func testABareCarriageReturnANulAndObsFoldAreRefused() {
        XCTAssertEqual(events(["GET /a HTTP/1.1\r\nX: a\rb\r\n\r\n"]).first?.hasPrefix("400 a CR without its LF"), true)
        XCTAssertEqual(events(["GET /a HTTP/1.1\r\nX: a\u{0}b\r\n\r\n"]), ["400 a NUL byte in the request head"])
        XCTAssertEqual(events(["GET /a HTTP/1.1\r\nX: a\r\n folded\r\n\r\n"]), ["400 malformed header line"], "obs-fold")
    }

    func testChunkedBodyWithExtensionsAndTrailers() {
        XCTAssertEqual(events(["PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhel", "lo\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n",
                               "GET /next HTTP/1.1\r\n\r\n"]),
                       ["PUT /c [hello world]", "GET /next []"])
        XCTAssertEqual(events(["PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]), ["400 bad chunk size zz"])
        // Trailers without an end are bounded, as the chunk size line is.
        XCTAssertEqual(events(["PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n", String(repeating: "x", count: 9000)]),
                       ["400 trailer line too long"])
    }

    func testAmbiguousFramingAndLimits() {
        XCTAssertEqual(events(["POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"]),
                       ["400 both Transfer-Encoding and Content-Length"])
        XCTAssertEqual(events(["POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"]), ["400 different Content-Length values"])
        XCTAssertEqual(events(["GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 300) + "\r\n\r\n"]),
                       ["431 request head is larger than 256 bytes"])
        XCTAssertEqual(events(["POST / HTTP/1.1\r\nContent-Length: 2000\r\n\r\n"]), ["413 request body of 2000 bytes is larger than 1024"])
        XCTAssertEqual(events(["POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n"]), ["413 request body is larger than 1024 bytes"])
        XCTAssertEqual(events(["GET / HTTP/2.0\r\n\r\n"]), ["505 unsupported protocol HTTP/2.0"])
        XCTAssertEqual(events(["GET / HTTP/1.1\r\nBad Header: x\r\n\r\n"]), ["400 malformed header line"])
    }

    func testAHeadArrivingAByteAtATimeIsFoundOnce() {
        let request = "GET /slow?x=1 HTTP/1.1\r\nHost: example\r\nX-Padded:  \t both sides \t\r\n\r\n"
        var parser = HTTP1Parser()
        var events: [HTTP1Parser.Event] = []
        for byte in request.utf8 {
            parser.feed([byte][...])
            events.append(parser.next())
        }
        XCTAssertEqual(events.dropLast().filter { $0 != .needMore }, [], "nothing before the last byte")
        guard case .request(let box) = events.last else { return XCTFail("no request: \(String(describing: events.last))") }
        XCTAssertEqual(box.request.method, "GET")
        XCTAssertEqual(box.request.target, "/slow?x=1")
        XCTAssertEqual(box.request.header("x-padded"), "both sides", "optional whitespace around a value is not part of it")
        XCTAssertEqual(box.request.headers.count, 2)
    }

    func testExpectContinueComesBeforeTheBody() {
        XCTAssertEqual(events(["POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n", "ok"]), ["100", "POST /e [ok]"])
    }

    func testQueryAndPathDecoding() {
        let request = HTTPRequest(method: "GET", target: "/api/v1/namespaces/default/pods/x%3A15000/proxy?labelSelector=app%3Dweb&watch=true&a=1&a=2")
        XCTAssertEqual(request.pathSegments, ["api", "v1", "namespaces", "default", "pods", "x:15000", "proxy"])
        XCTAssertEqual(request.query, ["labelSelector": "app=web", "watch": "true", "a": "1"])
        XCTAssertTrue(request.keepAlive)
        XCTAssertFalse(HTTPRequest(method: "GET", target: "/", version: 10).keepAlive)
    }
}
