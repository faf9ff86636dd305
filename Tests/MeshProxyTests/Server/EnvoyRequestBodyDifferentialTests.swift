import Foundation
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// HTTP/1.1 request bodies that arrive after their head stream to the upstream: uploads under and past the buffer
/// limit (1 MiB) through a route with Istio's default retry policy and one without, Content-Length and chunked,
/// `Expect: 100-continue`, and a body slower than the route's timeout (which runs from the request's end). meshctl's proxy must answer as Envoy 1.40 observed does (attempts, statuses, access log
/// flags and bytes, retry stats); with ENVOY set, the same uploads run through real Envoy and must match it.
final class EnvoyRequestBodyDifferentialTests: XCTestCase {
    /// One upload: its target, body size and framing; `expectContinue`: the head asks for 100 Continue first.
    private struct Upload {
        let path: String
        let size: Int
        var chunked = false
        var expectContinue = false
        /// Seconds the body waits after the head (longer than the route's timeout, which runs from the request's end).
        var pauseBeforeBody = 0.0
    }

    /// What a client and the upstream saw of one upload.
    private struct Outcome: Equatable, CustomStringConvertible {
        var status: Int
        var fromUpstream: Bool
        var attempts: Int
        var continued: Bool
        var description: String { "\(status)\(fromUpstream ? " (upstream)" : "") attempts=\(attempts)\(continued ? " continued" : "")" }
    }

    private static let retryRoute = "{name: retry, match: {prefix: /retry}, route: {cluster: app, retry_policy: {retry_on: \"connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes\", num_retries: 2, retriable_status_codes: [503]}}}"

    private static let uploads = [
        Upload(path: "/retry/status/503", size: 1000),
        Upload(path: "/retry/status/503", size: 900 * 1024, chunked: true),
        Upload(path: "/retry/status/503", size: 2 << 20),
        Upload(path: "/retry/status/503", size: 2 << 20, chunked: true),
        Upload(path: "/upload", size: 2_500_000, chunked: true),
        Upload(path: "/upload/length", size: 2_500_000),
        Upload(path: "/upload/expect", size: 5000, expectContinue: true),
        Upload(path: "/late-upload", size: 5000, pauseBeforeBody: 1),
    ]

    /// What Envoy 1.40 does with them (checked with the real binary): retried while the body is under the buffer
    /// limit, sent once past it; every body streams (no 413); Envoy says 100 Continue itself.
    private static let expected = [
        Outcome(status: 503, fromUpstream: true, attempts: 3, continued: false),
        Outcome(status: 503, fromUpstream: true, attempts: 3, continued: false),
        Outcome(status: 503, fromUpstream: true, attempts: 1, continued: false),
        Outcome(status: 503, fromUpstream: true, attempts: 1, continued: false),
        Outcome(status: 200, fromUpstream: true, attempts: 1, continued: false),
        Outcome(status: 200, fromUpstream: true, attempts: 1, continued: false),
        Outcome(status: 200, fromUpstream: true, attempts: 1, continued: true),
        Outcome(status: 200, fromUpstream: true, attempts: 1, continued: false),
    ]

    private static let statNames = ["cluster.app.upstream_rq_retry", "cluster.app.upstream_rq_retry_limit_exceeded", "cluster.app.retry_or_shadow_abandoned",
                                    "cluster.app.upstream_rq_total"]

    private func bootstrap(directory: URL, upstreamPort: Int) -> PolicyBootstrap {
        var bootstrap = PolicyBootstrap(directory: directory, upstreamPort: upstreamPort)
        bootstrap.routes = [Self.retryRoute, "{name: slow, match: {prefix: /late-upload}, route: {cluster: app, timeout: 0.5s}}",
                            "{name: all, match: {prefix: /}, route: {cluster: app}}"]
        bootstrap.logFormat = "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %BYTES_RECEIVED%"
        return bootstrap
    }

    private func run(_ bootstrap: PolicyBootstrap, upstream: SampleUpstream, stats: () throws -> [String: Int]) throws
        -> (outcomes: [Outcome], log: [String], stats: [String: Int]) {
        var outcomes: [Outcome] = []
        for upload in Self.uploads {
            let before = upstream.requests.count
            let (status, fromUpstream, continued) = try send(upload, port: bootstrap.httpPort, stats: stats)
            // The proxy logs after its answer; every attempt reached the upstream before the answer left.
            outcomes.append(Outcome(status: status, fromUpstream: fromUpstream, attempts: upstream.requests.count - before, continued: continued))
        }
        let log = bootstrap.accessLogLines(count: Self.uploads.count)
        var values: [String: Int] = [:]
        XCTAssertTrue(eventually { values = (try? stats()) ?? [:]; return values["cluster.app.upstream_rq_total"] == 12 }, "\(values)")
        return (outcomes, log, values)
    }

