import Foundation
@testable import MeshProxy
import MeshNet
import MeshTestSupport
import XCTest

/// The connection manager's timeouts (`common_http_protocol_options.idle_timeout`, `request_headers_timeout`, a
/// route's `idle_timeout`) and trace headers passed through untouched, in meshctl's proxy and Envoy 1.40.
final class HTTPTimeoutTests: XCTestCase {
    private static let traceHeaders = [("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
                                       ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"), ("x-b3-spanid", "e457b5a2e4d86bd1"),
                                       ("x-b3-sampled", "1"), ("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"),
                                       ("x-request-id", "keep-this-id")]

    private func bootstrap(directory: URL, upstream: Int) -> PolicyBootstrap {
        var bootstrap = PolicyBootstrap(directory: directory, upstreamPort: upstream)
        bootstrap.managerFields = ["common_http_protocol_options: {idle_timeout: 0.5s}", "request_headers_timeout: 0.5s"]
        bootstrap.routes = ["{name: idle, match: {prefix: /slow}, route: {cluster: app, timeout: 5s, idle_timeout: 0.3s}}",
                            "{name: all, match: {prefix: /}, route: {cluster: app}}"]
        return bootstrap
    }

    /// What a client sees in each case, with the Date header's value left out.
    private func run(port: Int, upstream: SampleUpstream) throws -> [String] {
        var results: [String] = []
        let idle = try LoopbackClient(address: "127.0.0.1", port: port)
        XCTAssertTrue(eventually { _ = idle.readAvailable(); return idle.closedAfter != nil }, "an idle connection stayed open")
        results.append("idle connection: closed, answer \"\(idle.readAvailable())\"")

        let slowHead = try LoopbackClient(address: "127.0.0.1", port: port)
        try slowHead.send("GET /partial HTTP/1.1\r\nhost: app\r\n")
        let answer = slowHead.readUntilClosed(timeout: 10)
        results.append("partial head: " + answer.components(separatedBy: "\r\n").filter { !$0.lowercased().hasPrefix("date:") }.joined(separator: "|"))

        let slow = try TestClient.get(port: port, path: "/slow/1", host: "app")
        results.append("route idle timeout: \(slow.status) \(slow.body)")

        let traced = try TestClient.get(port: port, path: "/trace", host: "app", headers: Self.traceHeaders)
        XCTAssertEqual(traced.status, 200)
        let seen = upstream.received.last { $0.target == "/trace" }
        results.append("trace headers: " + Self.traceHeaders.map { name, _ in "\(name)=\(seen?.header(name) ?? "-")" }.joined(separator: " "))
        return results
    }

    func testTimeoutsAndTraceHeadersAsInEnvoy() throws {
        let upstream = try SampleUpstream(name: "app")
        defer { upstream.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshproxy-timeouts-\(UUID().uuidString)")
        for side in ["envoy", "meshctl"] {
            try FileManager.default.createDirectory(at: directory.appendingPathComponent(side), withIntermediateDirectories: true)
        }
        defer { try? FileManager.default.removeItem(at: directory) }

        let proxyBootstrap = bootstrap(directory: directory.appendingPathComponent("meshctl"), upstream: upstream.port)
        let proxy = try ProxyServer(configuration: try ProxyConfiguration.load(file: try proxyBootstrap.write()), concurrency: 1,
                                    log: ProxyLog(level: .error) { FileHandle.standardError.write(Data($0.utf8)) })
        proxy.start()
        let proxyResults = try run(port: proxyBootstrap.httpPort, upstream: upstream)
        let proxyLog = proxyBootstrap.accessLogLines(count: 3)
        XCTAssertEqual(proxy.stats.value("http.inbound.downstream_cx_idle_timeout"), 1)
        XCTAssertEqual(proxy.stats.value("http.inbound.downstream_rq_header_timeout"), 1)
        proxy.stop()

        let envoyBootstrap = bootstrap(directory: directory.appendingPathComponent("envoy"), upstream: upstream.port)
        let envoy = try RunningEnvoy(bootstrap: try envoyBootstrap.write(), adminPort: envoyBootstrap.adminPort, test: "the timeout differential test")
        let envoyResults = try run(port: envoyBootstrap.httpPort, upstream: upstream)
        let envoyLog = envoyBootstrap.accessLogLines(count: 3)
        let envoyStats = try envoy.stats(["http.inbound.downstream_cx_idle_timeout", "http.inbound.downstream_rq_header_timeout"])
        envoy.stop()
        XCTAssertEqual(proxyResults, envoyResults, "what the client saw")
        XCTAssertEqual(proxyLog, envoyLog, "access log lines")
        XCTAssertEqual(envoyStats, ["http.inbound.downstream_cx_idle_timeout": 1, "http.inbound.downstream_rq_header_timeout": 1])
        print("envoy timeout differential: idle connection, partial head, route idle timeout, trace headers compared with Envoy 1.40")
    }
}
