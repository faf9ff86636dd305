import Foundation
import Manifests
import MeshNet
import MeshTLS
import MeshPilot

/// Local mode's pilot: the mesh's certificate authority (kept in the state directory, apart from the API server's),
/// the `Pilot` that computes each sidecar's configuration, the `MeshSnapshot` (and model) it reads, rebuilt from the
/// store shortly after the objects it depends on change (a burst of changes makes one snapshot and one push), and
/// the discovery server the sidecars poll (REST-JSON xDS and istiod's debug endpoints on 127.0.0.1, a free port).
public final class LocalPilot: @unchecked Sendable {
    public let authority: CertificateAuthority
    public let pilot: Pilot
    private let store: ObjectStore
    private let queue = DispatchQueue(label: "meshctl.pilot.snapshots")
    private var watchToken: Int?
    private var pending = false
    private var current: (snapshot: MeshSnapshot, model: MeshModel)
    private let lock = NSLock()
    private var server: DiscoveryServer!
    private let log: @Sendable (String) -> Void
    /// How long after a change the snapshot is rebuilt (changes within it are taken together).
    let debounce: Double
    /// How often every proxy's configuration is computed again with no change in the store, so workload
    /// certificates are issued again before they expire (they are renewed once two thirds of their life is gone).
    let refreshInterval: Double
    private var refreshTimer: DispatchSourceTimer?

    /// Loads or makes the mesh CA (`mesh-ca.crt`, `mesh-ca.key` 0600), reads the first snapshot and binds the
    /// discovery server's port.
    /// `now` is the clock certificates are issued by (tests move it). `istioStats`: whether sidecars get Istio's
    /// stats filters (meshctl's sidecars; not Envoy's, which lacks them).
    public init(store: ObjectStore, paths: LocalStatePaths, debounce: Double = 0.05, refreshInterval: Double = 3_600,
                istioStats: Bool = true, now: @escaping @Sendable () -> Date = Date.init,
                log: @escaping @Sendable (String) -> Void) throws {
        self.store = store
        self.debounce = debounce
        self.refreshInterval = refreshInterval
        self.log = log
        authority = try Self.meshAuthority(paths)
        var pilot = Pilot(authority: authority, now: now)
        // RequestAuthentication jwksUris: fetched by the pilot, as istiod does; keys that arrive cause a push.
        let keys = JWKSResolver(fetch: LocalJWKSFetch.fetcher(namesFile: paths.names))
        pilot.jwksResolver = keys
        pilot.emitsIstioStats = istioStats
        self.pilot = pilot
        let snapshot = Self.snapshot(of: store)
        current = (snapshot, MeshModel(snapshot))
        let box = WeakBox()
        server = try DiscoveryServer(port: 0) { node in box.pilot?.resources(for: node) }
        box.pilot = self
        keys.onChange = { [weak box] in box?.pilot?.changed() }
    }

    private final class WeakBox: @unchecked Sendable { weak var pilot: LocalPilot? }

    /// `127.0.0.1:PORT`: where the sidecars' `xds-grpc` cluster and proxy-status reach the pilot.
    public var address: String { "127.0.0.1:\(server.port)" }

    /// The snapshot now served.
    public var snapshot: MeshSnapshot {
        lock.lock(); defer { lock.unlock() }
        return current.snapshot
    }

    /// A proxy's configuration from the current model; nil for a proxy whose pod the pilot does not know (yet).
    func resources(for node: ProxyNode) -> ProxyResources? {
        lock.lock()
        let model = current.model
        lock.unlock()
        let resources = pilot.resources(for: node, in: model)
        return resources.listeners.isEmpty && resources.clusters.isEmpty ? nil : resources
    }

    /// Whether a change of `resource` (a store key) can change what the pilot computes.
    static func concernsThePilot(_ resource: String, namespace: String, name: String) -> Bool {
        if watchedKeys.contains(resource) || resource.hasSuffix(".istio.io") { return true }
        return resource == "configmaps" && namespace == "istio-system" && name == "istio"
    }

    /// (Secrets: the gateways' `credentialName` certificates.)
    static let watchedKeys: Set<String> = ["services", "endpoints", "endpointslices.discovery.k8s.io", "pods", "namespaces", "serviceaccounts", "nodes",
                                           "secrets"]

    public func start() throws {
        server.start()
        watchToken = try store.watch(from: nil, filter: { Self.concernsThePilot($0.resource, namespace: $0.namespace, name: $0.object.name) }) { [weak self] _ in
            self?.changed()
        }
        // What changed between reading the first snapshot and watching.
        changed()
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + refreshInterval, repeating: refreshInterval)
        timer.setEventHandler { [weak self] in self?.server.push() }
        timer.resume()
        refreshTimer = timer
        log("\(Timestamps.now()) pilot: serving xDS (REST-JSON) and /debug on \(address)")
    }

    public func stop() {
        if let watchToken { store.stopWatching(watchToken) }
        watchToken = nil
        refreshTimer?.cancel()
        refreshTimer = nil
        queue.sync {}
        server.stop()
    }

    /// The xDS state of each proxy that has asked (proxy-status's source), by `POD.NAMESPACE`.
    public var connectedProxies: [String] { server.connectedProxies }
    public func syncState(proxyID: String) -> [String: TypeSyncState]? { server.syncState(proxyID: proxyID) }

    /// Called under the store's lock: only schedules the rebuild.
    private func changed() {
        lock.lock()
        let scheduled = pending
        pending = true
        lock.unlock()
        guard !scheduled else { return }
        queue.asyncAfter(deadline: .now() + debounce) { [weak self] in self?.rebuild() }
    }

    private func rebuild() {
        lock.lock(); pending = false; lock.unlock()
        let fresh = Self.snapshot(of: store)
        let model = MeshModel(fresh)
        lock.lock(); current = (fresh, model); lock.unlock()
        server.push()
    }

    /// Every object the pilot reads, by store key, and the mesh config from the `istio` ConfigMap.
    static func snapshot(of store: ObjectStore) -> MeshSnapshot {
        var objects: [String: [JSONValue]] = [:]
        let revision = store.resourceVersion
        let keys = Array(watchedKeys) + ResourceCatalog.all.filter { $0.group.hasSuffix("istio.io") }.map(\.key)
        for key in keys {
            if let items = try? store.list(key, namespace: nil).items, !items.isEmpty { objects[key] = items }
        }
        var mesh: JSONValue = .object([])
        if let text = (try? store.get("configmaps", namespace: "istio-system", name: "istio"))??["data"]?["mesh"]?.string,
           let document = try? YAMLParser.parse(text, file: "istio ConfigMap").first {
            mesh = JSONValue(yaml: document.root)
        }
        return MeshSnapshot(objects: objects, meshConfig: mesh, revision: revision)
    }

    /// The mesh CA of the state directory, made on first use (a P-256 root for `cluster.local`, ten years).
    static func meshAuthority(_ paths: LocalStatePaths) throws -> CertificateAuthority {
        if let key = StateFiles.read(paths.meshAuthorityKey).flatMap({ try? PrivateKey(pem: $0) }),
           let certificate = StateFiles.read(paths.meshAuthorityCertificate).flatMap({ try? Certificate(pem: $0) }), certificate.isKey(key) {
            return CertificateAuthority(certificate: certificate, key: key, trustDomain: "cluster.local")
        }
        let authority = try CertificateAuthority(trustDomain: "cluster.local")
        try StateFiles.write(try authority.key.pem(), to: paths.meshAuthorityKey, secret: true)
        try StateFiles.write(try authority.certificate.pem(), to: paths.meshAuthorityCertificate, secret: false)
        return authority
    }
}
