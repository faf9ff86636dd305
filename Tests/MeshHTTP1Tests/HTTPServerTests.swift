import Foundation
import MeshTestSupport
import XCTest
@testable import MeshNet
@testable import MeshTLS
@testable import MeshHTTP1
#if canImport(Glibc)
import Glibc
#endif

/// The server on real sockets: keep-alive, a stalled client beside a served one, streamed chunks, TLS with curl.
final class HTTPServerTests: XCTestCase {
    private var loops: [EventLoop] = []
    private var server: HTTPServer?

    override func tearDown() {
        server?.stop()
        for loop in loops { loop.stop() }
        loops = []
        server = nil
    }

    /// On a manual clock the server gets one loop, so connections are set up in the order they arrive.
    private func startServer(tls: TLSServerContext? = nil, clock: ManualClock? = nil, handler: @escaping HTTPHandler) throws -> Int {
        loops = try (0..<(clock == nil ? 2 : 1)).map { try EventLoop(name: "test-loop-\($0)", clock: clock) }
        for loop in loops { loop.start() }
        let server = try HTTPServer(host: "127.0.0.1", port: 0, loops: loops, tls: tls, headTimeout: 5, handler: handler)
        server.start()
        self.server = server
        return server.port
    }

    /// A blocking client socket with a receive timeout, so a broken server fails the test instead of hanging it.
    private final class Client {
        let fd: Int32
        init(port: Int) throws {
            fd = try LoopbackSocket.connect(port: port)
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
        deinit { close(fd) }
        func send(_ text: String) { _ = Array(text.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }
        /// Reads until `marker` has been seen `times` times, or the peer closes, or the timeout.
        func read(until marker: String, times: Int = 1) -> String {
            var data: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            let needle = Array(marker.utf8)
            var found = 0, searched = 0
            while found < times {
                let count = Glibc.read(fd, &buffer, buffer.count)
                if count <= 0 { break }
                data += buffer[0..<count]
                // Count new occurrences only, so reading a large body stays linear.
                var index = max(0, searched - needle.count + 1)
                while index + needle.count <= data.count {
                    if data[index] == needle[0] && Array(data[index..<index + needle.count]) == needle { found += 1; index += needle.count } else { index += 1 }
                }
                searched = data.count
            }
            return String(decoding: data, as: UTF8.self)
        }
    }

    func testKeepAliveAndAStalledClientBesideAServedOne() throws {
        let port = try startServer { request, responder in
            responder.respond(HTTPResponse(status: 200, contentType: "text/plain", text: "you asked for \(request.path)"))
        }
        let stalled = try Client(port: port)
        stalled.send("GET /slow HTTP/1.1\r\nHost: x\r\n")  // never finishes its head

        let client = try Client(port: port)
        client.send("GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n")
        let answers = client.read(until: "you asked for /two")
        XCTAssertTrue(answers.hasPrefix("HTTP/1.1 200 OK\r\n"), answers)
        XCTAssertTrue(answers.contains("you asked for /one"))
        XCTAssertTrue(answers.contains("Content-Length: 18\r\n"))

        client.send("GET /bye HTTP/1.1\r\nConnection: close\r\n\r\n")
        let last = client.read(until: "\u{0}")  // until the server closes
        XCTAssertTrue(last.contains("Connection: close") && last.hasSuffix("you asked for /bye"), last)

        let bad = try Client(port: port)
        bad.send("POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
        XCTAssertTrue(bad.read(until: "\u{0}").hasPrefix("HTTP/1.1 400 Bad Request"))
    }

    func testAClientThatLeavesMidResponseCostsOnlyItsConnection() throws {
        let big = [UInt8](repeating: 65, count: 4 * 1024 * 1024)
        let port = try startServer { _, responder in responder.respond(HTTPResponse(status: 200, headers: [("Content-Type", "text/plain")], body: big)) }
        let openBefore = openFileDescriptorCount()
        for _ in 0..<3 {
            let leaving = try Client(port: port)
            leaving.send("GET /big HTTP/1.1\r\n\r\n")
            // The server has started the 4 MB answer, and megabytes of it are still to be written.
            XCTAssertTrue(leaving.read(until: "HTTP/1.1 200").contains("HTTP/1.1 200"))
            var linger = linger(l_onoff: 1, l_linger: 0)  // close with a reset, so the server's next write fails
            setsockopt(leaving.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<linger>.size))
        }
        // The server has met the failed writes once it has closed its side of the three connections.
        XCTAssertTrue(eventually { openFileDescriptorCount() <= openBefore }, "the server closes the connections of clients that left")
        // Writing to a reset socket raises SIGPIPE, which would end a process that does not ignore it (event loops make it ignored).
        var action = sigaction()
        sigaction(SIGPIPE, nil, &action)
        XCTAssertEqual(unsafeBitCast(action.__sigaction_handler.sa_handler, to: Int.self), unsafeBitCast(SIG_IGN, to: Int.self))
        let client = try Client(port: port)
        client.send("GET /big HTTP/1.1\r\nConnection: close\r\n\r\n")
        let answer = client.read(until: "\u{0}")
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 200 OK") && answer.hasSuffix(String(repeating: "A", count: 1000)), "the server is still there")
        XCTAssertTrue(answer.contains("Content-Length: \(big.count)\r\n") && answer.utf8.count > big.count, "and answers in full")
    }

    func testStreamedChunksAndExpectContinue() throws {
        let port = try startServer { request, responder in
            if request.path == "/upload" {
                responder.respond(HTTPResponse(status: 201, contentType: "text/plain", text: "got \(request.body.count) bytes"))
                return
            }
            let stream = responder.startStream(status: 200, headers: [("Content-Type", "application/json")])
            DispatchQueue.global().async {
                for index in 1...3 { stream.send(Array("{\"event\":\(index)}\n".utf8)) }
                stream.finish()
            }
        }
        let client = try Client(port: port)
        client.send("GET /watch HTTP/1.1\r\n\r\n")
        let streamed = client.read(until: "0\r\n\r\n")
        XCTAssertTrue(streamed.contains("Transfer-Encoding: chunked"))
        XCTAssertTrue(streamed.contains("c\r\n{\"event\":3}\n\r\n0\r\n\r\n"), streamed)

        client.send("POST /upload HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        XCTAssertEqual(client.read(until: "\r\n\r\n"), "HTTP/1.1 100 Continue\r\n\r\n")
        client.send("abcd")
        XCTAssertTrue(client.read(until: "got 4 bytes").hasPrefix("HTTP/1.1 201 Created"))
    }

    func testTLSWithCurl() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/curl") else { throw XCTSkip("no /usr/bin/curl on this machine") }
        let authorityKey = try PrivateKey.generateP256()
        let authority = try Certificate.issue(CertificateRequest(commonName: "test CA", isAuthority: true, lifetimeSeconds: 3600), for: authorityKey)
        let key = try PrivateKey.generateP256()
        let leaf = try Certificate.issue(CertificateRequest(commonName: "127.0.0.1", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"],
                                                            lifetimeSeconds: 3600), for: key, signedBy: (authority, authorityKey))
        let port = try startServer(tls: try TLSServerContext(certificateChain: [leaf], key: key)) { request, responder in
            responder.respond(HTTPResponse(status: 200, contentType: "text/plain", text: "secure \(request.method) \(request.body.count)"))
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshnet-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let caFile = directory.appendingPathComponent("ca.crt")
        try Data(try authority.pem()).write(to: caFile)

        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = ["-sS", "-v", "--max-time", "10", "--cacert", caFile.path, "--data-binary", "hello", "-H", "Transfer-Encoding: chunked",
                          "https://localhost:\(port)/x", "https://localhost:\(port)/y"]
        let out = Pipe(), err = Pipe()
        curl.standardOutput = out
        curl.standardError = err
        try curl.run()
        let body = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        curl.waitUntilExit()
        XCTAssertEqual(curl.terminationStatus, 0, log)
        XCTAssertEqual(body, "secure POST 5secure POST 5")
        XCTAssertTrue(log.contains("ALPN: server accepted http/1.1") || log.contains("ALPN, server accepted to use http/1.1"), log)
        XCTAssertTrue(log.contains("Re-using existing connection") || log.contains("Reusing existing connection"), "keep-alive over TLS: \(log)")
    }

    func testBareLineFeedsGetA400NotSilence() throws {
        let port = try startServer { _, responder in responder.respond(HTTPResponse(status: 200, contentType: "text/plain", text: "ok")) }
        let client = try Client(port: port)
        client.send("GET / HTTP/1.1\nHost: x\n\n")
        let answer = client.read(until: "\u{0}")
        // A 400 that names the line endings is the parser's answer; the head timeout would only close the connection.
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), answer)
        XCTAssertTrue(answer.contains("CRLF"), "the reason says what is wrong: \(answer)")
    }

