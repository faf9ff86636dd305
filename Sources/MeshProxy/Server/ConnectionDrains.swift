import Foundation

/// The downstream HTTP connections of each listening address, so a listener that an update removes or changes can
/// drain the connections it accepted, as Envoy's listener drain does: idle keep-alive connections close at once,
/// busy ones answer their current request with `Connection: close` and then close, and whatever is left closes
/// at the drain deadline. Safe from any thread; each connection drains on its own loop.
final class ConnectionDrains: @unchecked Sendable {
    private struct Entry { weak var connection: (any DrainableConnection)? }
    /// A listener's connections; closed ones are swept out when the list has doubled since the last sweep, so
    /// registering stays cheap with many connections.
    private struct Group {
        var entries: [Entry] = []
        var sweepAt = 64
    }
    private let lock = NSLock()
    private var byListener: [String: Group] = [:]
    /// Seconds a draining connection may take before it is closed (Istio's drain duration).
    let deadline: Double

    init(deadline: Double = 45) { self.deadline = deadline }

    /// Registers a connection accepted by the listener whose stat prefix is `listener`.
    func register(_ connection: any DrainableConnection, listener: String) {
        lock.lock(); defer { lock.unlock() }
        var group = byListener.removeValue(forKey: listener) ?? Group()
        if group.entries.count >= group.sweepAt {
            group.entries.removeAll { $0.connection == nil }
            group.sweepAt = max(64, group.entries.count * 2)
        }
        group.entries.append(Entry(connection: connection))
        byListener[listener] = group
    }

    /// Drains every connection the listener accepted so far; connections accepted later are not affected.
    func drain(listener: String) {
        lock.lock()
        let entries = byListener.removeValue(forKey: listener)?.entries ?? []
        lock.unlock()
        for entry in entries {
            guard let connection = entry.connection else { continue }
            connection.tcp.loop.execute { connection.drain(deadline: self.deadline) }
        }
    }
}

/// A downstream connection a listener drain can end: HTTP/1.1 or HTTP/2.
protocol DrainableConnection: AnyObject {
    var tcp: ProxyTransport { get }
    /// Starts draining (loop thread): idle now, busy after its answers or at `deadline`.
    func drain(deadline: Double)
}

extension DownstreamHTTPConnection: DrainableConnection {}
extension DownstreamHTTP2Connection: DrainableConnection {}
