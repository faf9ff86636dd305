import Foundation
import LocalPods
import Manifests
import MeshNet

/// Local mode's kube-proxy: listens on each Service's cluster IP and port (in 127.96.0.0/12) while the Service has
/// ready endpoints, and forwards every connection to the next of them in turn; with none ready, nothing listens, so
/// connections are refused. Follows the store's Services, Endpoints and EndpointSlices as they change, and keeps the
/// names file (`ClusterNames`) that local mode's processes resolve Services with. Host ports (the ingress gateway's)
/// forward from 127.0.0.1 to a Service port the same way.
public final class ServiceProxy: @unchecked Sendable {
    private let store: ObjectStore
    private let loop: EventLoop
    private let namesFile: URL?
    /// Host ports forwarded to Service ports (the ingress gateway's).
    let hostPorts: [ServiceRouting.HostPort]
    private let log: @Sendable (String) -> Void
    private var watchToken: Int?
    // Loop thread only from here on.
    private var forwarded: [ServiceRouting.Frontend: ForwardedPort] = [:]
    private var resyncQueued = false
    private var writtenNames: String?
    /// Frontends whose address could not be bound, so the failure is logged once, not on every change.
    private var failedBinds: Set<ServiceRouting.Frontend> = []
    /// Bytes one side may have queued for a peer that does not read before reading from the other side pauses.
    static let pendingLimit = 1 << 20

    /// `namesFile`: where to keep the names of the Services (nil: nowhere); `hostPorts`: ports on 127.0.0.1 that
    /// forward to a Service port while it has ready endpoints.
    init(store: ObjectStore, namesFile: URL?, hostPorts: [ServiceRouting.HostPort] = [], log: @escaping @Sendable (String) -> Void) throws {
        self.store = store
        self.namesFile = namesFile
        self.hostPorts = hostPorts
        self.log = log
        loop = try EventLoop(name: "meshctl-service-proxy")
    }

    /// Starts following the store.
    public func start() throws {
        loop.start()
        let watched: Set<String> = ["services", "endpoints", ServiceRouting.endpointSlicesKey]
        watchToken = try store.watch(from: nil, filter: { watched.contains($0.resource) }) { [weak self] _ in self?.queueResync() }
        queueResync()
    }

    /// Stops forwarding: listeners and forwarded connections close.
    public func stop() {
        if let watchToken { store.stopWatching(watchToken) }
        watchToken = nil
        loop.execute { [self] in
            for port in forwarded.values { port.close() }
            forwarded = [:]
        }
        loop.stop()
    }

    /// Changes often come in bursts (a Service and its Endpoints): one resync takes them all.
    private func queueResync() {
        loop.execute { [self] in
            guard !resyncQueued else { return }
            resyncQueued = true
            loop.execute { [self] in resync() }
        }
    }

    private func resync() {
        resyncQueued = false
        let routing: ServiceRouting
        do {
            routing = ServiceRouting(services: try store.list("services", namespace: nil).items,
                                     endpoints: try store.list("endpoints", namespace: nil).items,
                                     slices: try store.list(ServiceRouting.endpointSlicesKey, namespace: nil).items, hostPorts: hostPorts)
        } catch {
            return log("\(Timestamps.now()) service proxy: cannot read Services and endpoints from the store: \(error)")
        }
        writeNames(routing.names)
        for (frontend, port) in forwarded where routing.frontends[frontend] == nil {
            port.close()
            forwarded[frontend] = nil
        }
        failedBinds = failedBinds.filter { routing.frontends[$0] != nil }
        for (frontend, backends) in routing.frontends {
            if let port = forwarded[frontend] { port.backends = backends; continue }
            do {
                let port = try ForwardedPort(frontend: frontend, backends: backends, loop: loop, log: log)
                forwarded[frontend] = port
                failedBinds.remove(frontend)
            } catch {
                if failedBinds.insert(frontend).inserted {
                    let hint = frontend.port < 1024 && getuid() != 0 ? " (ports below 1024 need root, or sysctl net.ipv4.ip_unprivileged_port_start=0)" : ""
                    log("\(Timestamps.now()) service proxy: cannot listen on \(frontend) for Service \(routing.owners[frontend] ?? "?"): \(error)\(hint)")
                }
            }
        }
    }

    private func writeNames(_ names: ClusterNames) {
        guard let namesFile else { return }
        let text = names.fileText
        guard text != writtenNames else { return }
        do {
            try StateFiles.write(Array(text.utf8), to: namesFile, secret: false)
            writtenNames = text
        } catch {
            log("\(Timestamps.now()) service proxy: cannot write the names file \(namesFile.path): \(error)")
        }
    }
}

/// One Service port being forwarded: its listener and the backends taken in turn.
final class ForwardedPort {
    let frontend: ServiceRouting.Frontend
    var backends: [ServiceRouting.Backend]
    private let listener: TCPListener
    private let loop: EventLoop
    private let log: @Sendable (String) -> Void
    private var next = 0

    init(frontend: ServiceRouting.Frontend, backends: [ServiceRouting.Backend], loop: EventLoop, log: @escaping @Sendable (String) -> Void) throws {
        self.frontend = frontend
        self.backends = backends
        self.loop = loop
        self.log = log
        listener = try TCPListener(host: frontend.address, port: frontend.port, loop: loop)
        listener.start { [weak self] fd in
            guard let self else { Glibc.close(fd); return }
            forward(fd)
        }
    }

    func close() { listener.close() }

    /// Connects to the next backend, from the client's own address (a pod's 127.x address is this machine's, so
    /// the backend sees who called, as it would behind kube-proxy); the client's socket is taken over only once
    /// the backend answered, and reset when it does not.
    private func forward(_ fd: Int32) {
        guard !backends.isEmpty else { return Self.reset(fd) }
        let backend = backends[next % backends.count]
        next &+= 1
        let clientAddress = Self.peerHost(fd)
        TCPConnection.connect(host: backend.address, port: backend.port, loop: loop, sourceHost: clientAddress) { [frontend, log] result in
            switch result {
            case .failure(let error):
                log("\(Timestamps.now()) service proxy: \(frontend) -> \(backend.address):\(backend.port): \(error); the client's connection is reset")
                Self.reset(fd)
            case .success(let upstream):
                let client = TCPConnection(fd: fd, loop: upstream.loop)
                Self.pipe(from: client, to: upstream)
                Self.pipe(from: upstream, to: client)
                do { try client.start() } catch { client.close(); upstream.close() }
            }
        }
    }

    /// Bytes from one side go to the other; reading pauses while the other side has much queued; a FIN from one
    /// side is passed to the other once what it was sent is written (the answer to a half-closed request still
    /// comes back); when one side goes, the other closes once what it was sent is written.
    private static func pipe(from source: TCPConnection, to destination: TCPConnection) {
        source.onPeerFinished = { destination.finishWhenDrained() }
        source.onData = { bytes in
            destination.send(bytes)
            if destination.pendingOutput > ServiceProxy.pendingLimit { source.pauseReading() }
        }
        destination.onDrained = { source.resumeReading() }
        source.onClose = { destination.closeWhenDrained() }
    }

    /// Closes with a TCP reset, as a refused forward looks to the client.
    private static func reset(_ fd: Int32) {
        var option = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
        Glibc.close(fd)
    }

    /// The address of a socket's peer, when it is on loopback (nil otherwise: the system picks the source).
    private static func peerHost(_ fd: Int32) -> String? {
        guard let text = SocketAddress.text(fd, peer: true), let colon = text.lastIndex(of: ":") else { return nil }
        let host = String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return IPAddress.isLoopback(host) ? host : nil
    }
}