    func testPlainHTTPOnTheTLSPortGetsA400InPlainHTTP() throws {
        let key = try PrivateKey.generateP256()
        let leaf = try Certificate.issue(CertificateRequest(commonName: "127.0.0.1", ipAddresses: ["127.0.0.1"], lifetimeSeconds: 3600), for: key)
        let port = try startServer(tls: try TLSServerContext(certificateChain: [leaf], key: key)) { _, responder in
            responder.respond(HTTPResponse(status: 200, contentType: "text/plain", text: "ok"))
        }
        let client = try Client(port: port)
        client.send("GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        XCTAssertEqual(client.read(until: "\u{0}"), "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
    }

    func testAStreamThatEndsBeforeItsOnEndIsSetStillRunsIt() throws {
        let ended = expectation(description: "onEnd runs")
        let port = try startServer { _, responder in
            let stream = responder.startStream(status: 200, headers: [("Content-Type", "application/json")])
            responder.connection.tcp.close()  // the client is gone before the handler got to set onEnd (EPIPE on a first write)
            stream.onEnd = { ended.fulfill() }
        }
        let client = try Client(port: port)
        client.send("GET /watch HTTP/1.1\r\n\r\n")
        wait(for: [ended], timeout: 5)
    }

    func testAHeadThatNeverCompletesIsClosedAtTheHeadTimeoutOnAManualClock() throws {
        let clock = ManualClock()
        let port = try startServer(clock: clock) { request, responder in
            responder.respond(HTTPResponse(status: 200, contentType: "text/plain", text: "you asked for \(request.path)"))
        }
        let stalled = try Client(port: port)
        stalled.send("GET /slow HTTP/1.1\r\nHost: x\r\n")
        let served = try Client(port: port)
        served.send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertTrue(served.read(until: "you asked for /fast").hasSuffix("you asked for /fast"), "both connections are in")
        clock.advance(by: 4.9)
        var byte: UInt8 = 0
        XCTAssertEqual(recv(stalled.fd, &byte, 1, Int32(MSG_DONTWAIT)), -1, "still open before the timeout")
        served.send("GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertTrue(served.read(until: "you asked for /again").hasSuffix("you asked for /again"))
        clock.advance(by: 0.2)
        let answer = stalled.read(until: "\u{0}")
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 408 Request Timeout\r\n") && answer.contains("Connection: close"), "a 408 once the head timeout passed: \(answer)")
        XCTAssertEqual(recv(stalled.fd, &byte, 1, 0), 0, "and then closed")
        XCTAssertEqual(recv(served.fd, &byte, 1, Int32(MSG_DONTWAIT)), -1, "a connection that sent a request since has a later deadline")
    }
}

/// The server's streaming side and its listeners: bodies in parts, responses with a length, one listener per loop.
final class HTTPServerStreamingTests: XCTestCase {
    /// Everything `fd` receives until the peer closes, or nothing came for 10 seconds.
    private func readToEnd(_ fd: Int32) -> [UInt8] {
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(fd, &buffer, buffer.count)
            guard count > 0 else { return answer }
            answer += buffer[0..<count]
        }
    }

    func testAStreamingHandlerGetsTheBodyInPartsAndStreamsALengthFramedAnswer() throws {
        let loop = try EventLoop(name: "streaming")
        loop.start()
        defer { loop.stop() }
        let server = try HTTPServer(host: "127.0.0.1", port: 0, loops: [loop], tls: nil, maxBodyBytes: 1024) { head, body, responder in
            var parts = 0, bytes = 0
            body.onPart = { part in parts += 1; bytes += part.readableBytes }
            body.onEnd = {
                let text = "\(head.method) \(head.target): \(bytes) bytes in \(parts > 1 ? "several parts" : "one part")"
                let stream = responder.startStream(status: 200, headers: [("Content-Type", "text/plain")], contentLength: text.utf8.count)
                stream.send(ByteBuffer(string: String(text.prefix(5))))
                stream.send(ByteBuffer(string: String(text.dropFirst(5))))
                stream.finish()
            }
        }
        server.start()
        defer { server.stop() }
        // 8 MiB: far over maxBodyBytes, which binds only what `collect` gathers; the handler holds no body at all.
        let size = 8 * 1024 * 1024
        let fd = try LoopbackSocket.connect(port: server.port)
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let head = Array("PUT /big HTTP/1.1\r\nContent-Length: \(size)\r\n\r\n".utf8)
        XCTAssertEqual(head.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }, head.count)
        let block = [UInt8](repeating: 120, count: 64 * 1024)
        for _ in 0..<(size / block.count) { XCTAssertEqual(block.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }, block.count) }
        let expected = "PUT /big: \(size) bytes in several parts"
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !String(decoding: answer, as: UTF8.self).hasSuffix(expected) {
            let count = read(fd, &buffer, buffer.count)
            guard count > 0 else { break }
            answer += buffer[0..<count]
        }
        let text = String(decoding: answer, as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 200 OK\r\n") && text.contains("Content-Length: \(expected.utf8.count)\r\n"), text)
        XCTAssertFalse(text.contains("chunked"))
        XCTAssertTrue(text.hasSuffix("\r\n\r\n" + expected), text)
    }

