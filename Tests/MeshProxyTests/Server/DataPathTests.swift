import ConfigValues
import Foundation
@testable import MeshProxy
import MeshNet
import MeshTestSupport
import XCTest

/// The data path on a bootstrap written for each behaviour: rewrites, redirects, direct responses, header
/// mutations, keep-alive reuse, per-try timeouts, resets, and a configuration swapped while running.
final class DataPathTests: XCTestCase {
    private var upstream: SampleUpstream!
    private var proxy: ProxyServer!
    private var listenerPort = 0
    private var directory: URL!

    override func setUpWithError() throws {
        upstream = try SampleUpstream(name: "app")
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshproxy-datapath-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        proxy?.stop()
        upstream?.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// A bootstrap with one listener whose routes are `routes` (YAML flow items) to cluster `app`.
    private func bootstrap(routes: [String], extraClusters: String = "") -> String {
        listenerPort = freeLocalPort()
        return """
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
                  server_name: istio-envoy
                  route_config:
                    name: local
                    virtual_hosts:
                    - name: v
                      domains: ["*"]
                      response_headers_to_add: [{header: {key: x-vhost, value: "yes"}}]
                      routes:
        \(routes.map { "              - " + $0 }.joined(separator: "\n"))
                  http_filters:
                  - {name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
                  access_log:
                  - name: envoy.access_loggers.file
                    typed_config: {"@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog, path: \(directory.path)/access.log}
        \(appCluster)
        \(extraClusters)
        """
    }

    /// `clusters:` with the one cluster `app`, the test's upstream.
    private var appCluster: String {
        """
          clusters:
          - name: app
            connect_timeout: 1s
            load_assignment: {cluster_name: app, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \(upstream.port)}}}}]}]}
        """
    }

    /// Writes the bootstrap to a file and runs it; returns the file.
    @discardableResult
    private func start(_ text: String) throws -> URL {
        let file = directory.appendingPathComponent("envoy-\(UUID().uuidString).yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        proxy = try ProxyServer(configuration: try ProxyConfiguration.load(file: file.path), concurrency: 1,
                                log: ProxyLog(level: .error) { FileHandle.standardError.write(Data($0.utf8)) })
        proxy.start()
        return file
    }

    private func get(_ path: String, headers: [(String, String)] = [], method: String = "GET") throws -> TestResponse {
        try TestClient.get(port: listenerPort, path: path, host: "app.local", headers: headers, method: method)
    }

    func testRewritesRedirectsDirectResponsesAndHeaders() throws {
        try start(bootstrap(routes: [
            "{name: direct, match: {path: /health}, direct_response: {status: 200, body: {inline_string: ok}}}",
            "{name: redirect, match: {prefix: /old}, redirect: {path_redirect: /new}}",
            "{name: rewrite, match: {prefix: /api/}, route: {cluster: app, prefix_rewrite: /v2/, host_rewrite_literal: backend.internal}, request_headers_to_add: [{header: {key: x-added, value: one}}], response_headers_to_remove: [x-upstream]}",
            "{name: regex, match: {safe_regex: {regex: \"/items/[0-9]+\"}}, route: {cluster: app, regex_rewrite: {pattern: {regex: \"[0-9]+\"}, substitution: \"N\"}}}",
            "{name: rest, match: {prefix: /}, route: {cluster: app}}",
        ]))
        let direct = try get("/health")
        XCTAssertEqual(direct.status, 200)
        XCTAssertEqual(direct.body, "ok")
        let redirect = try get("/old?a=1")
        XCTAssertEqual(redirect.status, 301)
        XCTAssertEqual(redirect.header("location"), "http://app.local/new?a=1")
        let rewritten = try get("/api/users?x=1")
        XCTAssertEqual(rewritten.body, "app GET /v2/users?x=1\n")
        XCTAssertNil(rewritten.header("x-upstream"), "removed from the response")
        XCTAssertEqual(rewritten.header("x-vhost"), "yes")
        XCTAssertEqual(try get("/items/42").body, "app GET /items/N\n")
        let head = try get("/plain", method: "HEAD")
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.body, "")
        var log = ""
        XCTAssertTrue(eventually { log = (try? String(contentsOf: directory.appendingPathComponent("access.log"), encoding: .utf8)) ?? ""; return log.split(separator: "\n").count >= 5 })
        // Envoy's default format: the original path is logged, and the upstream service time.
        XCTAssertTrue(log.contains("\"GET /api/users?x=1 HTTP/1.1\" 200 - 0 22 "), log)
        XCTAssertTrue(log.contains("\"GET /health HTTP/1.1\" 200 - 0 2 "), log)
    }

