import Foundation
@testable import MeshProxy
import MeshHTTP1
import MeshHTTP2
import MeshNet
import MeshTestSupport
import XCTest

/// HTTP/2 clients of a connection manager: `codec_type` AUTO tells h2c prior knowledge from HTTP/1.1 by the first
/// bytes, HTTP2 takes only h2c; each stream is a request of its own, answered from an HTTP/1.1 upstream.
final class DownstreamHTTP2Tests: XCTestCase {
    private var upstream: SampleUpstream!
    private var proxy: ProxyServer!
    private var listenerPort = 0
    private var directory: URL!
    private var clientLoop: EventLoop!

    override func setUpWithError() throws {
        upstream = try SampleUpstream(name: "app")
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshproxy-h2down-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        clientLoop = try EventLoop(name: "h2-client")
        clientLoop.start()
    }

    override func tearDown() {
        proxy?.stop()
        upstream?.stop()
        clientLoop?.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    private func start(codec: String = "AUTO", managerFields: String = "") throws {
        listenerPort = freeLocalPort()
        let text = """
        static_resources:
          listeners:
          - name: l
            address: {socket_address: {address: 127.0.0.1, port_value: \(listenerPort)}}
            filter_chains:
            - filters:
              - name: envoy.filters.network.http_connection_manager
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                  stat_prefix: l
                  codec_type: \(codec)
                  http2_protocol_options: {max_concurrent_streams: 50}
                  \(managerFields)
                  route_config:
                    virtual_hosts:
                    - name: v
                      domains: ["*"]
                      routes:
                      - {match: {path: /health}, direct_response: {status: 200, body: {inline_string: ok}}}
                      - {match: {prefix: /}, route: {cluster: app}}
                  http_filters:
                  - {name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
                  access_log:
                  - name: envoy.access_loggers.file
                    typed_config: {"@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog, path: \(directory.path)/access.log}
          clusters:
          - name: app
            connect_timeout: 1s
            load_assignment: {cluster_name: app, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \(upstream.port)}}}}]}]}
        """
        let file = directory.appendingPathComponent("envoy.yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        proxy = try ProxyServer(configuration: try ProxyConfiguration.load(file: file.path), concurrency: 1,
                                log: ProxyLog(level: .error) { FileHandle.standardError.write(Data($0.utf8)) })
        proxy.start()
    }

    private func accessLog(lines: Int) -> String {
        var log = ""
        _ = eventually { log = (try? String(contentsOf: directory.appendingPathComponent("access.log"), encoding: .utf8)) ?? ""; return log.split(separator: "\n").count >= lines }
        return log
    }

    func testAutoCodecServesH2CPriorKnowledgeAndHTTP1OnOneListener() throws {
        try start()
        let client = try H2Client(port: listenerPort, loop: clientLoop)
        defer { client.close() }
        let answer = try client.send(HTTPRequest(method: "GET", target: "/items/1", headers: [("host", "app.local")]))
        XCTAssertEqual(answer.status, 200)
        XCTAssertEqual(String(decoding: answer.body, as: UTF8.self), "app GET /items/1\n")
        XCTAssertEqual(answer.header("x-upstream"), "app")
        XCTAssertNotNil(answer.header("x-envoy-upstream-service-time"))
        XCTAssertNil(answer.header("transfer-encoding"))
        XCTAssertEqual(upstream.received.last?.header("host"), "app.local")
        let posted = try client.send(HTTPRequest(method: "POST", target: "/upload", headers: [("host", "app.local")], body: Array(repeating: 120, count: 70_000)))
        XCTAssertEqual(posted.status, 200)
        XCTAssertEqual(upstream.received.last?.body.count, 70_000)
        let local = try client.send(HTTPRequest(method: "GET", target: "/health", headers: [("host", "app.local")]))
        XCTAssertEqual(local.status, 200)
        XCTAssertEqual(String(decoding: local.body, as: UTF8.self), "ok")
        XCTAssertEqual(try TestClient.get(port: listenerPort, path: "/plain", host: "app.local").status, 200, "HTTP/1.1 on the same listener")
        let log = accessLog(lines: 4)
        XCTAssertTrue(log.contains("\"GET /items/1 HTTP/2\" 200 - 0 17 "), log)
        XCTAssertTrue(log.contains("\"GET /plain HTTP/1.1\" 200 "), log)
        XCTAssertEqual(proxy.stats.value("http.l.downstream_cx_http2_total"), 1)
    }

    func testConcurrentStreamsOfOneConnectionAreServedEachOnItsOwn() throws {
        try start(codec: "HTTP2")
        let client = try H2Client(port: listenerPort, loop: clientLoop)
        defer { client.close() }
        let answers = try client.sendAll((0..<8).map { HTTPRequest(method: "GET", target: $0 % 2 == 0 ? "/n/\($0)" : "/slow/\($0)", headers: [("host", "app.local")]) })
        XCTAssertEqual(answers.map(\.status), Array(repeating: 200, count: 8))
        for (index, answer) in answers.enumerated() {
            XCTAssertEqual(String(decoding: answer.body, as: UTF8.self), "app GET /\(index % 2 == 0 ? "n" : "slow")/\(index)\n")
        }
    }

    func testAnHTTP2ConnectionWithNoStreamForTheIdleTimeoutGetsGOAWAYAndCloses() throws {
        try start(managerFields: "common_http_protocol_options: {idle_timeout: 0.3s}")
        let client = try H2Client(port: listenerPort, loop: clientLoop)
        defer { client.close() }
        XCTAssertEqual(try client.send(HTTPRequest(method: "GET", target: "/before", headers: [("host", "app.local")])).status, 200)
        XCTAssertTrue(eventually(timeout: 10) { self.proxy.stats.value("http.l.downstream_cx_idle_timeout") == 1 })
        XCTAssertTrue(eventually(timeout: 10) { self.proxy.stats.value("http.l.downstream_cx_active") == 0 }, "the connection stayed open")
    }

    /// A body larger than the buffer limit and the client's first window streams to the HTTP/1.1 upstream as it
    /// arrives (chunked: an HTTP/2 client's length is not checked against its DATA), as Envoy streams it.
    func testABodyPastTheBufferLimitStreamsToTheUpstream() throws {
        try start()
        let client = try H2Client(port: listenerPort, loop: clientLoop)
        defer { client.close() }
        let body = (0..<2_500_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let answer = try client.send(HTTPRequest(method: "POST", target: "/big", headers: [("host", "app.local")], body: body))
        XCTAssertEqual(answer.status, 200)
        let received = try XCTUnwrap(upstream.received.last { $0.target == "/big" })
        XCTAssertEqual(received.body.count, body.count)
        XCTAssertTrue(received.body == body, "the body arrived changed")
        XCTAssertEqual(received.header("transfer-encoding")?.lowercased(), "chunked")
        XCTAssertEqual(try client.send(HTTPRequest(method: "GET", target: "/after", headers: [("host", "app.local")])).status, 200, "the connection goes on")
    }

    /// Hostile HTTP/2 clients: the preface, then frames made of fixed-seed random bytes, or a valid request's frames
    /// with bytes flipped. The proxy answers each with a GOAWAY or a reset, never crashes, and serves the next client.
    func testGarbledHTTP2FramesNeverTakeTheProxyDown() throws {
        try start()
        var seed: UInt64 = 0x9e37_79b9_7f4a_7c15
        func next() -> UInt8 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: seed >> 33)
        }
        for round in 0..<40 {
            let codec = HTTP2Connection(role: .client)
            _ = try codec.openStream(headers: [HeaderField(name: ":method", value: "POST"), HeaderField(name: ":scheme", value: "http"),
                                               HeaderField(name: ":authority", value: "app.local"), HeaderField(name: ":path", value: "/r/\(round)")],
                                     endStream: false)
            var bytes = codec.takeOutput()?.readableArray ?? []
            if round % 2 == 0 {
                // Random frames after the preface and SETTINGS.
                bytes += (0..<(64 + Int(next()) * 4)).map { _ in next() }
            } else {
                // The request's own frames with a few bytes past the preface flipped.
                for _ in 0..<3 { let index = 24 + Int(next()) % max(1, bytes.count - 24); bytes[index] ^= next() | 1 }
            }
            let client = try LoopbackClient(address: "127.0.0.1", port: listenerPort)
            try? client.send(bytes: bytes)
            _ = client.readUntilClosed(timeout: 0.3)
            client.close()
        }
        let client = try H2Client(port: listenerPort, loop: clientLoop)
        defer { client.close() }
        XCTAssertEqual(try client.send(HTTPRequest(method: "GET", target: "/still-here", headers: [("host", "app.local")])).status, 200)
    }

