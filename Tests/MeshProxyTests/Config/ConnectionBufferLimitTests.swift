import Foundation
@testable import MeshProxy
import MeshNet
import XCTest

/// `per_connection_buffer_limit_bytes` read from listeners and clusters (a number or a UInt32Value wrapper), and the
/// write watermarks it makes.
final class ConnectionBufferLimitTests: XCTestCase {
    func testListenersAndClustersReadTheirLimitAndLeaveItUnsetWithout() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshproxy-buflimit-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let tcpProxy = "[{filters: [{name: t, typed_config: {\"@type\": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: t, cluster: a}}]}]"
        let file = directory.appendingPathComponent("bootstrap.yaml")
        try """
        static_resources:
          listeners:
          - {name: limited, address: {socket_address: {address: 127.0.0.1, port_value: 1}}, per_connection_buffer_limit_bytes: 32768, filter_chains: \(tcpProxy)}
          - {name: wrapped, address: {socket_address: {address: 127.0.0.1, port_value: 2}}, per_connection_buffer_limit_bytes: {value: 1}, filter_chains: \(tcpProxy)}
          - {name: unset, address: {socket_address: {address: 127.0.0.1, port_value: 3}}, filter_chains: \(tcpProxy)}
          clusters:
          - {name: a, per_connection_buffer_limit_bytes: 4294967295}
          - {name: b}
        """.write(to: file, atomically: true, encoding: .utf8)
        let configuration = try ProxyConfiguration.load(file: file.path)
        XCTAssertEqual(configuration.listeners.map { $0.bufferLimit?.bytes }, [32768, 1, nil])
        XCTAssertEqual(configuration.clusters.map { $0.bufferLimit?.bytes }, [4_294_967_295, nil])
    }

    func testTheWatermarksAreTheLimitAndHalfOfIt() {
        XCTAssertEqual(ConnectionBufferLimit(bytes: 32768).watermarks, WriteWatermarks(low: 16384, high: 32768))
        XCTAssertEqual(ConnectionBufferLimit(bytes: 1).watermarks, WriteWatermarks(low: 0, high: 1))
    }
}
