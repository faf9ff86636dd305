import Foundation
@testable import MeshProxy
import MeshHTTP1
import MeshHTTP2
import MeshNet
import MeshTestSupport
import XCTest

/// A cluster that asks for HTTP/2 (`http2_protocol_options`, Istio's grpc/http2 ports): the proxy speaks h2c with
/// prior knowledge to a real MeshHTTP2 server, requests sharing a connection as streams, and maps the server's
/// stream resets to Envoy's reset reasons and flags.
final class HTTP2UpstreamTests: XCTestCase {
    private var loop: EventLoop!
    private var server: HTTP2Server!
    private var proxy: ProxyServer!
    private var listenerPort = 0
    private var directory: URL!
    private let seen = SeenRequests()
    private let large = LargeAnswer()

    /// The `/large` answer's responder, to see how much of it the proxy has not taken.
    final class LargeAnswer: @unchecked Sendable {
        private let lock = NSLock()
        private var responder: HTTP2ResponseStream?
        func set(_ value: HTTP2ResponseStream) { lock.lock(); responder = value; lock.unlock() }
        /// Bytes of the answer the server still holds (its queue and the socket's), read on the server's loop.
        func pending() -> Int? {
            lock.lock(); let responder = responder; lock.unlock()
            guard let responder else { return nil }
            let box = ResultBox<Int>()
            responder.loop.execute { box.set(.success(responder.pendingOutput)) }
            return try? box.wait()
        }
    }