    func testAClientStalledInItsRequestHeadGets408AfterTheStreamIdleTimeout() throws {
        try start(bootstrap(routes: ["{match: {prefix: /}, route: {cluster: app}}"])
            .replacingOccurrences(of: "stat_prefix: l\n", with: "stat_prefix: l\n          stream_idle_timeout: 0.2s\n"))
        let started = Date()
        let answer = try TestClient.exchange(port: listenerPort, bytes: Array("GET / HTTP/1.1\r\nhost: app\r\n".utf8))
        XCTAssertTrue(String(decoding: answer, as: UTF8.self).hasPrefix("HTTP/1.1 408 Request Timeout\r\n"), String(decoding: answer, as: UTF8.self))
        XCTAssertTrue(String(decoding: answer, as: UTF8.self).hasSuffix("\r\n\r\nstream timeout"))
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        XCTAssertEqual(proxy.stats.value("http.l.downstream_rq_idle_timeout"), 1)
    }

    func testTCPProxyRelaysBytesBothWays() throws {
        listenerPort = freeLocalPort()
        try start("""
        static_resources:
          listeners:
          - name: tcp
            address: {socket_address: {address: 127.0.0.1, port_value: \(listenerPort)}}
            filter_chains:
            - filters:
              - name: envoy.filters.network.tcp_proxy
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
                  stat_prefix: tcp
                  cluster: app
                  access_log:
                  - name: envoy.access_loggers.file
                    typed_config: {"@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog, path: \(directory.path)/tcp.log, log_format: {text_format_source: {inline_string: "%UPSTREAM_HOST% %BYTES_RECEIVED% %BYTES_SENT% %RESPONSE_FLAGS%\\n"}}}
        \(appCluster)
        """)
        let request = "GET /through-tcp HTTP/1.1\r\nhost: app\r\nconnection: close\r\n\r\n"
        let answer = String(decoding: try TestClient.exchange(port: listenerPort, bytes: Array(request.utf8)), as: UTF8.self)
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 200 OK\r\n"), answer)
        XCTAssertTrue(answer.hasSuffix("app GET /through-tcp\n"), answer)
        var log = ""
        XCTAssertTrue(eventually { log = (try? String(contentsOf: directory.appendingPathComponent("tcp.log"), encoding: .utf8)) ?? ""; return !log.isEmpty })
        XCTAssertEqual(log, "127.0.0.1:\(upstream.port) \(request.utf8.count) \(answer.utf8.count) -\n")
    }

    func testKeepAliveReusesOneUpstreamConnection() throws {
        try start(bootstrap(routes: ["{match: {prefix: /}, route: {cluster: app}}"]))
        for index in 0..<5 { XCTAssertEqual(try get("/\(index)").status, 200) }
        XCTAssertEqual(proxy.stats.value("cluster.app.upstream_cx_total"), 1)
        XCTAssertEqual(proxy.stats.value("cluster.app.upstream_rq_total"), 5)
        XCTAssertEqual(proxy.stats.value("cluster.app.upstream_rq_200"), 5)
        XCTAssertEqual(proxy.stats.value("http.l.downstream_rq_2xx"), 5)
    }

    func testPerTryTimeoutRetriesThenAnswers504() throws {
        try start(bootstrap(routes: ["{match: {prefix: /}, route: {cluster: app, timeout: 5s, retry_policy: {retry_on: 5xx, num_retries: 1, per_try_timeout: 0.2s}}}"]))
        let slow = try get("/slow")
        XCTAssertEqual(slow.status, 504)
        XCTAssertEqual(slow.body, "upstream request timeout")
        XCTAssertLessThan(slow.duration, 0.9, "two tries of 0.2 s, not the upstream's 1 s")
        XCTAssertEqual(upstream.requests.filter { $0 == "/slow" }.count, 2)
        XCTAssertEqual(proxy.stats.value("cluster.app.upstream_rq_per_try_timeout"), 2)
    }

    func testAnUpstreamThatClosesBeforeAnsweringIsAResetWithUC() throws {
        // A listener that reads the request and closes: a reset before the response head.
        let closer = try rawUpstream("closer") { tcp in tcp.close() }
        defer { closer.stop() }
        try start(bootstrap(routes: ["{match: {prefix: /}, route: {cluster: closer, retry_policy: {retry_on: reset, num_retries: 1}}}"], extraClusters: closer.cluster))
        let reset = try get("/")
        XCTAssertEqual(reset.status, 503)
        XCTAssertEqual(reset.body, "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: connection termination")
        XCTAssertEqual(proxy.stats.value("cluster.closer.upstream_rq_retry"), 1)
        let log = accessLog()
        XCTAssertTrue(log.contains("\"GET / HTTP/1.1\" 503 URX,UC 0 118 "), log)
    }

