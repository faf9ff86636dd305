import Foundation
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// Listener filters on real sockets: http_inspector's choice, and a client that sends nothing before the
/// listener filters' timeout (the chain chosen without its bytes, or the connection closed).
final class ConnectionSetupTests: XCTestCase {
    private var app: SampleUpstream!
    private var proxy: ProxyServer!
    private var directory: URL!
    private let continuing = freeLocalPort(), closing = freeLocalPort(), main = freeLocalPort(), additional = freeLocalPort()
    private let disabled = freeLocalPort(), notDisabled = freeLocalPort()

    override func setUpWithError() throws {
        app = try SampleUpstream(name: "app")
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshproxy-setup-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        func listener(_ name: String, port: Int, continueOnTimeout: Bool, disabled: String? = nil) -> String {
            let disabledField = disabled.map { ", filter_disabled: \($0)" } ?? ""
            return """
              - name: \(name)
                address: {socket_address: {address: 127.0.0.1, port_value: \(port)}}
                listener_filters_timeout: 0.2s
                continue_on_listener_filters_timeout: \(continueOnTimeout)
                listener_filters:
                - {name: tls, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector}\(disabledField)}
                - {name: http, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector}\(disabledField)}
                filter_chains:
                - filter_chain_match: {transport_protocol: raw_buffer, application_protocols: [http/1.1]}
                  filters:
                  - name: envoy.filters.network.http_connection_manager
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                      stat_prefix: \(name)
                      route_config: {virtual_hosts: [{name: v, domains: ["*"], routes: [{match: {prefix: /}, direct_response: {status: 200, body: {inline_string: "http chain"}}}]}]}
                      http_filters: [{name: router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}]
                - filter_chain_match: {transport_protocol: raw_buffer}
                  filters:
                  - {name: tcp, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: tcp, cluster: app}}
            """
        }
        func direct(_ body: String) -> String {
            """
            [{name: hcm, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager, stat_prefix: m, \
            route_config: {virtual_hosts: [{name: v, domains: ["*"], routes: [{match: {prefix: /}, direct_response: {status: 200, body: {inline_string: "\(body)"}}}]}]}, \
            http_filters: [{name: router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}]}}]
            """
        }
        let text = """
        static_resources:
          listeners:
        \(listener("continuing", port: continuing, continueOnTimeout: true))
        \(listener("closing", port: closing, continueOnTimeout: false))
        \(listener("disabled", port: disabled, continueOnTimeout: false, disabled: "{or_match: {rules: [{destination_port_range: {start: 1, end: 2}}, {destination_port_range: {start: \(disabled), end: \(disabled + 1)}}]}}"))
        \(listener("notDisabled", port: notDisabled, continueOnTimeout: false, disabled: "{not_match: {destination_port_range: {start: \(notDisabled), end: \(notDisabled + 1)}}}"))
          - name: multi
            address: {socket_address: {address: 127.0.0.1, port_value: \(main)}}
            additional_addresses:
            - address: {socket_address: {address: 127.0.0.1, port_value: \(additional)}}
            filter_chains:
            - {filter_chain_match: {destination_port: \(additional)}, filters: \(direct("additional port"))}
            - {filters: \(direct("main port"))}
          clusters:
          - name: app
            load_assignment: {endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \(app.port)}}}}]}]}
        """
        let file = directory.appendingPathComponent("bootstrap.yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        proxy = try ProxyServer(configuration: try ProxyConfiguration.load(file: file.path), log: ProxyLog(level: .warning) { FileHandle.standardError.write(Data($0.utf8)) })
        proxy.start()
    }

    override func tearDown() {
        proxy?.stop()
        app?.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    func testHTTPInspectorPicksTheHTTPChain() throws {
        let response = try TestClient.get(port: continuing, path: "/", host: "x")
        XCTAssertEqual(response.body, "http chain")
    }

    func testAClientThatWaitsGetsTheChainWithoutBytesOrIsClosed() throws {
        let waiting = try LoopbackClient(address: "127.0.0.1", port: continuing)
        // Once the timeout has passed the chain is chosen (the tcp_proxy one: no bytes, so no ALPN) and counted.
        XCTAssertTrue(eventually { proxy.stats.value("listener.127.0.0.1_\(continuing).downstream_cx_total") == 1 })
        try waiting.send("GET /late HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        XCTAssertTrue(eventually { waiting.readAvailable().hasSuffix("app GET /late\n") }, waiting.readAvailable())

        let closed = try LoopbackClient(address: "127.0.0.1", port: closing)
        XCTAssertTrue(eventually { _ = closed.readAvailable(); return closed.closedAfter != nil })
        XCTAssertEqual(proxy.stats.value("listener.127.0.0.1_\(closing).downstream_cx_total"), 0)
    }

    func testAdditionalAddressesAreServedWithTheirOwnDestinationPort() throws {
        XCTAssertEqual(try TestClient.get(port: main, path: "/", host: "x").body, "main port")
        XCTAssertEqual(try TestClient.get(port: additional, path: "/", host: "x").body, "additional port")
    }

    func testFilterDisabledSkipsTheInspectorsForMatchingDestinationPorts() throws {
        // Skipped: no ALPN is learnt, so the plain chain (tcp_proxy to the app) takes the request.
        XCTAssertEqual(try TestClient.get(port: disabled, path: "/skipped", host: "x").body, "app GET /skipped\n")
        XCTAssertEqual(try TestClient.get(port: notDisabled, path: "/", host: "x").body, "http chain")
    }

    func testFilterDisabledIsCheckedWhereItIs() {
        for (predicate, expected) in [("{destination_port_range: {start: 90, end: 80}}", "must be below end"), ("{}", "needs one of"),
                                      ("{any_match: true, not_match: {any_match: true}}", "only one of"), ("{server_names: [a]}", "server_names")] {
            let text = """
                static_resources:
                  listeners:
                  - address: {socket_address: {address: 127.0.0.1, port_value: 1}}
                    listener_filters: [{name: tls, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector}, filter_disabled: \(predicate)}]
                    filter_chains: [{filters: [{name: tcp, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: t, cluster: c}}]}]
                  clusters: [{name: c, load_assignment: {endpoints: []}}]
                """
            let file = directory.appendingPathComponent("disabled-\(UUID().uuidString).yaml")
            XCTAssertNoThrow(try text.write(to: file, atomically: true, encoding: .utf8))
            XCTAssertThrowsError(try ProxyConfiguration.load(file: file.path), predicate) { error in
                XCTAssertTrue("\(error)".contains(expected) && "\(error)".contains("filter_disabled"), "\(predicate): \(error)")
            }
        }
        XCTAssertTrue(ListenerFilterPredicate.not(.destinationPorts(80..<81)).matches(destinationPort: 81))
        XCTAssertFalse(ListenerFilterPredicate.and([.any, .destinationPorts(80..<81)]).matches(destinationPort: 81))
    }
}
