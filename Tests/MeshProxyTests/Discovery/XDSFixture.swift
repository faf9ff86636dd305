import ConfigValues
import Foundation
import MeshPilot
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// A discovery server fed from a resource set the test changes, two upstreams (`backend-a`, `backend-b`), and the
/// bootstrap of a proxy that takes everything from the server over REST (only `dynamic_resources` and the static
/// `xds-grpc` cluster), in the shape local mode's sidecars use, so Envoy can run it too.
final class XDSFixture: @unchecked Sendable {
    static let nodeID = "sidecar~127.0.0.1~app-1.default~default.svc.cluster.local"
    static let proxyID = "app-1.default"

    let server: DiscoveryServer
    let upstreamA: SampleUpstream
    let upstreamB: SampleUpstream
    let listenerPort = freeLocalPort()
    let directory: URL
    private let lock = NSLock()
    private var current = ProxyResources()

    init() throws {
        upstreamA = try SampleUpstream(name: "backend-a")
        upstreamB = try SampleUpstream(name: "backend-b")
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("xds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let box = Box()
        server = try DiscoveryServer(holdLimit: 5) { node in box.fixture?.resources(for: node) }
        box.fixture = self
        server.start()
        resources = Self.standard(listenerPort: listenerPort, portA: upstreamA.port, portB: upstreamB.port, routeTo: "backend-a")
    }

    private final class Box: @unchecked Sendable { weak var fixture: XDSFixture? }

    private func resources(for node: ProxyNode) -> ProxyResources? {
        node.proxyID == Self.proxyID ? resources : nil
    }

    /// What the server serves; setting it does not push (call `server.push()`).
    var resources: ProxyResources {
        get { lock.lock(); defer { lock.unlock() }; return current }
        set { lock.lock(); current = newValue; lock.unlock() }
    }

    func stop() {
        server.stop()
        upstreamA.stop()
        upstreamB.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Writes the bootstrap (admin on `adminPort`) and returns its path.
    func writeBootstrap(adminPort: Int, name: String = "bootstrap.yaml") throws -> String {
        let source = "{resource_api_version: V3, api_config_source: {api_type: REST, transport_api_version: V3, cluster_names: [xds-grpc], refresh_delay: 1s, request_timeout: 30s}}"
        let text = """
            node:
              id: \(Self.nodeID)
              cluster: app.default
              metadata: {NAMESPACE: default, ISTIO_VERSION: "1.28.0", CLUSTER_ID: Kubernetes}
            admin:
              address: {socket_address: {address: 127.0.0.1, port_value: \(adminPort)}}
            dynamic_resources:
              lds_config: \(source)
              cds_config: \(source)
            static_resources:
              clusters:
              - name: xds-grpc
                type: STATIC
                connect_timeout: 1s
                load_assignment:
                  cluster_name: xds-grpc
                  endpoints:
                  - lb_endpoints:
                    - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: \(server.port)}}}

            """
        let path = directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    // MARK: Resources

    static let restSource = #"{"resource_api_version": "V3", "api_config_source": {"api_type": "REST", "transport_api_version": "V3", "cluster_names": ["xds-grpc"], "refresh_delay": "1s", "request_timeout": "30s"}}"#

    static func json(_ text: String) -> JSONValue {
        do { return try JSONValue.parse(text) } catch { fatalError("a fixture resource is not JSON: \(error)") }
    }

    static func listener(name: String, port: Int, routeName: String = "http-routes") -> JSONValue {
        json(#"""
        {"name": "\#(name)", "address": {"socket_address": {"address": "127.0.0.1", "port_value": \#(port)}},
         "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            "stat_prefix": "\#(name)",
            "rds": {"route_config_name": "\#(routeName)", "config_source": \#(restSource)},
            "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}]}}]}]}
        """#)
    }

    static func cluster(_ name: String) -> JSONValue {
        json(#"{"name": "\#(name)", "type": "EDS", "connect_timeout": "1s", "eds_cluster_config": {"service_name": "\#(name)", "eds_config": \#(restSource)}}"#)
    }

    static func assignment(_ name: String, port: Int) -> JSONValue {
        json(#"{"cluster_name": "\#(name)", "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": \#(port)}}}}]}]}"#)
    }

    static func routes(_ name: String = "http-routes", to cluster: String) -> JSONValue {
        json(#"{"name": "\#(name)", "virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "\#(cluster)", "timeout": "5s"}}]}]}"#)
    }

    static func standard(listenerPort: Int, portA: Int, portB: Int, routeTo cluster: String) -> ProxyResources {
        ProxyResources(listeners: [listener(name: "listener_http", port: listenerPort)], clusters: [Self.cluster("backend-a"), Self.cluster("backend-b")],
                       routes: [routes(to: cluster)], endpoints: [assignment("backend-a", port: portA), assignment("backend-b", port: portB)])
    }

    /// GET / on the dynamic listener; nil when nothing accepts there.
    func get(_ path: String = "/") -> TestResponse? {
        try? TestClient.get(port: listenerPort, path: path, host: "app")
    }

    /// The server's view of the proxy: type URL -> state.
    func sync(_ type: String) -> TypeSyncState? { server.syncState(proxyID: Self.proxyID)?[type] }
}