    /// A raw upstream on its own loop: `answer` runs on each connection's first bytes. Returns the cluster's YAML;
    /// `stop` ends it.
    private func rawUpstream(_ name: String, answer: @escaping (TCPConnection) -> Void) throws -> (cluster: String, stop: () -> Void) {
        let loop = try EventLoop(name: name)
        loop.start()
        let listener = try TCPListener(host: "127.0.0.1", port: 0, loop: loop)
        listener.start { fd in
            let tcp = TCPConnection(fd: fd, loop: loop)
            tcp.onData = { _ in answer(tcp) }
            try? tcp.start()
        }
        let cluster = """
          - name: \(name)
            connect_timeout: 1s
            load_assignment: {cluster_name: \(name), endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \(listener.port)}}}}]}]}
        """
        return (cluster, { listener.close(); loop.stop() })
    }

    private func accessLog() -> String {
        var log = ""
        XCTAssertTrue(eventually { log = (try? String(contentsOf: directory.appendingPathComponent("access.log"), encoding: .utf8)) ?? ""; return !log.isEmpty })
        return log
    }

    func testAnUpstreamThatDiesMidResponseIsLoggedUCNotAsADownstreamDisconnect() throws {
        // The head promises 100 bytes; 7 come, then the upstream closes.
        let truncator = try rawUpstream("truncator") { tcp in
            tcp.send(Array("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial".utf8))
            tcp.closeWhenDrained()
        }
        defer { truncator.stop() }
        try start(bootstrap(routes: ["{match: {prefix: /}, route: {cluster: truncator}}"], extraClusters: truncator.cluster))
        let raw = try TestClient.exchange(port: listenerPort, bytes: Array("GET / HTTP/1.1\r\nhost: app.local\r\n\r\n".utf8))
        XCTAssertTrue(String(decoding: raw, as: UTF8.self).hasPrefix("HTTP/1.1 200"))
        // The client stayed; the upstream went away. DC here would send the doctor after the caller.
        let log = accessLog()
        XCTAssertTrue(log.contains("\"GET / HTTP/1.1\" 200 UC 0 7 "), log)
    }

    func testTheRouteTimeoutCutsABodyThatStalls() throws {
        // The head promises 100 bytes; 7 come, then nothing, with the connection left open.
        let staller = try rawUpstream("staller") { tcp in
            tcp.send(Array("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial".utf8))
        }
        defer { staller.stop() }
        try start(bootstrap(routes: ["{match: {prefix: /}, route: {cluster: staller, timeout: 0.3s}}"], extraClusters: staller.cluster))
        let started = Date()
        let raw = try TestClient.exchange(port: listenerPort, bytes: Array("GET / HTTP/1.1\r\nhost: app.local\r\n\r\n".utf8))
        XCTAssertTrue(String(decoding: raw, as: UTF8.self).hasPrefix("HTTP/1.1 200"))
        // Envoy's route timeout spans until the response is complete; it was cancelled at the head, so the client hung.
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "the client waited for its own 10 s read timeout")
        let log = accessLog()
        XCTAssertTrue(log.contains("\"GET / HTTP/1.1\" 200 UT 0 7 "), log)
        XCTAssertEqual(proxy.stats.value("cluster.staller.upstream_rq_timeout"), 1)
    }

    func testASwappedConfigurationRoutesNewRequests() throws {
        let text = bootstrap(routes: ["{match: {prefix: /}, direct_response: {status: 200, body: {inline_string: first}}}"])
        try start(text)
        XCTAssertEqual(try get("/").body, "first")
        let file = directory.appendingPathComponent("second.yaml")
        try text.replacingOccurrences(of: "inline_string: first", with: "inline_string: second").write(to: file, atomically: true, encoding: .utf8)
        proxy.store.replace(with: try ProxyConfiguration.load(file: file.path))
        XCTAssertEqual(try get("/").body, "first", "listeners keep the connection manager (and its inline routes) they started with")
    }

    /// Routes from RDS are looked up by name in the configuration each request takes: an update changes them.
    func testASwappedConfigurationChangesRDSRoutesForNewRequests() throws {
        let rds = directory.appendingPathComponent("rds.yaml")
        func writeRoutes(_ body: String) throws {
            try """
            version_info: "1"
            resources:
            - "@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration
              name: r
              virtual_hosts: [{name: v, domains: ["*"], routes: [{match: {prefix: /}, direct_response: {status: 200, body: {inline_string: \(body)}}}]}]
            """.write(to: rds, atomically: true, encoding: .utf8)
        }
        try writeRoutes("rds-one")
        listenerPort = freeLocalPort()
        let file = try start("""
        static_resources:
          listeners:
          - address: {socket_address: {address: 127.0.0.1, port_value: \(listenerPort)}}
            filter_chains:
            - filters:
              - name: envoy.filters.network.http_connection_manager
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                  stat_prefix: l
                  rds: {route_config_name: r, config_source: {path_config_source: {path: \(rds.path)}}}
                  http_filters:
                  - {name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
        """)
        XCTAssertEqual(try get("/").body, "rds-one")
        try writeRoutes("rds-two")
        proxy.store.replace(with: try ProxyConfiguration.load(file: file.path))
        XCTAssertEqual(try get("/").body, "rds-two")
    }
}
