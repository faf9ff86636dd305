import Foundation

/// Counters and gauges by Envoy's names (`cluster.NAME.upstream_rq_total`, `http.PREFIX.downstream_rq_2xx`,
/// `listener.ADDRESS.downstream_cx_total`, `server.live`). Safe from any thread.
public final class ProxyStats: @unchecked Sendable {
    public enum Kind: Sendable { case counter, gauge }

    private let lock = NSLock()
    private var values: [String: (kind: Kind, value: Int, used: Bool)] = [:]

    public init() {}

    /// Makes a stat known (value 0, not yet used), as Envoy lists every stat of a cluster or listener from the start.
    public func declare(_ name: String, _ kind: Kind = .counter) {
        lock.lock(); defer { lock.unlock() }
        if values[name] == nil { values[name] = (kind, 0, false) }
    }

    public func increment(_ name: String, by amount: Int = 1) {
        lock.lock(); defer { lock.unlock() }
        let old = values[name] ?? (.counter, 0, false)
        values[name] = (old.kind, old.value + amount, true)
    }

    /// Moves a gauge up or down.
    public func adjust(_ name: String, by amount: Int) {
        lock.lock(); defer { lock.unlock() }
        let old = values[name] ?? (.gauge, 0, false)
        values[name] = (.gauge, max(0, old.value + amount), true)
    }

    public func set(_ name: String, to value: Int) {
        lock.lock(); defer { lock.unlock() }
        values[name] = (.gauge, value, true)
    }

    public func value(_ name: String) -> Int {
        lock.lock(); defer { lock.unlock() }
        return values[name]?.value ?? 0
    }

    /// Every stat, sorted by name.
    public func snapshot() -> [(name: String, kind: Kind, value: Int, used: Bool)] {
        lock.lock(); defer { lock.unlock() }
        return values.map { ($0.key, $0.value.kind, $0.value.value, $0.value.used) }.sorted { $0.name < $1.name }
    }
}