    /// Sends the head alone, waits until the proxy has begun the request (so the body arrives after it, and
    /// streams), then the body in parts; returns the answer's status, whether the upstream made it, and whether
    /// 100 Continue came before the body.
    private func send(_ upload: Upload, port: Int, stats: () throws -> [String: Int]) throws -> (Int, Bool, Bool) {
        let client = try LoopbackClient(address: "127.0.0.1", port: port)
        defer { client.close() }
        var head = "POST \(upload.path) HTTP/1.1\r\nhost: app\r\n"
        head += upload.chunked ? "transfer-encoding: chunked\r\n" : "content-length: \(upload.size)\r\n"
        if upload.expectContinue { head += "expect: 100-continue\r\n" }
        try client.send(head + "\r\n")
        var continued = false
        if upload.expectContinue {
            continued = eventually(timeout: 10) { client.readAvailable().hasPrefix("HTTP/1.1 100 Continue\r\n\r\n") }
        }
        XCTAssertTrue(eventually(timeout: 10) { ((try? stats()) ?? [:])["http.inbound.downstream_rq_active"] == 1 }, "the proxy did not begin \(upload.path)")
        // The scenario itself, not a wait for a condition: the body comes after the route's timeout has passed.
        if upload.pauseBeforeBody > 0 { Thread.sleep(forTimeInterval: upload.pauseBeforeBody) }
        let piece = 256 * 1024
        var sent = 0
        while sent < upload.size {
            let count = min(piece, upload.size - sent)
            let bytes = [UInt8](repeating: UInt8(ascii: "a") + UInt8(sent / piece % 26), count: count)
            try client.send(bytes: upload.chunked ? Array((String(count, radix: 16) + "\r\n").utf8) + bytes + Array("\r\n".utf8) : bytes)
            sent += count
        }
        if upload.chunked { try client.send("0\r\n\r\n") }
        let interim = "HTTP/1.1 100 Continue\r\n\r\n"
        var text = ""
        XCTAssertTrue(eventually(timeout: 20) {
            text = client.readAvailable()
            if continued, text.hasPrefix(interim) { text.removeFirst(interim.count) }
            guard let end = text.range(of: "\r\n\r\n") else { return false }
            let length = text[..<end.lowerBound].split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
            return text.utf8.count - text[..<end.upperBound].utf8.count >= length
        }, "no whole answer to \(upload.path): \(text.prefix(200))")
        let status = Int(text.dropFirst("HTTP/1.1 ".count).prefix(3)) ?? 0
        return (status, text.lowercased().contains("\r\nx-upstream: app\r\n"), continued)
    }

    func testUploadsStreamAndAreRetriedOnlyUnderTheBufferLimitAsInEnvoy() throws {
        let upstream = try SampleUpstream(name: "app")
        defer { upstream.stop() }
        let directory = try DifferentialRun.scratch("meshproxy-body-diff")
        defer { try? FileManager.default.removeItem(at: directory) }
        let names = Self.statNames + ["http.inbound.downstream_rq_active"]
        let proxyBootstrap = bootstrap(directory: directory.appendingPathComponent("meshctl"), upstreamPort: upstream.port)
        let proxyRun = try DifferentialRun.inMeshctl(proxyBootstrap, statNames: names) { stats in try run(proxyBootstrap, upstream: upstream, stats: stats) }
        for (index, (actual, expected)) in zip(proxyRun.outcomes, Self.expected).enumerated() {
            XCTAssertEqual(actual, expected, "upload \(index): \(Self.uploads[index])")
        }
        XCTAssertEqual(proxyRun.log.count, Self.uploads.count, "\(proxyRun.log)")
        let sizes = Self.uploads.map(\.size)
        for (line, size) in zip(proxyRun.log, sizes) { XCTAssertTrue(line.hasSuffix(" \(size)"), "%BYTES_RECEIVED% of a \(size)-byte body: \(line)") }
        XCTAssertEqual(proxyRun.stats["cluster.app.upstream_rq_retry"], 4)
        XCTAssertEqual(proxyRun.stats["cluster.app.retry_or_shadow_abandoned"], 2)

        guard let envoy = EnvoyDifferentialTests.envoyBinary else {
            throw XCTSkip("no envoy binary (scripts/envoy.sh installs one with pip; or set ENVOY): the upload differential against Envoy did not run")
        }
        let envoyBootstrap = bootstrap(directory: directory.appendingPathComponent("envoy"), upstreamPort: upstream.port)
        let envoyRun = try DifferentialRun.inEnvoy(envoy, envoyBootstrap, statNames: names) { stats in try run(envoyBootstrap, upstream: upstream, stats: stats) }
        for (index, (actual, expected)) in zip(proxyRun.outcomes, envoyRun.outcomes).enumerated() {
            XCTAssertEqual(actual, expected, "upload \(index): \(Self.uploads[index])")
        }
        XCTAssertEqual(proxyRun.log, envoyRun.log, "access log lines (path, status, flags, details, bytes received)")
        XCTAssertEqual(proxyRun.stats.filter { $0.key != "http.inbound.downstream_rq_active" }, envoyRun.stats.filter { $0.key != "http.inbound.downstream_rq_active" },
                       "retry stats")
        print("envoy request body differential: \(Self.uploads.count) uploads compared with Envoy 1.40")
    }
}
