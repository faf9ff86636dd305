import XCTest
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import MeshNet
import MeshHTTP1
import MeshTestSupport
import KubeClient
@testable import MeshHTTP2

/// The HTTP/2 server and client on real sockets, with real peers: curl and h2load (nghttp2) against the server,
/// and the server against this module's client.
final class HTTP2ServerTests: XCTestCase {
    private var loop: EventLoop!
    private var server: HTTP2Server!

    override func setUpWithError() throws {
        loop = try EventLoop(name: "h2-test")
        loop.start()
        server = try HTTP2Server(host: "127.0.0.1", port: 0, loops: [loop]) { request, responder in
            switch request.path {
            case "/echo":
                responder.respond(HTTPResponse(status: 200, headers: [("Content-Type", "application/octet-stream")], body: request.body))
            case "/large":
                let size = Int(request.query["bytes"] ?? "") ?? 1_000_000
                responder.respond(HTTPResponse(status: 200, body: (0..<size).map { UInt8(truncatingIfNeeded: $0 % 251) }))
            case "/stream":
                responder.startStream(status: 200, headers: [("content-type", "text/plain")])
                for part in ["one ", "two ", "three"] { responder.sendBody(ByteBuffer(string: part)) }
                responder.finish(trailers: [("x-checksum", "ok")])
            default:
                responder.respond(HTTPResponse(status: 200, contentType: "text/plain", text: "hello \(request.method) \(request.target) \(request.header("host") ?? "")\n"))
            }
        }
        server.start()
    }

    override func tearDown() {
        server?.stop()
        loop?.stop()
    }

    private func tool(_ path: String) throws -> String {
        guard FileManager.default.isExecutableFile(atPath: path) else { throw XCTSkip("no \(path) on this machine") }
        return path
    }