    final class SeenRequests: @unchecked Sendable {
        private let lock = NSLock()
        private var requests: [(peer: String, request: HTTPRequest)] = []
        private var counts: [String: Int] = [:]
        func add(_ request: HTTPRequest, peer: String) -> Int {
            lock.lock(); defer { lock.unlock() }
            requests.append((peer, request))
            counts[request.path, default: 0] += 1
            return counts[request.path]!
        }
        var all: [(peer: String, request: HTTPRequest)] { lock.lock(); defer { lock.unlock() }; return requests }
    }

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshproxy-h2-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        loop = try EventLoop(name: "h2-upstream")
        loop.start()
        let seen = seen, large = large
        server = try HTTP2Server(host: "127.0.0.1", port: 0, loops: [loop]) { request, responder in
            let count = seen.add(request, peer: responder.peerAddress ?? "")
            switch request.path {
            case "/reset":
                responder.reset(code: .internalError)
            case "/refused-once":
                if count == 1 { responder.reset(code: .refusedStream) } else { responder.respond(HTTPResponse(status: 200, contentType: "text/plain", text: "second try\n")) }
            case "/slow":
                responder.loop.schedule(after: 0.3) { responder.respond(HTTPResponse(status: 200, contentType: "text/plain", text: "slow\n")) }
            case "/large":
                let stream = responder.respondStreaming(status: 200, headers: [("content-type", "application/octet-stream")], contentLength: 8 << 20)
                large.set(stream)
                stream.send(ByteBuffer(bytes: [UInt8](repeating: 7, count: 8 << 20)))
                stream.finish()
            case "/trailers":
                responder.startStream(status: 200, headers: [("content-type", "text/plain")])
                responder.sendBody(ByteBuffer(string: "body"))
                responder.finish(trailers: [("x-checksum", "ok")])
            default:
                responder.respond(HTTPResponse(status: 200, headers: [("content-type", "text/plain"), ("x-upstream", "h2")],
                                               body: Array("h2 \(request.method) \(request.target) \(request.header("host") ?? "") \(request.body.count)\n".utf8)))
            }
        }
        server.start()
    }

    override func tearDown() {
        proxy?.stop()
        server?.stop()
        loop?.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    private func start(maxConcurrentStreams: Int? = nil, retryOn: String? = nil, upstreamPort: Int? = nil, common: String? = nil, maxRequests: Int? = nil,
                       managerFields: String = "") throws {
        listenerPort = freeLocalPort()
        let options = maxConcurrentStreams.map { "{max_concurrent_streams: \($0)}" } ?? "{}"
        let retry = retryOn.map { ", retry_policy: {retry_on: \"\($0)\", num_retries: 1}" } ?? ""
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
                  stat_prefix: l\(managerFields.isEmpty ? "" : "\n          " + managerFields)
                  route_config:
                    virtual_hosts:
                    - {name: v, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: grpc\(retry)}}]}
                  http_filters:
                  - {name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
                  access_log:
                  - name: envoy.access_loggers.file
                    typed_config: {"@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog, path: \(directory.path)/access.log}
          clusters:
          - name: grpc
            connect_timeout: 1s\(maxRequests.map { "\n    circuit_breakers: {thresholds: [{max_requests: \($0)}]}" } ?? "")
            typed_extension_protocol_options:
              envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
                "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
                explicit_http_config: {http2_protocol_options: \(options)}\(common.map { "\n        common_http_protocol_options: \($0)" } ?? "")
            load_assignment: {cluster_name: grpc, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \(upstreamPort ?? server.port)}}}}]}]}
        """
        let file = directory.appendingPathComponent("envoy.yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        proxy = try ProxyServer(configuration: try ProxyConfiguration.load(file: file.path), concurrency: 1,
                                log: ProxyLog(level: .error) { FileHandle.standardError.write(Data($0.utf8)) })
        proxy.start()
    }

    private func get(_ path: String, method: String = "GET", body: String = "") throws -> TestResponse {
        try TestClient.get(port: listenerPort, path: path, host: "app.local", method: method, body: body)
    }

    private func accessLog(lines: Int) -> String {
        var log = ""
        _ = eventually { log = (try? String(contentsOf: directory.appendingPathComponent("access.log"), encoding: .utf8)) ?? ""; return log.split(separator: "\n").count >= lines }
        return log
    }

    func testRequestsToAnHTTP2ClusterGoAsStreamsOfOneH2CConnection() throws {
        try start()
        XCTAssertEqual(proxy.store.current.cluster(named: "grpc")?.wantsHTTP2Upstream, true)
        for index in 0..<3 {
            let answer = try get("/items/\(index)?q=1")
            XCTAssertEqual(answer.status, 200)
            XCTAssertEqual(answer.body, "h2 GET /items/\(index)?q=1 app.local 0\n")
            XCTAssertEqual(answer.header("x-upstream"), "h2")
            XCTAssertNotNil(answer.header("x-envoy-upstream-service-time"))
        }
        let posted = try get("/upload", method: "POST", body: String(repeating: "x", count: 100_000))
        XCTAssertEqual(posted.body, "h2 POST /upload app.local 100000\n")
        let requests = seen.all
        XCTAssertEqual(requests.count, 4)
        XCTAssertEqual(Set(requests.map(\.peer)).count, 1, "one upstream connection carries every request")
        XCTAssertEqual(requests[0].request.version, 20)
        XCTAssertNotNil(requests[0].request.header("x-request-id"))
        XCTAssertEqual(requests[0].request.header("x-forwarded-proto"), "http")
        XCTAssertEqual(proxy.stats.value("cluster.grpc.upstream_cx_total"), 1)
        XCTAssertEqual(proxy.stats.value("cluster.grpc.upstream_cx_http2_total"), 1)
        XCTAssertEqual(proxy.stats.value("cluster.grpc.upstream_rq_total"), 4)
        XCTAssertTrue(accessLog(lines: 4).contains("\"GET /items/0?q=1 HTTP/1.1\" 200 - 0 "))
    }

    func testAnAnswerWithTrailersReachesAnHTTP1ClientWithoutThem() throws {
        try start()
        let answer = try get("/trailers")
        XCTAssertEqual(answer.status, 200)
        XCTAssertEqual(answer.body, "body")
        XCTAssertNil(answer.header("x-checksum"))
    }

    func testTrailersPassFromAnHTTP2UpstreamToAnHTTP2Client() throws {
        try start()
        let client = try H2Client(port: listenerPort, loop: loop)
        defer { client.close() }
        let answer = try client.send(HTTPRequest(method: "GET", target: "/trailers", headers: [("host", "app.local")]))
        XCTAssertEqual(answer.status, 200)
        XCTAssertEqual(String(decoding: answer.body, as: UTF8.self), "body")
        XCTAssertEqual(answer.header("x-checksum"), "ok", "the trailer arrives")
    }

    func testAStreamResetByTheUpstreamAnswers503WithTheUpstreamRemoteResetFlag() throws {
        try start()
        let answer = try get("/reset")
        XCTAssertEqual(answer.status, 503)
        XCTAssertEqual(answer.body, "upstream connect error or disconnect/reset before headers. reset reason: remote reset")
        let log = accessLog(lines: 1)
        XCTAssertTrue(log.contains("\"GET /reset HTTP/1.1\" 503 UR 0 85 "), log)
        XCTAssertEqual(proxy.stats.value("cluster.grpc.upstream_rq_rx_reset"), 1)
        // The connection carries on for the next request.
        XCTAssertEqual(try get("/after").status, 200)
        XCTAssertEqual(proxy.stats.value("cluster.grpc.upstream_cx_total"), 1)
    }

    func testARefusedStreamIsRetriedUnderRefusedStream() throws {
        try start(retryOn: "refused-stream")
        let answer = try get("/refused-once")
        XCTAssertEqual(answer.status, 200)
        XCTAssertEqual(answer.body, "second try\n")
        XCTAssertEqual(proxy.stats.value("cluster.grpc.upstream_rq_retry"), 1)
    }

    func testAConnectionTheHostEndsWithGOAWAYIsLeftAndTheNextRequestOpensAnother() throws {
        // This host says GOAWAY once its connection has been idle for 0.2 s.
        let idle = try HTTP2Server(host: "127.0.0.1", port: 0, loops: [loop], idleTimeout: 0.2) { _, responder in
            responder.respond(HTTPResponse(status: 200, contentType: "text/plain", text: "idle host\n"))
        }
        idle.start()
        defer { idle.stop() }
        try start(upstreamPort: idle.port)
        XCTAssertEqual(try get("/one").body, "idle host\n")
        XCTAssertTrue(eventually(timeout: 10) { self.proxy.stats.value("cluster.grpc.upstream_cx_destroy") == 1 }, "the connection was not closed after GOAWAY")
        XCTAssertEqual(try get("/two").body, "idle host\n")
        XCTAssertEqual(proxy.stats.value("cluster.grpc.upstream_cx_total"), 2)
    }

    /// An HTTP/2 client that takes nothing more than its first window: the proxy stops giving the host window for
    /// the stream, so most of an 8 MiB answer stays with the host instead of piling up in the proxy.
    func testASlowHTTP2ClientPausesTheStreamOfItsHost() throws {
        try start()
        let client = try LoopbackClient(address: "127.0.0.1", port: listenerPort)
        defer { client.close() }
        var settings = HTTP2LocalSettings()
        settings.reopensWindowsOnReceipt = false  // this client never reads: its 65,535-byte window stays used up
        let codec = HTTP2Connection(role: .client, settings: settings)
        let id = try codec.openStream(headers: [HeaderField(name: ":method", value: "GET"), HeaderField(name: ":scheme", value: "http"),
                                                HeaderField(name: ":authority", value: "app.local"), HeaderField(name: ":path", value: "/large")],
                                      endStream: true)
        var received = 0, offset = 0
        XCTAssertTrue(eventually(timeout: 20) {
            if let out = codec.takeOutput() { try? client.send(bytes: out.readableArray) }
            _ = client.readAvailable()
            let bytes = client.receivedBytes
            if bytes.count > offset {
                for case .data(let stream, let data, _) in codec.receive(ByteBuffer(bytes: Array(bytes[offset...]))) where stream == id { received += data.readableBytes }
                offset = bytes.count
            }
            return received == 65_535
        }, "the client got \(received) bytes")
        // The proxy holds at most its stream window (1 MiB) and its pause threshold; the rest waits at the host.
        XCTAssertFalse(eventually(timeout: 2) { (self.large.pending() ?? 0) < 4 << 20 }, "the host's answer drained into the proxy")
        XCTAssertGreaterThan(large.pending() ?? 0, 4 << 20)
    }

    /// A bidi-streaming gRPC call: the host answers each message as it comes, and the client gets the first
    /// answer before it sends its second message, so neither side's body is gathered whole on the way.
    func testABidiStreamingGRPCCallFlowsBothWaysThroughTheProxy() throws {
        let echo = try HTTP2Server(host: "127.0.0.1", port: 0, loops: [loop]) { stream in
            stream.responder.startStream(status: 200, headers: [("content-type", "application/grpc")])
            stream.onData = { part in stream.responder.sendBody(part) }
            stream.onEnd = { _ in stream.responder.finish(trailers: [("grpc-status", "0")]) }
        }
        echo.start()
        defer { echo.stop() }
        try start(upstreamPort: echo.port)
        let client = try LoopbackClient(address: "127.0.0.1", port: listenerPort)
        defer { client.close() }
        let codec = HTTP2Connection(role: .client)
        let id = try codec.openStream(headers: [HeaderField(name: ":method", value: "POST"), HeaderField(name: ":scheme", value: "http"),
                                                HeaderField(name: ":authority", value: "app.local"), HeaderField(name: ":path", value: "/echo.Echo/Chat"),
                                                HeaderField(name: "content-type", value: "application/grpc"), HeaderField(name: "te", value: "trailers")],
                                      endStream: false)
        let first: [UInt8] = [0, 0, 0, 0, 3] + Array("one".utf8)
        let second: [UInt8] = [0, 0, 0, 0, 3] + Array("two".utf8)
        try codec.sendData(streamID: id, ByteBuffer(bytes: first), endStream: false)
        var body: [UInt8] = [], trailers: [HeaderField] = [], offset = 0
        func pump() {
            if let out = codec.takeOutput() { try? client.send(bytes: out.readableArray) }
            _ = client.readAvailable()
            let bytes = client.receivedBytes
            guard bytes.count > offset else { return }
            for event in codec.receive(ByteBuffer(bytes: Array(bytes[offset...]))) {
                switch event {
                case .data(id, let data, _): body += data.readableArray
                case .trailers(id, let fields): trailers = fields
                default: break
                }
            }
            offset = bytes.count
        }
        XCTAssertTrue(eventually(timeout: 20) { pump(); return body == first }, "the first message's echo did not come before the call ended: \(body)")
        try codec.sendData(streamID: id, ByteBuffer(bytes: second), endStream: true)
        XCTAssertTrue(eventually(timeout: 20) { pump(); return !trailers.isEmpty }, "no trailers")
        XCTAssertEqual(body, first + second)
        XCTAssertEqual(trailers.first { $0.name == "grpc-status" }?.value, "0")
        XCTAssertTrue(accessLog(lines: 1).contains("\"POST /echo.Echo/Chat HTTP/2\" 200 - 16 16 "), accessLog(lines: 1))
    }

    func testTheClustersIdleTimeoutAndRequestsPerConnectionEndAnHTTP2Connection() throws {
        try start(common: "{idle_timeout: 0.2s, max_requests_per_connection: 2}")
        for index in 0..<3 { XCTAssertEqual(try get("/r/\(index)").status, 200) }
        XCTAssertEqual(proxy.stats.value("cluster.grpc.upstream_cx_total"), 2, "two requests per connection")
        XCTAssertEqual(proxy.stats.value("cluster.grpc.upstream_cx_max_requests"), 1)
        XCTAssertTrue(eventually(timeout: 10) { self.proxy.stats.value("cluster.grpc.upstream_cx_idle_timeout") == 1 }, "the idle connection stayed")
        XCTAssertTrue(eventually(timeout: 10) { self.proxy.stats.value("cluster.grpc.upstream_cx_active") == 0 })
        XCTAssertEqual(try get("/after-idle").status, 200)
        XCTAssertEqual(proxy.stats.value("cluster.grpc.upstream_cx_total"), 3)
    }

    /// HTTP/2 requests share a connection, so `max_requests` is what bounds them (as in Envoy): the second of two
    /// concurrent requests overflows.
    func testMaxRequestsBoundsConcurrentStreams() throws {
        try start(maxRequests: 1)
        let port = listenerPort
        let group = DispatchGroup()
        let statuses = LockedStatuses()
        for _ in 0..<2 {
            DispatchQueue.global().async(group: group) {
                statuses.add((try? TestClient.get(port: port, path: "/slow", host: "app.local").status) ?? 0)
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 20), .success)
        XCTAssertEqual(statuses.values.sorted(), [200, 503])
        XCTAssertEqual(proxy.stats.value("cluster.grpc.upstream_cx_total"), 1)
        XCTAssertTrue(accessLog(lines: 2).contains(" 503 UO "), accessLog(lines: 2))
    }

    /// A streamed gRPC body to a host that takes nothing: the proxy stops giving the client window once about a
    /// MiB waits for the host, so most of the client's 8 MiB stays with the client.
    func testAStreamedRequestBodyToASlowHostSlowsTheClient() throws {
        var stalled = HTTP2LocalSettings()
        stalled.reopensWindowsOnReceipt = false  // never gives its window back
        let sink = try HTTP2Server(host: "127.0.0.1", port: 0, loops: [loop], settings: stalled) { stream in
            stream.responder.startStream(status: 200, headers: [("content-type", "application/grpc")])
        }
        sink.start()
        defer { sink.stop() }
        try start(upstreamPort: sink.port)
        let client = try LoopbackClient(address: "127.0.0.1", port: listenerPort)
        defer { client.close() }
        let codec = HTTP2Connection(role: .client)
        let id = try codec.openStream(headers: [HeaderField(name: ":method", value: "POST"), HeaderField(name: ":scheme", value: "http"),
                                                HeaderField(name: ":authority", value: "app.local"), HeaderField(name: ":path", value: "/sink.Sink/Push"),
                                                HeaderField(name: "content-type", value: "application/grpc")],
                                      endStream: false)
        try codec.sendData(streamID: id, ByteBuffer(bytes: [UInt8](repeating: 3, count: 8 << 20)), endStream: false)
        var offset = 0
        func pump() {
            if let out = codec.takeOutput() { try? client.send(bytes: out.readableArray) }
            _ = client.readAvailable()
            let bytes = client.receivedBytes
            if bytes.count > offset { _ = codec.receive(ByteBuffer(bytes: Array(bytes[offset...]))); offset = bytes.count }
        }
        // The client's queue stops going down: the proxy holds back its window.
        XCTAssertFalse(eventually(timeout: 3) { pump(); return codec.pendingBytes(on: id) < 4 << 20 }, "the proxy took the whole body")
        XCTAssertGreaterThan(codec.pendingBytes(on: id), 4 << 20)
    }

    /// An HTTP/1.1 client's chunked upload, sent after its head, streams to the HTTP/2 host as DATA and arrives whole.
    func testAnHTTP1UploadStreamsToAnHTTP2Host() throws {
        try start()
        let client = try LoopbackClient(address: "127.0.0.1", port: listenerPort)
        defer { client.close() }
        try client.send("POST /upload HTTP/1.1\r\nhost: app.local\r\ntransfer-encoding: chunked\r\n\r\n")
        XCTAssertTrue(eventually { self.proxy.stats.value("http.l.downstream_rq_active") == 1 }, "the proxy did not begin the request")
        let piece = [UInt8](repeating: 9, count: 250_000)
        for _ in 0..<10 { try client.send(bytes: Array("3d090\r\n".utf8) + piece + Array("\r\n".utf8)) }
        try client.send("0\r\n\r\n")
        XCTAssertTrue(eventually(timeout: 20) { client.readAvailable().contains("h2 POST /upload app.local 2500000\n") }, client.readAvailable())
        XCTAssertEqual(seen.all.last?.request.body.count, 2_500_000)
    }

    /// An HTTP/1.1 upload to an HTTP/2 host that gives no window back: the proxy stops reading the client once the
    /// backlog waiting for the host's window passes 1 MiB, so the client's sends stall far short of the body.
    func testAnHTTP1UploadToAStalledHTTP2HostStopsTheClientsReads() throws {
        var stalled = HTTP2LocalSettings()
        stalled.reopensWindowsOnReceipt = false
        let sink = try HTTP2Server(host: "127.0.0.1", port: 0, loops: [loop], settings: stalled) { stream in
            stream.responder.startStream(status: 200, headers: [("content-type", "text/plain")])
        }
        sink.start()
        defer { sink.stop() }
        try start(upstreamPort: sink.port)
        let client = try LoopbackClient(address: "127.0.0.1", port: listenerPort)
        let total = 64 << 20
        try client.send("POST /upload HTTP/1.1\r\nhost: app.local\r\ncontent-length: \(total)\r\n\r\n")
        let sent = ResultBox<Int>()
        let progress = ProgressCount()
        nonisolated(unsafe) let sender = client  // used by the sending thread only until it ends
        Thread.detachNewThread {
            let piece = [UInt8](repeating: 1, count: 64 * 1024)
            var count = 0
            while count < total, (try? sender.send(bytes: piece)) != nil { count += piece.count; progress.set(count) }
            sent.set(.success(count))
        }
        XCTAssertFalse(eventually(timeout: 3) { progress.value >= total }, "the proxy took the whole body")
        XCTAssertLessThan(progress.value, total / 2)
        XCTAssertGreaterThanOrEqual(proxy.stats.value("http.l.downstream_flow_control_paused_reading_total"), 1)
        XCTAssertGreaterThanOrEqual(proxy.stats.value("cluster.grpc.upstream_flow_control_backed_up_total"), 1)
        // The host's codec stats: one stream, and the body's backlog (past 1 MiB) waiting for its window.
        XCTAssertEqual(proxy.stats.value("cluster.grpc.http2.streams_active"), 1)
        XCTAssertGreaterThanOrEqual(proxy.stats.value("cluster.grpc.http2.pending_send_bytes"), 1 << 20)
        client.finishSending()  // the blocked send fails and the thread ends
        XCTAssertLessThan(try sent.wait(), total)
        client.close()
        XCTAssertTrue(eventually(timeout: 20) { self.proxy.stats.value("cluster.grpc.http2.pending_send_bytes") == 0 },
                      "pending_send_bytes stayed at \(proxy.stats.value("cluster.grpc.http2.pending_send_bytes"))")
        XCTAssertTrue(eventually(timeout: 20) { self.proxy.stats.value("cluster.grpc.http2.streams_active") == 0 })
    }

    /// An HTTP/2 client's streamed body is kept for a retry only up to the connection manager's stream window (Envoy's
    /// buffer limit for HTTP/2 streams; 1 MiB here): a host that resets the stream after 4 MiB is not asked again, and
    /// the gRPC client gets UNAVAILABLE.
    func testAStreamedBodyPastTheRetryBufferIsNotRetried() throws {
        let calls = SeenRequests()
        let resetter = try HTTP2Server(host: "127.0.0.1", port: 0, loops: [loop]) { stream in
            _ = calls.add(stream.request, peer: "")
            var received = 0
            stream.onData = { part in
                received += part.readableBytes
                if received > 4 << 20 { stream.responder.reset(code: .internalError) }
            }
        }
        resetter.start()
        defer { resetter.stop() }
        try start(retryOn: "reset", upstreamPort: resetter.port, managerFields: "http2_protocol_options: {initial_stream_window_size: 1048576}")
        let client = try LoopbackClient(address: "127.0.0.1", port: listenerPort)
        defer { client.close() }
        let codec = HTTP2Connection(role: .client)
        let id = try codec.openStream(headers: [HeaderField(name: ":method", value: "POST"), HeaderField(name: ":scheme", value: "http"),
                                                HeaderField(name: ":authority", value: "app.local"), HeaderField(name: ":path", value: "/big.Big/Push"),
                                                HeaderField(name: "content-type", value: "application/grpc")],
                                      endStream: false)
        try codec.sendData(streamID: id, ByteBuffer(bytes: [UInt8](repeating: 5, count: 5 << 20)), endStream: false)
        var head: [HeaderField] = [], offset = 0
        XCTAssertTrue(eventually(timeout: 20) {
            if let out = codec.takeOutput() { try? client.send(bytes: out.readableArray) }
            _ = client.readAvailable()
            let bytes = client.receivedBytes
            if bytes.count > offset {
                for case .headers(id, let fields, _) in codec.receive(ByteBuffer(bytes: Array(bytes[offset...]))) { head = fields }
                offset = bytes.count
            }
            return !head.isEmpty
        }, "no answer")
        XCTAssertEqual(head.first { $0.name == "grpc-status" }?.value, "14", "\(head)")
        XCTAssertEqual(calls.all.count, 1, "not retried")
        XCTAssertEqual(proxy.stats.value("cluster.grpc.upstream_rq_retry"), 0)
    }

    func testMaxConcurrentStreamsOpensAnotherConnectionForTheRequestThatDoesNotFit() throws {
        try start(maxConcurrentStreams: 1)
        let port = listenerPort
        let group = DispatchGroup()
        let statuses = LockedStatuses()
        for _ in 0..<2 {
            DispatchQueue.global().async(group: group) {
                statuses.add((try? TestClient.get(port: port, path: "/slow", host: "app.local").status) ?? 0)
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 20), .success)
        XCTAssertEqual(statuses.values, [200, 200])
        XCTAssertEqual(proxy.stats.value("cluster.grpc.upstream_cx_total"), 2)
        XCTAssertEqual(Set(seen.all.map(\.peer)).count, 2)
    }

    final class LockedStatuses: @unchecked Sendable {
        private let lock = NSLock()
        private var list: [Int] = []
        func add(_ value: Int) { lock.lock(); list.append(value); lock.unlock() }
        var values: [Int] { lock.lock(); defer { lock.unlock() }; return list }
    }
}

/// A count one thread sets and another reads.
private final class ProgressCount: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
    func set(_ value: Int) { lock.lock(); count = value; lock.unlock() }
}
