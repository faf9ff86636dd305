import ConfigValues
import Foundation
import MeshNet
import MeshTLS
import MeshPilot
import MeshProxy
import MeshTestSupport
import XCTest

/// The pilot serving a snapshot the test changes, through a real `DiscoveryServer`, and meshctl proxies started as
/// local mode starts sidecars: a bootstrap with only `dynamic_resources` (REST to the server) and admin on POD_IP:15000.
final class SidecarMesh: @unchecked Sendable {
    let pilot: Pilot
    let server: DiscoveryServer
    let directory: URL
    private let lock = NSLock()
    private var current: MeshSnapshot
    private var nodes: [String: ProxyNode] = [:]
    /// Proxies that are real Envoy: they get no `istio.stats` filters (upstream Envoy has none).
    private var envoyNodes: Set<String> = []
    private(set) var proxies: [String: ProxyServer] = [:]

    init(snapshot: MeshSnapshot, holdLimit: Double = 5) throws {
        pilot = Pilot(authority: try CertificateAuthority())
        current = snapshot
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sidecar-mesh-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let box = Box()
        server = try DiscoveryServer(holdLimit: holdLimit) { node in box.mesh?.resources(for: node) }
        box.mesh = self
        server.start()
    }

    private final class Box: @unchecked Sendable { weak var mesh: SidecarMesh? }

    private func resources(for node: ProxyNode) -> ProxyResources? {
        let (known, envoy, snapshot) = { lock.lock(); defer { lock.unlock() }; return (nodes[node.proxyID] != nil, envoyNodes.contains(node.proxyID), current) }()
        var pilot = pilot
        pilot.emitsIstioStats = !envoy
        return known ? pilot.resources(for: node, in: snapshot) : nil
    }

    /// What the pilot reads; setting it pushes to every proxy.
    var snapshot: MeshSnapshot {
        get { lock.lock(); defer { lock.unlock() }; return current }
        set { lock.lock(); current = newValue; lock.unlock(); server.push() }
    }

    /// The bootstrap a sidecar of `node` starts from (JSON text).
    func bootstrap(for node: ProxyNode, adminAddress: String? = nil) -> String {
        let source = #"{"resource_api_version": "V3", "api_config_source": {"api_type": "REST", "transport_api_version": "V3", "cluster_names": ["xds-grpc"], "refresh_delay": "1s", "request_timeout": "30s"}}"#
        return #"""
        {"node": {"id": "\#(node.id)", "cluster": "\#(node.podName).\#(node.namespace)",
                  "metadata": {"NAMESPACE": "\#(node.namespace)", "ISTIO_VERSION": "1.28.0", "CLUSTER_ID": "Kubernetes"}},
         "admin": {"address": {"socket_address": {"address": "\#(adminAddress ?? node.ip)", "port_value": 15000}}},
         "dynamic_resources": {"lds_config": \#(source), "cds_config": \#(source)},
         "static_resources": {"clusters": [{"name": "xds-grpc", "type": "STATIC", "connect_timeout": "1s",
            "load_assignment": {"cluster_name": "xds-grpc", "endpoints": [{"lb_endpoints": [{"endpoint": {"address":
              {"socket_address": {"address": "127.0.0.1", "port_value": \#(server.port)}}}}]}]}}]}}
        """#
    }

    /// Lets the server answer for `node` (a proxy started elsewhere, e.g. real Envoy with `envoy`) and returns its
    /// bootstrap's path.
    func admit(_ node: ProxyNode, envoy: Bool = false) throws -> String {
        lock.lock(); nodes[node.proxyID] = node; if envoy { envoyNodes.insert(node.proxyID) }; lock.unlock()
        let path = directory.appendingPathComponent("\(node.podName).json").path
        try bootstrap(for: node).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Starts meshctl's proxy as `node`'s sidecar; its access log lines go to `accessLog`.
    @discardableResult
    func startSidecar(_ node: ProxyNode) throws -> ProxyServer {
        let configuration = try ProxyConfiguration.load(file: try admit(node))
        let proxy = try ProxyServer(configuration: configuration, concurrency: 2, log: ProxyLog(level: .error) { FileHandle.standardError.write(Data($0.utf8)) })
        proxy.start()
        lock.lock(); proxies[node.proxyID] = proxy; lock.unlock()
        return proxy
    }

    /// The server's view of a proxy: type URL -> state.
    func sync(_ node: ProxyNode, _ type: String) -> TypeSyncState? { server.syncState(proxyID: node.proxyID)?[type] }

    /// True once every type the proxy asked for is acknowledged at the version last sent.
    func synced(_ node: ProxyNode, types: [String] = ProxySyncTypes.all) -> Bool {
        types.allSatisfy { sync(node, $0)?.status == "SYNCED" }
    }

    func stop() {
        for proxy in proxies.values { proxy.stop() }
        server.stop()
        try? FileManager.default.removeItem(at: directory)
    }
}

enum ProxySyncTypes {
    static let all = [ProxyResources.listenerType, ProxyResources.clusterType, ProxyResources.routeType, ProxyResources.endpointType, ProxyResources.secretType]
}