    /// A connection error (here DATA on stream 0) is answered with a GOAWAY that says why, then the close: the
    /// GOAWAY is written before the connection closes, not dropped with it.
    func testAConnectionErrorSendsItsGOAWAYBeforeTheClose() throws {
        try start()
        let client = try LoopbackClient(address: "127.0.0.1", port: listenerPort)
        defer { client.close() }
        let codec = HTTP2Connection(role: .client)
        var bytes = codec.takeOutput()?.readableArray ?? []
        bytes += [0, 0, 1, 0x0, 0x0, 0, 0, 0, 0, 0x61]  // DATA, 1 byte, stream 0
        try client.send(bytes: bytes)
        _ = client.readUntilClosed(timeout: 20)
        let events = codec.receive(ByteBuffer(bytes: client.receivedBytes))
        let goAway = events.compactMap { event -> HTTP2ErrorCode? in
            if case .goAway(_, let code, _) = event { return code }
            return nil
        }
        XCTAssertEqual(goAway, [.protocolError], "events: \(events)")
    }

    func testARequestBodyThatStallsGets408AfterTheStreamIdleTimeout() throws {
        try start(managerFields: "stream_idle_timeout: 0.3s")
        let client = try LoopbackClient(address: "127.0.0.1", port: listenerPort)
        defer { client.close() }
        let codec = HTTP2Connection(role: .client)
        let id = try codec.openStream(headers: [HeaderField(name: ":method", value: "POST"), HeaderField(name: ":scheme", value: "http"),
                                                HeaderField(name: ":authority", value: "app.local"), HeaderField(name: ":path", value: "/stalled")],
                                      endStream: false)
        try client.send(bytes: codec.takeOutput()?.readableArray ?? [])
        var status = 0, body: [UInt8] = [], offset = 0
        XCTAssertTrue(eventually(timeout: 20) {
            if let out = codec.takeOutput() { try? client.send(bytes: out.readableArray) }
            _ = client.readAvailable()
            let bytes = client.receivedBytes
            if bytes.count > offset {
                for event in codec.receive(ByteBuffer(bytes: Array(bytes[offset...]))) {
                    if case .headers(id, let fields, _) = event { status = Int(fields.first { $0.name == ":status" }?.value ?? "") ?? 0 }
                    if case .data(id, let data, _) = event { body += data.readableArray }
                }
                offset = bytes.count
            }
            return status != 0 && body.count == 14
        })
        XCTAssertEqual(status, 408)
        XCTAssertEqual(String(decoding: body, as: UTF8.self), "stream timeout")
        XCTAssertEqual(proxy.stats.value("http.l.downstream_rq_idle_timeout"), 1)
        XCTAssertFalse(upstream.requests.contains("/stalled"))
    }

