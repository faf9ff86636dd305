import Foundation

/// The downstream HTTP connections of each listening address, so a listener that an update removes or changes can
/// drain the connections it accepted, as Envoy's listener drain does: idle keep-alive connections close at once,
/// busy ones answer their current request with `Connection: close` and then close, and whatever is left closes
/// at the drain deadline. Safe from any thread; each connection drains on its own loop.
final class ConnectionDrains: @unchecked Sendable {
    private struct Entry { weak var connection: DownstreamHTTPConnection? }
    private let lock = NSLock()
    private var byListener: [String: [Entry]] = [:]
    /// Seconds a draining connection may take before it is closed (Istio's drain duration).
    let deadline: Double

    init(deadline: Double = 45) { self.deadline = deadline }

    /// Registers a connection accepted by the listener whose stat prefix is `listener`.
    func register(_ connection: DownstreamHTTPConnection, listener: String) {
        lock.lock(); defer { lock.unlock() }
        var entries = byListener[listener, default: []].filter { $0.connection != nil }
        entries.append(Entry(connection: connection))
        byListener[listener] = entries
    }

    /// Drains every connection the listener accepted so far; connections accepted later are not affected.
    func drain(listener: String) {
        lock.lock()
        let entries = byListener.removeValue(forKey: listener) ?? []
        lock.unlock()
        for entry in entries {
            guard let connection = entry.connection else { continue }
            connection.tcp.loop.execute { connection.drain(deadline: self.deadline) }
        }
    }
}
