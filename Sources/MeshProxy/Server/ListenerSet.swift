import Foundation
import MeshNet
#if canImport(Glibc)
import Glibc
#endif

/// The proxy's listening sockets, one per listener, kept in step with the configuration: a listener added is
/// bound, a removed one stops accepting (its open connections finish on the configuration they took), a changed
/// one stops accepting and its new version is bound in its place; an unchanged one keeps its socket.
final class ListenerSet: @unchecked Sendable {
    private struct Bound {
        let config: Listener
        let socket: TCPListener
    }

    private let loop: EventLoop
    private let lock = NSLock()
    private var bound: [Bound] = []
    private var accept: ((Int32, Listener) -> Void)?
    private let log: ProxyLog

    /// Binds every listener at once, so a taken port fails here.
    init(_ listeners: [Listener], loop: EventLoop, log: ProxyLog) throws(NetworkError) {
        self.loop = loop
        self.log = log
        for listener in listeners {
            bound.append(Bound(config: listener, socket: try TCPListener(host: listener.address.host, port: listener.address.port, loop: loop)))
        }
    }

    static func key(_ listener: Listener) -> String { listener.name ?? listener.address.description }

    /// Starts accepting; each connection goes to `accept` with the listener it came to.
    func start(accept: @escaping (Int32, Listener) -> Void) {
        lock.lock()
        self.accept = accept
        let all = bound
        lock.unlock()
        for entry in all { begin(entry) }
    }

    private func begin(_ entry: Bound) {
        let config = entry.config
        entry.socket.start { [weak self] fd in
            guard let accept = self?.currentAccept else { Glibc.close(fd); return }
            accept(fd, config)
        }
    }

    private var currentAccept: ((Int32, Listener) -> Void)? {
        lock.lock(); defer { lock.unlock() }
        return accept
    }

    func close() {
        lock.lock()
        let all = bound
        bound = []
        accept = nil
        lock.unlock()
        for entry in all { entry.socket.close() }
    }

    var count: Int {
        lock.lock(); defer { lock.unlock() }
        return bound.count
    }

    /// The port each listener is bound to, by name (or address when it has none).
    var ports: [String: Int] {
        lock.lock(); defer { lock.unlock() }
        return Dictionary(bound.map { (Self.key($0.config), $0.socket.port) }, uniquingKeysWith: { first, _ in first })
    }

    /// What an update did, by listener key.
    struct Changes {
        var added: [String] = []
        var removed: [String] = []
        var failed: [(name: String, error: NetworkError)] = []
    }

    /// Makes the sockets match `listeners`. A changed listener on the same address is bound again once its old
    /// socket has closed (on the listeners' loop); `completion` runs after every bind was tried.
    func update(to listeners: [Listener], completion: @escaping @Sendable (Changes) -> Void) {
        lock.lock()
        let old = bound
        lock.unlock()
        var changes = Changes()
        var kept: [Bound] = []
        var toBind: [Listener] = []
        let wanted = Dictionary(listeners.map { (Self.key($0), $0) }, uniquingKeysWith: { first, _ in first })
        for entry in old {
            let key = Self.key(entry.config)
            if let next = wanted[key], next.source == entry.config.source, next.address == entry.config.address {
                kept.append(entry)
            } else {
                entry.socket.close()
                changes.removed.append(key)
            }
        }
        for listener in listeners where !kept.contains(where: { Self.key($0.config) == Self.key(listener) }) {
            toBind.append(listener)
        }
        lock.lock()
        bound = kept
        lock.unlock()
        // After the closes queued above, so a changed listener can take its address again.
        loop.execute { [self] in
            var changes = changes
            for listener in toBind {
                do throws(NetworkError) {
                    let socket = try TCPListener(host: listener.address.host, port: listener.address.port, loop: loop)
                    let entry = Bound(config: listener, socket: socket)
                    lock.lock()
                    bound.append(entry)
                    let started = accept != nil
                    lock.unlock()
                    if started { begin(entry) }
                    changes.added.append(Self.key(listener))
                } catch {
                    log.warning("listener \(Self.key(listener)) could not be added: \(error)")
                    changes.failed.append((Self.key(listener), error))
                }
            }
            completion(changes)
        }
    }
}