    func testABodyThatArrivedBeforeTheHandlerTookItIsHandedOverThenEnded() throws {
        let loop = try EventLoop(name: "late-taker")
        loop.start()
        defer { loop.stop() }
        let server = try HTTPServer(host: "127.0.0.1", port: 0, loops: [loop], tls: nil) { _, body, responder in
            // The whole request came in one read: its parts and end wait until the handler takes them, later.
            var received: [UInt8] = []
            body.onEnd = { responder.respond(HTTPResponse(status: 200, contentType: "text/plain", text: "got " + String(decoding: received, as: UTF8.self))) }
            loop.execute { body.onPart = { received += $0.readableArray } }
        }
        server.start()
        defer { server.stop() }
        let fd = try LoopbackSocket.connect(port: server.port)
        defer { close(fd) }
        let request = Array("POST / HTTP/1.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello".utf8)
        _ = request.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let answer = String(decoding: readToEnd(fd), as: UTF8.self)
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 200 OK") && answer.hasSuffix("got hello"), answer)
    }

    func testAWholeRequestHandlerRefusesABodyOverTheLimitWith413() throws {
        let loop = try EventLoop(name: "limit")
        loop.start()
        defer { loop.stop() }
        let server = try HTTPServer(host: "127.0.0.1", port: 0, loops: [loop], tls: nil, maxBodyBytes: 10) { request, responder in
            responder.respond(HTTPResponse(status: 200, contentType: "text/plain", text: "\(request.body.count)"))
        }
        server.start()
        defer { server.stop() }
        for head in ["POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nghijkl\r\n0\r\n\r\n"] {
            let fd = try LoopbackSocket.connect(port: server.port)
            defer { close(fd) }
            let bytes = Array(head.utf8)
            _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            let answer = readToEnd(fd)
            XCTAssertTrue(String(decoding: answer, as: UTF8.self).hasPrefix("HTTP/1.1 413 Content Too Large\r\n"), String(decoding: answer, as: UTF8.self))
        }
    }