    func testCurlWithHTTP2PriorKnowledgeGetsAnHTTP2Answer() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/curl") else { throw XCTSkip("no curl") }
        try start()
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = ["-s", "-i", "--http2-prior-knowledge", "-H", "host: app.local", "http://127.0.0.1:\(listenerPort)/via/curl"]
        let output = Pipe()
        curl.standardOutput = output
        try curl.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        curl.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        XCTAssertEqual(curl.terminationStatus, 0)
        XCTAssertTrue(text.hasPrefix("HTTP/2 200"), text)
        XCTAssertTrue(text.hasSuffix("app GET /via/curl\n"), text)
    }
}

/// A blocking wrapper of MeshHTTP2's `HTTP2Client` for tests: one h2c connection, requests as streams.
final class H2Client: @unchecked Sendable {
    private let client: HTTP2Client

    init(port: Int, loop: EventLoop) throws {
        let box = ResultBox<HTTP2Client>()
        HTTP2Client.connect(host: "127.0.0.1", port: port, loop: loop) { result in box.set(result.mapError { $0 as Error }) }
        client = try box.wait()
    }

    func send(_ request: HTTPRequest) throws -> HTTPResponse { try sendAll([request])[0] }

    /// Sends every request at once (concurrent streams); the answers in the requests' order.
    func sendAll(_ requests: [HTTPRequest]) throws -> [HTTPResponse] {
        let boxes = requests.map { _ in ResultBox<HTTPResponse>() }
        for (request, box) in zip(requests, boxes) {
            client.send(request) { result in box.set(result.mapError { $0 as Error }) }
        }
        return try boxes.map { try $0.wait() }
    }

    func close() { client.close() }
}

final class ResultBox<Value>: @unchecked Sendable {
    private let condition = NSCondition()
    private var result: Result<Value, Error>?
    func set(_ value: Result<Value, Error>) { condition.lock(); result = value; condition.broadcast(); condition.unlock() }
    func wait(timeout: Double = 20) throws -> Value {
        condition.lock(); defer { condition.unlock() }
        let deadline = Date().addingTimeInterval(timeout)
        while result == nil { if !condition.wait(until: deadline) { break } }
        guard let result else { throw TestClientError(message: "no answer in \(timeout) s") }
        return try result.get()
    }
}

extension HTTPResponse {
    /// The first header named `name` (any case).
    func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }
}