    /// Runs a process to its end and returns its standard output (standard error on failure).
    private func run(_ path: String, _ arguments: [String], input: Data? = nil) throws -> (status: Int32, output: String, error: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        // Read before waiting, so a large output cannot fill the pipe and stall the child.
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    // MARK: curl

    func testCurlWithPriorKnowledgeSendsSeveralRequests() throws {
        let curl = try tool("/usr/bin/curl")
        let base = "http://127.0.0.1:\(server.port)"
        // One request per curl: curl 7.88 fails a second request on a reused h2c prior-knowledge connection (exit 16
        // before sending it, against nginx's h2c too: curl/curl#10634, fixed in 8.0); h2load and HTTP2Client cover
        // many streams on one connection.
        for (method, target) in [("GET", "/a"), ("HEAD", "/b?x=1"), ("DELETE", "/c")] {
            let result = try run(curl, ["-sS", "--http2-prior-knowledge", "-X", method, "-w", "[%{http_version} %{response_code}]",
                                        method == "HEAD" ? "-I" : "-s", "\(base)\(target)"])
            XCTAssertEqual(result.status, 0, "\(method) \(target): \(result.error)")
            if method == "HEAD" {
                XCTAssertTrue(result.output.hasPrefix("HTTP/2 200"), result.output)
            } else {
                XCTAssertEqual(result.output, "hello \(method) \(target) 127.0.0.1:\(server.port)\n[2 200]")
            }
        }
    }

    func testCurlDownloadsALargeBodyAndPostsOneThatNeedsWindowUpdates() throws {
        let curl = try tool("/usr/bin/curl")
        let base = "http://127.0.0.1:\(server.port)"
        let download = try run(curl, ["-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_version} %{size_download}",
                                      "\(base)/large?bytes=5000000"])
        XCTAssertEqual(download.status, 0, download.error)
        XCTAssertEqual(download.output, "2 5000000")

        // 3 MB up: far past the 65,535-byte windows the server starts with, so only its WINDOW_UPDATEs let it through.
        let body = Data((0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("h2-post-\(UUID().uuidString)")
        try body.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let echoed = FileManager.default.temporaryDirectory.appendingPathComponent("h2-echo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: echoed) }
        let post = try run(curl, ["-sS", "--http2-prior-knowledge", "--data-binary", "@\(file.path)", "-o", echoed.path,
                                  "-w", "%{http_version} %{response_code}", "\(base)/echo"])
        XCTAssertEqual(post.status, 0, post.error)
        XCTAssertEqual(post.output, "2 200")
        XCTAssertEqual(try Data(contentsOf: echoed), body, "the body came back whole")
    }

    func testCurlReadsAStreamedResponseWithTrailers() throws {
        let curl = try tool("/usr/bin/curl")
        let result = try run(curl, ["-sS", "--http2-prior-knowledge", "-i", "http://127.0.0.1:\(server.port)/stream"])
        XCTAssertEqual(result.status, 0, result.error)
        XCTAssertTrue(result.output.hasPrefix("HTTP/2 200"), result.output)
        XCTAssertTrue(result.output.contains("one two three"), result.output)
        XCTAssertTrue(result.output.contains("x-checksum: ok"), "trailers shown: \(result.output)")
    }

    func testCurlUpgradesFromHTTP1ToH2c() throws {
        let curl = try tool("/usr/bin/curl")
        let base = "http://127.0.0.1:\(server.port)"
        // curl --http2 on an http:// URL sends HTTP/1.1 with Upgrade: h2c and HTTP2-Settings, and reads the answer as HTTP/2.
        let upgraded = try run(curl, ["-sS", "--http2", "-w", "[%{http_version} %{response_code}]", "\(base)/up?grade=1"])
        XCTAssertEqual(upgraded.status, 0, upgraded.error)
        XCTAssertEqual(upgraded.output, "hello GET /up?grade=1 127.0.0.1:\(server.port)\n[2 200]")
        let large = try run(curl, ["-sS", "--http2", "-o", "/dev/null", "-w", "%{http_version} %{size_download}", "\(base)/large?bytes=300000"])
        XCTAssertEqual(large.output, "2 300000", large.error)
        // Plain HTTP/1.1 without the upgrade is told what to do.
        let plain = try run(curl, ["-sS", "--http1.1", "-i", "\(base)/"])
        XCTAssertTrue(plain.output.hasPrefix("HTTP/1.1 426 Upgrade Required"), plain.output)
        XCTAssertTrue(plain.output.contains("Upgrade: h2c"), plain.output)
    }

    func testTheUpgradeHeaderIsReadAsTheClientsSettings() {
        // SETTINGS_MAX_CONCURRENT_STREAMS 100, SETTINGS_INITIAL_WINDOW_SIZE 1 GiB, base64url without padding.
        XCTAssertEqual(H2CUpgrade.decodeSettings("AAMAAABkAARAAAAA"), [HTTP2Setting(.maxConcurrentStreams, 100), HTTP2Setting(.initialWindowSize, 1 << 30)])
        XCTAssertNil(H2CUpgrade.decodeSettings("AAMAAABk_"), "not base64url")
        XCTAssertNil(H2CUpgrade.decodeSettings("AAIAAAAC"), "ENABLE_PUSH 2 is refused")
    }

    // MARK: A streaming handler

    func testAStreamingHandlerEchoesPartsAsTheyArriveAtItsReadersPace() throws {
        let curl = try tool("/usr/bin/curl")
        var settings = HTTP2LocalSettings()
        settings.reopensWindowsOnReceipt = false
        let parts = Locked(0)
        let echo = try HTTP2Server(host: "127.0.0.1", port: 0, loops: [loop], settings: settings) { stream in
            stream.responder.startStream(status: 200, headers: [("content-type", "application/octet-stream")])
            var total = 0
            stream.onData = { part in
                parts.withLock { $0 += 1 }
                total += part.readableBytes
                stream.responder.sendBody(part)
                stream.consumed(part.readableBytes)
            }
            stream.onEnd = { _ in stream.responder.finish(trailers: [("x-received", String(total))]) }
        }
        echo.start()
        defer { echo.stop() }
        let body = Data((0..<2_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("h2-stream-\(UUID().uuidString)")
        try body.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let echoed = FileManager.default.temporaryDirectory.appendingPathComponent("h2-streamed-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: echoed) }
        let result = try run(curl, ["-sS", "--http2-prior-knowledge", "--data-binary", "@\(file.path)", "-o", echoed.path,
                                    "-w", "%{http_version} %{response_code}", "http://127.0.0.1:\(echo.port)/"])
        XCTAssertEqual(result.status, 0, result.error)
        XCTAssertEqual(result.output, "2 200")
        XCTAssertEqual(try Data(contentsOf: echoed), body)
        let small = try run(curl, ["-sS", "--http2-prior-knowledge", "-i", "--data-binary", "abc", "http://127.0.0.1:\(echo.port)/"])
        XCTAssertTrue(small.output.contains("x-received: 3"), "the trailers carry the count: \(small.output)")
        XCTAssertGreaterThan(parts.withLock { $0 }, 30, "the body came in parts, each echoed before more was let in")
    }

    // MARK: libcurl through KubeClient

    func testKubeClientsLibcurlSpeaksH2cWithPriorKnowledge() throws {
        var options = CurlOptions(timeoutSeconds: 20)
        options.http2PriorKnowledge = true
        let base = "http://127.0.0.1:\(server.port)"
        let body = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 % 97) }
        let posted = try CurlClient(options: options).perform(HTTPClientRequest(method: "POST", url: "\(base)/echo", body: body))
        XCTAssertEqual(posted.status, 200)
        XCTAssertEqual(posted.body, body)
        // A fresh handle: libcurl 7.88 cannot reuse an h2c prior-knowledge connection (curl/curl#10634, fixed in 8.0).
        let got = try CurlClient(options: options).perform(HTTPClientRequest(url: "\(base)/kube"))
        XCTAssertEqual(String(decoding: got.body, as: UTF8.self), "hello GET /kube 127.0.0.1:\(server.port)\n")
    }

    // MARK: h2load

    func testH2loadCompletesTwoThousandRequestsWithoutErrors() throws {
        let h2load = try tool("/usr/bin/h2load")
        let result = try run(h2load, ["-n", "2000", "-c", "4", "-m", "10", "http://127.0.0.1:\(server.port)/"])
        XCTAssertEqual(result.status, 0, result.error)
        let summary = result.output.split(separator: "\n").first { $0.hasPrefix("requests:") }.map(String.init) ?? result.output
        XCTAssertEqual(summary, "requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored, 0 timeout")
        XCTAssertTrue(result.output.contains("status codes: 2000 2xx"), result.output)
    }

    // MARK: This module's client

    func testTheClientSendsConcurrentRequestsAndALargeBody() throws {
        let client = try connectClient()
        defer { client.close() }
        let results = Locked<[Int: HTTPResponse]>([:])
        let payload = (0..<1_500_000).map { UInt8(truncatingIfNeeded: $0 % 13) }
        for index in 0..<20 {
            client.send(HTTPRequest(method: "GET", target: "/item/\(index)")) { result in
                if case .success(let response) = result { results.withLock { $0[index] = response } }
            }
        }
        client.send(HTTPRequest(method: "POST", target: "/echo", body: payload)) { result in
            if case .success(let response) = result { results.withLock { $0[100] = response } }
        }
        XCTAssertTrue(eventually(timeout: 20) { results.withLock { $0.count } == 21 })
        results.withLock { responses in
            XCTAssertEqual(String(decoding: responses[7]?.body ?? [], as: UTF8.self), "hello GET /item/7 127.0.0.1:\(server.port)\n")
            XCTAssertEqual(responses[100]?.body, payload)
            XCTAssertEqual(responses[100]?.status, 200)
        }
    }

    func testTheClientReceivesTrailersAndStreamedParts() throws {
        let client = try connectClient()
        defer { client.close() }
        let response = Locked<HTTPResponse?>(nil)
        client.send(HTTPRequest(method: "GET", target: "/stream")) { result in response.withLock { $0 = try? result.get() } }
        XCTAssertTrue(eventually { response.withLock { $0 != nil } })
        XCTAssertEqual(response.withLock { $0.map { String(decoding: $0.body, as: UTF8.self) } }, "one two three")
        XCTAssertEqual(response.withLock { $0?.headers.first { $0.name == "x-checksum" }?.value }, "ok")
    }

    func testTheClientTalksToNginxOverH2c() throws {
        let nginx = try tool("/usr/sbin/nginx")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("h2-nginx-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory + "/logs", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A free port: bound, never started, closed at once.
        let probe = try TCPListener(host: "127.0.0.1", port: 0, loop: loop)
        let port = probe.port
        Glibc.close(probe.fd)
        try """
            worker_processes 1;
            daemon off;
            master_process off;
            pid \(directory)/nginx.pid;
            error_log \(directory)/logs/error.log;
            events { worker_connections 64; }
            http {
                access_log off;
                client_body_temp_path \(directory)/body;
                server {
                    listen 127.0.0.1:\(port) http2;
                    location / { default_type text/plain; return 200 "nginx $request_method $uri\\n"; }
                }
            }
            """.write(toFile: directory + "/nginx.conf", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: nginx)
        process.arguments = ["-p", directory, "-e", directory + "/logs/error.log", "-c", directory + "/nginx.conf"]
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { process.terminate(); process.waitUntilExit() }
        var client: HTTP2Client?
        XCTAssertTrue(eventually { client = try? connectClient(port: port); return client != nil }, "nginx listens")
        let results = Locked<[Int: HTTPResponse]>([:])
        for index in 0..<30 {
            client?.send(HTTPRequest(method: "GET", target: "/n/\(index)")) { result in
                if case .success(let response) = result { results.withLock { $0[index] = response } }
            }
        }
        XCTAssertTrue(eventually { results.withLock { $0.count } == 30 })
        XCTAssertEqual(results.withLock { $0[12].map { String(decoding: $0.body, as: UTF8.self) } }, "nginx GET /n/12\n")
        XCTAssertEqual(results.withLock { $0[29]?.status }, 200)
        client?.close()
    }

    private func connectClient(port: Int? = nil) throws -> HTTP2Client {
        let connected = Locked<Result<HTTP2Client, NetworkError>?>(nil)
        HTTP2Client.connect(host: "127.0.0.1", port: port ?? server.port, loop: loop) { result in connected.withLock { $0 = result } }
        XCTAssertTrue(eventually { connected.withLock { $0 != nil } })
        return try XCTUnwrap(connected.withLock { $0 }).get()
    }
}

/// A value shared between a test's thread and a loop thread.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<Result>(_ body: (inout Value) -> Result) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}