    func testOneListenerPerLoopSpreadsConnectionsOverTheLoops() throws {
        let loops = try (0..<2).map { try EventLoop(name: "reuseport-\($0)") }
        for loop in loops { loop.start() }
        defer { for loop in loops { loop.stop() } }
        let server = try HTTPServer(host: "127.0.0.1", port: 0, loops: loops, tls: nil, acceptance: .listenerPerLoop) { _, responder in
            responder.respond(HTTPResponse(status: 200, contentType: "text/plain", text: "served on \(responder.loop.name)"))
        }
        server.start()
        defer { server.stop() }
        var servedBy = Set<String>()
        for _ in 0..<32 {
            let fd = try LoopbackSocket.connect(port: server.port)
            defer { close(fd) }
            let request = Array("GET / HTTP/1.1\r\nConnection: close\r\n\r\n".utf8)
            _ = request.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            let answer = readToEnd(fd)
            if let range = String(decoding: answer, as: UTF8.self).range(of: "served on ") {
                servedBy.insert(String(String(decoding: answer, as: UTF8.self)[range.upperBound...]))
            }
        }
        XCTAssertEqual(servedBy, ["reuseport-0", "reuseport-1"], "the kernel spread 32 connections over both loops' listeners")
        XCTAssertEqual(server.connectionsPerLoop.reduce(0, +), 32)
        XCTAssertTrue(server.connectionsPerLoop.allSatisfy { $0 > 0 })
    }
}
