import Foundation
import MeshNet
#if canImport(Glibc)
import Glibc
#endif

/// The proxy's listening sockets, kept in step with the configuration: a listener added is bound (its address
/// and its `additional_addresses`), a removed one stops accepting (its open connections finish on the
/// configuration they took), a changed one stops accepting and its new version is bound in its place; an unchanged
/// one keeps its sockets. Listeners with `bind_to_port: false` get no socket: they take connections handed off by
/// original destination (`handOffTarget`).
final class ListenerSet: @unchecked Sendable {
    private struct Bound {
        let config: Listener
        /// Empty for a `bind_to_port: false` listener.
        let sockets: [TCPListener]
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
        for listener in listeners { bound.append(try Self.bind(listener, loop: loop)) }
    }

    private static func bind(_ listener: Listener, loop: EventLoop) throws(NetworkError) -> Bound {
        guard listener.bindToPort else { return Bound(config: listener, sockets: []) }
        var sockets: [TCPListener] = []
        do throws(NetworkError) {
            for address in [listener.address] + listener.additionalAddresses {
                sockets.append(try TCPListener(host: address.host, port: address.port, loop: loop))
            }
        } catch {
            for socket in sockets { socket.close() }
            throw error
        }
        return Bound(config: listener, sockets: sockets)
    }

    /// The listener a connection to `destination` (`ip:port`, its original destination) is handed off to: the
    /// `bind_to_port: false` listener with that address, else the one on 0.0.0.0 (or ::) with its port; nil for none.
    func handOffTarget(for destination: String) -> Listener? {
        lock.lock(); defer { lock.unlock() }
        let candidates = bound.filter { !$0.config.bindToPort }.map(\.config)
        if let exact = candidates.first(where: { $0.address.description == destination }) { return exact }
        let port = ConnectionFacts.port(of: destination)
        return candidates.first { ($0.address.host == "0.0.0.0" || $0.address.host == "::") && $0.address.port == port }
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
        let key = Self.key(entry.config)
        for socket in entry.sockets {
            socket.start { [weak self] fd in
                guard let self, let accept = currentAccept else { Glibc.close(fd); return }
                // The listener's version now: a changed listener keeps its sockets and takes new connections on the new one.
                accept(fd, currentConfig(key) ?? entry.config)
            }
        }
    }

    private func currentConfig(_ key: String) -> Listener? {
        lock.lock(); defer { lock.unlock() }
        return bound.first { Self.key($0.config) == key }?.config
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
        for entry in all { for socket in entry.sockets { socket.close() } }
    }

    var count: Int {
        lock.lock(); defer { lock.unlock() }
        return bound.count
    }

    /// The port each bound listener's own address is bound to, by name (or address when it has none).
    var ports: [String: Int] {
        lock.lock(); defer { lock.unlock() }
        return Dictionary(bound.compactMap { entry in entry.sockets.first.map { (Self.key(entry.config), $0.port) } }, uniquingKeysWith: { first, _ in first })
    }

    /// What an update did, by listener key.
    struct Changes {
        var added: [String] = []
        var removed: [String] = []
        /// The removed or changed listeners as they were (their connections drain).
        var removedListeners: [Listener] = []
        var failed: [(name: String, error: NetworkError)] = []
    }

    /// Makes the sockets match `listeners`. A changed listener on the same addresses keeps its sockets, as Envoy's
    /// listener updates do: closing and binding again would reset connections waiting in the old socket's backlog
    /// and refuse those that come in between. Its new version takes the connections from now on; those accepted
    /// before drain on the old one. `completion` runs after every bind was tried (on the listeners' loop).
    func update(to listeners: [Listener], completion: @escaping @Sendable (Changes) -> Void) {
        lock.lock()
        let old = bound
        lock.unlock()
        var changes = Changes()
        var kept: [Bound] = []
        var toBind: [Listener] = []
        let wanted = Dictionary(listeners.map { (Self.key($0), $0) }, uniquingKeysWith: { first, _ in first })
        var changed: [String] = []
        for entry in old {
            let key = Self.key(entry.config)
            if let next = wanted[key], next.source == entry.config.source, next.address == entry.config.address {
                kept.append(entry)
            } else if let next = wanted[key], next.address == entry.config.address, next.additionalAddresses == entry.config.additionalAddresses,
                      next.bindToPort == entry.config.bindToPort {
                kept.append(Bound(config: next, sockets: entry.sockets))
                changes.removed.append(key)
                changes.removedListeners.append(entry.config)
                changed.append(key)
            } else {
                for socket in entry.sockets { socket.close() }
                changes.removed.append(key)
                changes.removedListeners.append(entry.config)
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
            changes.added += changed
            for listener in toBind {
                do throws(NetworkError) {
                    let entry = try Self.bind(listener, loop: loop)
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
